"""``ctx.sms``: send a text message through Twilio, or keep it in the outbox when Twilio is not configured.

Sends follow the email protocol (``tickwork.context.email``): claim a ``Message`` row under a
key derived from the execution and the content, send, meter, mark. A message Twilio accepted
has its SID stored, and a re-run finds it and sends nothing. A send whose reply was lost
(read timeout, dropped connection) is marked ``uncertain`` rather than resent: a customer
must not get the same text twice.

Segments are estimated here when sending (``count_segments``) and metered at once; Twilio's
``num_segments`` is stored on the row. When TICKWORK_PUBLIC_URL is set, each message asks
Twilio for status callbacks, and the final one corrects the charge (``tickwork.sms_status``).
"""

from __future__ import annotations

import re
from typing import Any

import requests
from sqlalchemy.orm import Session, sessionmaker
from twilio.base.exceptions import TwilioRestException
from twilio.rest.api.v2010.account.message import MessageInstance
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from tickwork.context.email import (
    MessageRow,
    claim_message,
    content_key,
    mark_message,
    release_message,
    uncertain_message,
)
from tickwork.errors import TickworkError
from tickwork.integrations.twilio_transport import close_twilio_client, make_twilio_client
from tickwork.metering import Meter
from tickwork.settings import Settings, TwilioSettings

# E.164: a plus, a country code that does not start with 0, at most 15 digits in all.
E164 = re.compile(r"\+[1-9]\d{6,14}")
MAX_BODY_CHARS = 1600  # Twilio's limit for one concatenated message (error 21617)
_MESSAGING_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")

# GSM 03.38. Basic-table characters take one septet, extension-table characters two (an escape
# and the character); any other character makes the whole message UCS-2 (UTF-16 units).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
# Units in a message sent as one segment, and per segment of a longer (concatenated) message,
# whose segments each lose room to the concatenation header.
GSM7_SINGLE, GSM7_SEGMENT = 160, 153
UCS2_SINGLE, UCS2_SEGMENT = 70, 67
# Where Twilio posts delivery reports (``tickwork.web.twilio_status``), under TICKWORK_PUBLIC_URL.
SMS_STATUS_PATH = "/hooks/twilio/sms-status"


class SmsError(TickworkError):
    """A text message could not be sent. ``permanent``: retrying the same message will not help."""

    def __init__(self, message: str, *, permanent: bool, code: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code


def count_segments(body: str) -> int:
    """The segments a carrier bills for ``body`` (Twilio's rules; at least 1).

    GSM-7 when every character is in the GSM tables (160 septets alone, 153 per segment),
    UCS-2 otherwise (70 UTF-16 units alone, 67 per segment). An escaped GSM character or a
    surrogate pair is never split across two segments.
    """
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in body):
        sizes = [2 if char in GSM7_EXTENSION else 1 for char in body]
        single, per_segment = GSM7_SINGLE, GSM7_SEGMENT
    else:
        sizes = [2 if ord(char) > 0xFFFF else 1 for char in body]
        single, per_segment = UCS2_SINGLE, UCS2_SEGMENT
    if sum(sizes) <= single:
        return 1
    segments, room = 1, per_segment
    for size in sizes:
        if size > room:
            segments, room = segments + 1, per_segment
        room -= size
    return segments


def validate_phone(to: object) -> str:
    if not isinstance(to, str):
        raise SmsError(f"the SMS recipient must be a string; got {type(to).__name__}", permanent=True)
    if not E164.fullmatch(to):
        raise SmsError(
            f"the SMS recipient must be an E.164 phone number such as +16175550123 (a plus, the "
            f"country code and the number, no spaces or dashes); got {to!r}",
            permanent=True,
        )
    return to


def validate_body(body: object) -> str:
    if not isinstance(body, str):
        raise SmsError(f"the SMS body must be a string; got {type(body).__name__}", permanent=True)
    if not body.strip():
        raise SmsError("the SMS body is empty", permanent=True)
    if len(body) > MAX_BODY_CHARS:
        raise SmsError(
            f"the SMS body has {len(body):,} characters; the limit is {MAX_BODY_CHARS:,}", permanent=True
        )
    return body


def sms_key(execution_id: int | None, to: str, body: str) -> str:
    """The idempotency key of a text message (also its metering key)."""
    return content_key("sms", execution_id, [to, body])


def _never_sent(error: requests.RequestException) -> bool:
    """Whether a transport error happened before the request could reach Twilio."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    if isinstance(error, requests.ConnectionError) and not isinstance(error, requests.ReadTimeout):
        cause = error.args[0] if error.args else None
        if isinstance(cause, MaxRetryError):
            cause = cause.reason
        return isinstance(cause, NewConnectionError | ConnectTimeoutError)
    return False


def _twilio_failure(error: TwilioRestException) -> SmsError:
    """4xx answers are permanent (bad number 21211, unsubscribed 21610, ...), 408/429/5xx retryable."""
    status = int(error.status)
    retryable = status in (408, 429) or status >= 500
    code = f" (error {error.code})" if error.code else ""
    return SmsError(
        f"Twilio refused the message{code}: {error.msg}", permanent=not retryable, code=error.code
    )


class SmsSender:
    """``ctx.sms`` for one execution."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        meter: Meter,
        *,
        account_id: int,
        app_id: int | None,
        execution_id: int | None,
        status_callback_url: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.meter = meter
        self.account_id = account_id
        self.app_id = app_id
        self.execution_id = execution_id
        if status_callback_url is None and settings.public_url:
            status_callback_url = settings.public_url + SMS_STATUS_PATH
        self.status_callback_url = status_callback_url

    def send(self, to: str, body: str) -> dict[str, Any]:
        """Send ``body`` to the phone number ``to`` (E.164) once per execution.

        Returns ``{"id", "sid", "status", "segments", "transport", "duplicate"}``: ``sid`` is
        Twilio's message SID (None in the outbox), ``status`` Twilio's (queued, accepted, ...),
        ``outbox``, or ``uncertain`` when an earlier attempt was cut off. Raises SmsError.
        """
        to = validate_phone(to)
        body = validate_body(body)
        key = sms_key(self.execution_id, to, body)
        segments = count_segments(body)
        twilio = self.settings.twilio
        row, claimed = claim_message(
            self.sessions,
            {
                "idempotency_key": key,
                "account_id": self.account_id,
                "app_id": self.app_id,
                "execution_id": self.execution_id,
                "channel": "sms",
                "transport": "outbox" if twilio is None else "twilio",
                "recipient": to,
                "body": body,
                "status": "sending",
                "segments": segments,
            },
        )
        if not claimed:
            return self._replay(row)

        sid: str | None = None
        status, stored_segments = "outbox", segments
        if twilio is not None:
            message = self._create(twilio, row, key, to, body)
            if message is None:
                return _result(row.id, None, "uncertain", segments, row.transport, duplicate=False)
            sid, status = message.sid, str(message.status or "queued")
            stored_segments = _int(message.num_segments) or segments
        try:
            self.meter.sms(
                key=key,
                account_id=self.account_id,
                execution_id=self.execution_id,
                app_id=self.app_id,
                segments=segments,
            )
        finally:
            mark_message(
                self.sessions,
                row.id,
                expected=("sending", "uncertain"),
                status=status,
                provider_id=sid,
                segments=stored_segments,
            )
        return _result(row.id, sid, status, stored_segments, row.transport, duplicate=False)

    def _create(
        self, twilio: TwilioSettings, row: MessageRow, key: str, to: str, body: str
    ) -> MessageInstance | None:
        """Create the message at Twilio; None when the outcome is unknown (row marked uncertain)."""
        options: dict[str, Any] = {"to": to, "body": body}
        if _MESSAGING_SERVICE_SID.fullmatch(twilio.from_number):
            options["messaging_service_sid"] = twilio.from_number
        else:
            options["from_"] = twilio.from_number
        if self.status_callback_url:  # naming the row: a callback finds it even without its SID
            options["status_callback"] = f"{self.status_callback_url}?message={row.id}"
        client = make_twilio_client(twilio.account_sid, twilio.auth_token, base_url=twilio.base_url)
        try:
            return client.messages.create(**options)
        except TwilioRestException as error:
            failure = _twilio_failure(error)
            if failure.permanent:
                mark_message(
                    self.sessions, row.id, expected=("sending",), status="failed", error=str(failure)
                )
            else:
                release_message(self.sessions, row.id, key, str(failure))
            raise failure from error
        except requests.RequestException as error:
            if not _never_sent(error):
                uncertain_message(self.sessions, row.id)
                return None
            failure = SmsError(f"could not reach Twilio: {error}", permanent=False)
            release_message(self.sessions, row.id, key, str(failure))
            raise failure from error
        finally:
            close_twilio_client(client)

    def _replay(self, row: MessageRow) -> dict[str, Any]:
        """The outcome of the earlier send holding this message's key; nothing is sent again."""
        if row.provider_id is not None or row.status == "outbox":
            return _result(row.id, row.provider_id, row.status, row.segments, row.transport, duplicate=True)
        if row.status == "failed":
            raise SmsError(row.error or "this message failed earlier and is not sent again", permanent=True)
        if row.status == "sending":
            uncertain_message(self.sessions, row.id)
        return _result(row.id, None, "uncertain", row.segments, row.transport, duplicate=True)


def _int(value: object) -> int | None:
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def _result(
    row_id: int, sid: str | None, status: str, segments: int, transport: str, *, duplicate: bool
) -> dict[str, Any]:
    return {
        "id": row_id,
        "sid": sid,
        "status": status,
        "segments": segments,
        "transport": transport,
        "duplicate": duplicate,
    }
