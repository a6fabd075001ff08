"""A Twilio-shaped HTTP server for tests, reached through the official ``twilio`` client.

It serves the Messages resource of API 2010-04-01 (create and fetch) with HTTP basic auth,
Twilio's JSON shapes and error codes, and counts segments the way Twilio bills them. Point
the client at it with ``tickwork.integrations.twilio_transport.make_twilio_client(...,
base_url=server.base_url)``. ``deliver()`` then plays Twilio's side of a delivery: it posts
a status callback signed with X-Twilio-Signature, as ``twilio.request_validator`` checks it.
"""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from twilio.request_validator import RequestValidator
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from tests.servers import LOOPBACK, LocalWSGIServer, RecordedRequest

API_VERSION = "2010-04-01"
DEFAULT_FROM_NUMBER = "+15005550006"  # Twilio's documented "valid sender" test number

# E.164: a plus, a non-zero country digit, at most 15 digits in all (Twilio error 21211 otherwise).
E164 = re.compile(r"\+[1-9]\d{6,14}")
_ALPHANUMERIC_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")
_SHORT_CODE = re.compile(r"\d{5,6}")
_MESSAGING_SERVICE_SID = re.compile(r"MG[0-9a-f]{32}")
MAX_BODY_CHARS = 1600  # Twilio's limit for a concatenated body (error 21617)

# GSM 03.38: characters of the basic table cost one septet, those of the extension table two
# (an escape plus the character). Any other character switches the whole message to UCS-2.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
# Units per segment: one part alone, or each part of a concatenated message (the rest of
# a part carries the concatenation header).
GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


def is_gsm7(body: str) -> bool:
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in body)


def count_segments(body: str) -> int:
    """How many SMS segments Twilio bills for ``body``.

    GSM-7: 160 septets alone, 153 per part. UCS-2: 70 UTF-16 units alone, 67 per part. A
    character is never split across parts (an escaped GSM character, a surrogate pair).
    """
    if is_gsm7(body):
        units = [2 if char in GSM7_EXTENSION else 1 for char in body]
        single, part = GSM7_SINGLE, GSM7_PART
    else:
        units = [2 if ord(char) > 0xFFFF else 1 for char in body]
        single, part = UCS2_SINGLE, UCS2_PART
    if sum(units) <= single:
        return 1
    segments, used = 1, 0
    for size in units:
        if used + size > part:
            segments, used = segments + 1, 0
        used += size
    return segments


def _twilio_date(moment: datetime) -> str:
    """RFC 2822 as Twilio writes it: ``Thu, 30 Jul 2015 20:12:31 +0000``."""
    return format_datetime(moment.astimezone(UTC))


def _new_sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


@dataclass
class SmsMessage:
    """A message the server accepted, with the form fields it was created from."""

    sid: str
    account_sid: str
    to: str
    from_: str | None
    body: str
    messaging_service_sid: str | None
    status: str
    num_segments: int
    status_callback: str | None
    date_created: datetime
    date_updated: datetime
    error_code: int | None = None
    form: dict[str, str] = field(default_factory=dict)

    def resource(self) -> dict[str, Any]:
        """The JSON Twilio returns for this message (the fields ``MessageInstance`` reads)."""
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": _twilio_date(self.date_created),
            "date_sent": None,
            "date_updated": _twilio_date(self.date_updated),
            "direction": "outbound-api",
            "error_code": self.error_code,
            "error_message": None,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(self.num_segments),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
            "to": self.to,
            "uri": f"{uri}.json",
        }


@dataclass(frozen=True)
class StatusCallback:
    """A status callback as Twilio would send it: where, which form fields, which signature."""

    url: str
    params: dict[str, str]
    signature: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Twilio-Signature": self.signature, "Content-Type": "application/x-www-form-urlencoded"}


class TwilioApiError(Exception):
    """An error answer in Twilio's legacy JSON shape, which twilio-python turns into TwilioRestException."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> Response:
        payload = {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }
        return Response(json.dumps(payload), status=self.status, mimetype="application/json")


class TwilioServer(LocalWSGIServer):
    """A stand-in for api.twilio.com's Messages resource on 127.0.0.1."""

    name = "twilio"

    def __init__(self, account_sid: str | None = None, auth_token: str | None = None) -> None:
        super().__init__()
        self.account_sid = account_sid or _new_sid("AC")
        self.auth_token = auth_token or uuid.uuid4().hex
        self.from_number = DEFAULT_FROM_NUMBER
        self._lock = threading.Lock()
        self._messages: dict[str, SmsMessage] = {}
        self._requests: list[RecordedRequest] = []
        self._errors: deque[TwilioApiError] = deque()
        self._lose_responses = 0
        messages = f"/{API_VERSION}/Accounts/<account_sid>/Messages"
        self._routes = Map(
            [
                Rule(f"{messages}.json", methods=["POST"], endpoint="create"),
                Rule(f"{messages}/<sid>.json", methods=["GET"], endpoint="fetch"),
            ]
        )

    @property
    def base_url(self) -> str:
        """What to give ``make_twilio_client(base_url=...)`` (and TWILIO_BASE_URL)."""
        return self.url

    @property
    def messages(self) -> list[SmsMessage]:
        """Messages accepted so far, oldest first (copies: later callbacks do not change them)."""
        with self._lock:
            return [dataclasses.replace(m, form=dict(m.form)) for m in self._messages.values()]

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, accepted or not; ``json`` holds the form fields."""
        with self._lock:
            return list(self._requests)

    def message(self, sid: str) -> SmsMessage:
        with self._lock:
            if sid not in self._messages:
                raise LookupError(f"the test Twilio server has no message {sid}")
            found = self._messages[sid]
            return dataclasses.replace(found, form=dict(found.form))

    def queue_error(self, status: int, code: int, message: str) -> None:
        """Fail the next message create with this Twilio error (e.g. 429/20429, 400/21610)."""
        with self._lock:
            self._errors.append(TwilioApiError(status, code, message))

    def lose_next_response(self) -> None:
        """Accept the next message create, then drop the connection before answering: the
        client cannot know whether the text went out (it did)."""
        with self._lock:
            self._lose_responses += 1

    def reset(self) -> None:
        with self._lock:
            self._messages.clear()
            self._requests.clear()
            self._errors.clear()
            self._lose_responses = 0

    # --- status callbacks -----------------------------------------------------------------

    def status_callback(
        self,
        sid: str,
        status: str = "delivered",
        num_segments: int | None = None,
        error_code: int | None = None,
    ) -> StatusCallback:
        """The signed callback Twilio would send for ``sid`` reaching ``status`` (not sent).

        Useful to post through Flask's test client; ``deliver()`` sends it over HTTP.
        """
        message = self.message(sid)
        if not message.status_callback:
            raise LookupError(f"message {sid} was created without a StatusCallback")
        params = {
            "AccountSid": message.account_sid,
            "ApiVersion": API_VERSION,
            "From": message.from_ or "",
            "MessageSid": message.sid,
            "MessageStatus": status,
            "NumSegments": str(message.num_segments if num_segments is None else num_segments),
            "SmsSid": message.sid,
            "SmsStatus": status,
            "To": message.to,
        }
        if message.messaging_service_sid:
            params["MessagingServiceSid"] = message.messaging_service_sid
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        signature = RequestValidator(self.auth_token).compute_signature(message.status_callback, params)
        return StatusCallback(message.status_callback, params, signature)

    def deliver(
        self,
        sid: str,
        status: str = "delivered",
        num_segments: int | None = None,
        *,
        error_code: int | None = None,
        timeout: float = 5.0,
    ) -> int:
        """Move ``sid`` to ``status`` and POST the signed callback; return the HTTP status received.

        Callbacks only go to 127.0.0.1, like every request the harness makes.
        """
        callback = self.status_callback(sid, status, num_segments, error_code)
        host = urllib.parse.urlsplit(callback.url).hostname
        if host != LOOPBACK:
            raise ValueError(f"the test Twilio server only posts callbacks to {LOOPBACK}; got {callback.url}")
        with self._lock:
            stored = self._messages[sid]
            stored.status, stored.error_code = status, error_code
            stored.num_segments = int(callback.params["NumSegments"])
            stored.date_updated = datetime.now(UTC)
        request = urllib.request.Request(
            callback.url,
            data=urllib.parse.urlencode(callback.params).encode(),
            headers={**callback.headers, "User-Agent": "TwilioProxy/1.1"},
            method="POST",
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never an env proxy
        try:
            with opener.open(request, timeout=timeout) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            with error:
                return int(error.code)

    # --- HTTP -----------------------------------------------------------------------------

    def wsgi_app(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        try:
            response = self._dispatch(request)
        except TwilioApiError as error:
            response = error.response()
            if error.status == 401:
                response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        headers = {name.lower(): value for name, value in request.headers.items()}
        form = {key: request.form[key] for key in request.form}
        with self._lock:
            self._requests.append(
                RecordedRequest(method=request.method, path=request.path, headers=headers, json=form)
            )
        try:
            endpoint, args = self._routes.bind_to_environ(request.environ).match()
        except HTTPException:
            raise TwilioApiError(404, 20404, f"The requested resource {request.path} was not found") from None
        auth = request.authorization
        if auth is None or (auth.username, auth.password) != (self.account_sid, self.auth_token):
            raise TwilioApiError(401, 20003, "Authenticate")
        if args["account_sid"] != self.account_sid:
            raise TwilioApiError(404, 20404, f"The requested resource {request.path} was not found")
        if endpoint == "create":
            created = self._create(form)
            with self._lock:
                lose, self._lose_responses = self._lose_responses > 0, max(0, self._lose_responses - 1)
            if lose:
                connection = request.environ["werkzeug.socket"]
                connection.shutdown(socket.SHUT_RDWR)  # created, but the answer never arrives
                connection.close()
            return created
        with self._lock:
            message = self._messages.get(args["sid"])
        if message is None:
            raise TwilioApiError(404, 20404, f"The requested resource {request.path} was not found")
        return Response(json.dumps(message.resource()), status=200, mimetype="application/json")

    def _create(self, form: dict[str, str]) -> Response:
        to, sender, body = form.get("To", ""), form.get("From"), form.get("Body", "")
        service = form.get("MessagingServiceSid")
        if not to:
            raise TwilioApiError(400, 21604, "A 'To' phone number is required.")
        if not E164.fullmatch(to):
            raise TwilioApiError(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not sender and not service:
            raise TwilioApiError(400, 21603, "A 'From' phone number is required.")
        if sender and not any(p.fullmatch(sender) for p in (E164, _ALPHANUMERIC_SENDER, _SHORT_CODE)):
            raise TwilioApiError(400, 21212, f"Invalid From Number (caller ID): {sender}")
        if service and not _MESSAGING_SERVICE_SID.fullmatch(service):
            raise TwilioApiError(400, 21701, f"The Messaging Service Sid {service} is invalid.")
        if not body.strip():
            raise TwilioApiError(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY_CHARS:
            raise TwilioApiError(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        callback = form.get("StatusCallback")
        if callback is not None and urllib.parse.urlsplit(callback).scheme not in ("http", "https"):
            raise TwilioApiError(400, 21609, f"Invalid StatusCallback url: {callback}")
        with self._lock:
            if self._errors:
                raise self._errors.popleft()
            now = datetime.now(UTC)
            message = SmsMessage(
                sid=_new_sid("SM"),
                account_sid=self.account_sid,
                to=to,
                from_=sender,
                body=body,
                messaging_service_sid=service,
                status="queued" if sender else "accepted",
                num_segments=count_segments(body),
                status_callback=callback,
                date_created=now,
                date_updated=now,
                form=dict(form),
            )
            self._messages[message.sid] = message
        return Response(json.dumps(message.resource()), status=201, mimetype="application/json")
