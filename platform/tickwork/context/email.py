"""``ctx.email``: send an email through SMTP, or keep it in the outbox when SMTP is not configured.

Every email is a ``Message`` row whose idempotency key comes from the execution and the
email's content, so a job re-run after a crash does not send (or bill) the same email twice:

1. claim: insert the row with status ``sending`` in its own short transaction (the unique key
   decides who sends; a row already there is replayed instead, see ``EmailSender._replay``);
2. send it (SMTP) or leave it in the outbox;
3. meter it, then mark the row ``sent`` / ``outbox`` (marked even when metering raises).

A permanent SMTP failure (5xx) marks the row ``failed`` and keeps the key, so a re-run reports
the same failure without sending. A retryable one (4xx, connection trouble) marks the row
``failed`` and releases the key (renames it), so the next attempt can send.
"""

from __future__ import annotations

import hashlib
import json
import re
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tickwork import clock
from tickwork.errors import TickworkError
from tickwork.metering import Meter
from tickwork.models import Message
from tickwork.settings import Settings, SmtpSettings

# Seconds for connecting to the SMTP server and for each reply; a job has at most 300 s in all.
SMTP_TIMEOUT_SECONDS = 20.0
# Recipients of one email: each is billed as one email, and all must fit Message.recipient.
MAX_RECIPIENTS = 10
RECIPIENT_COLUMN_CHARS = 320
MAX_SUBJECT_CHARS = 998  # RFC 5322's line limit
MAX_BODY_CHARS = 1_000_000  # per part (text, html): an email is not a file transfer
# Length of Message.idempotency_key.
KEY_CHARS = 200

_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")


class EmailError(TickworkError):
    """An email could not be sent. ``permanent``: retrying the same email will not help."""

    def __init__(self, message: str, *, permanent: bool, smtp_code: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.smtp_code = smtp_code


# --- the claim protocol, shared with ctx.sms ---------------------------------------------------


@dataclass(frozen=True)
class MessageRow:
    """What the send protocol needs of a ``Message`` row, read inside its session."""

    id: int
    status: str
    transport: str
    recipient: str
    provider_id: str | None
    segments: int
    error: str | None

    @classmethod
    def of(cls, row: Message) -> MessageRow:
        return cls(row.id, row.status, row.transport, row.recipient, row.provider_id, row.segments, row.error)


def claim_message(sessions: sessionmaker[Session], values: Mapping[str, Any]) -> tuple[MessageRow, bool]:
    """Insert a ``Message`` with ``values`` (status ``sending``), committed at once.

    Returns ``(row, True)`` when this call claimed the key, or ``(existing row, False)`` when
    another send (an earlier run of the job) holds it. Retries when the holder releases the
    key between our insert and our read.
    """
    key = values["idempotency_key"]
    failure: IntegrityError | None = None
    for _attempt in range(3):
        try:
            with sessions() as session, session.begin():
                row = Message(**values)
                session.add(row)
                session.flush()
                return MessageRow.of(row), True
        except IntegrityError as error:
            failure = error
        with sessions() as session:
            existing = session.scalar(select(Message).where(Message.idempotency_key == key))
            if existing is not None:
                return MessageRow.of(existing), False
    assert failure is not None
    raise failure  # not the key (a missing account or app row, say): a bug to surface as is


def mark_message(
    sessions: sessionmaker[Session], row_id: int, *, expected: Sequence[str], **values: Any
) -> bool:
    """Update the row if its status is one of ``expected``; False when it was not."""
    with sessions() as session, session.begin():
        result = session.execute(
            update(Message)
            .where(Message.id == row_id, Message.status.in_(tuple(expected)))
            .values(updated_at=clock.now(), **values)
        )
        return bool(getattr(result, "rowcount", 0) == 1)


def release_message(sessions: sessionmaker[Session], row_id: int, key: str, error: str) -> None:
    """Mark a claimed row ``failed`` and free its key, so that a retry can send again.

    The row stays (renamed ``<key>~failed-<id>``) as the record of the failed attempt.
    """
    released = f"{key[: KEY_CHARS - 30]}~failed-{row_id}"
    mark_message(
        sessions, row_id, expected=("sending",), status="failed", error=error, idempotency_key=released
    )


def uncertain_message(sessions: sessionmaker[Session], row_id: int) -> None:
    """A send was interrupted (the worker died, the reply was lost): never resend it blindly."""
    mark_message(
        sessions,
        row_id,
        expected=("sending",),
        status="uncertain",
        error="the send was interrupted; it may or may not have gone out, so it is not sent again",
    )


def content_key(kind: str, execution_id: int | None, parts: Sequence[Any]) -> str:
    """``<kind>:<execution>:<sha256 of the parts>``: the same content in one execution, one key."""
    digest = hashlib.sha256(json.dumps(list(parts), ensure_ascii=False).encode()).hexdigest()
    return f"{kind}:{execution_id}:{digest}"[:KEY_CHARS]


# --- validation ------------------------------------------------------------------------------------


def validate_address(address: object) -> str:
    """A bare email address (``name@example.com``), stripped; EmailError otherwise."""
    if not isinstance(address, str):
        raise EmailError(f"an email address must be a string; got {type(address).__name__}", permanent=True)
    value = address.strip()
    local, _, domain = value.rpartition("@")
    if (
        not local
        or len(local) > 64
        or len(value) > 254
        or not _LOCAL_PART.fullmatch(local)
        or not _DOMAIN.fullmatch(domain)
    ):
        hint = ""
        name, bare = parseaddr(value)
        if name and bare:
            hint = f" (give the bare address {bare!r}, without a display name)"
        elif not value.isascii():
            hint = " (write an international domain in its xn-- form)"
        raise EmailError(f"not a valid email address: {address!r}{hint}", permanent=True)
    return value


def validate_recipients(to: object) -> list[str]:
    """``to`` as a list of distinct addresses (a string is one recipient)."""
    if isinstance(to, str):
        candidates: list[object] = [to]
    elif isinstance(to, list | tuple):
        candidates = list(to)
    else:
        raise EmailError(
            f"'to' must be an address or a list of addresses; got {type(to).__name__}", permanent=True
        )
    if not candidates:
        raise EmailError("'to' is empty: give at least one address", permanent=True)
    recipients: list[str] = []
    for candidate in candidates:
        address = validate_address(candidate)
        if address.lower() not in (seen.lower() for seen in recipients):
            recipients.append(address)
    if len(recipients) > MAX_RECIPIENTS:
        raise EmailError(
            f"an email may have at most {MAX_RECIPIENTS} recipients; got {len(recipients)} "
            "(send several emails)",
            permanent=True,
        )
    if len(", ".join(recipients)) > RECIPIENT_COLUMN_CHARS:
        raise EmailError(
            f"the recipients' addresses together exceed {RECIPIENT_COLUMN_CHARS} characters; "
            "send several emails",
            permanent=True,
        )
    return recipients


def _text(value: object, name: str, *, limit: int, single_line: bool = False) -> str:
    if not isinstance(value, str):
        raise EmailError(f"the email's {name} must be a string; got {type(value).__name__}", permanent=True)
    if not value.strip():
        raise EmailError(f"the email's {name} is empty", permanent=True)
    if single_line and ("\n" in value or "\r" in value):
        raise EmailError(f"the email's {name} must be one line", permanent=True)
    if len(value) > limit:
        raise EmailError(f"the email's {name} is longer than {limit:,} characters", permanent=True)
    return value


# --- sending ---------------------------------------------------------------------------------------


def _smtp_failure(error: Exception, smtp: SmtpSettings) -> EmailError:
    """An SMTP exception as EmailError: 5xx replies are permanent, 4xx and network trouble retryable."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        detail = "; ".join(
            f"{address}: {code} {_reply(reply)}" for address, (code, reply) in error.recipients.items()
        )
        permanent = all(500 <= code < 600 for code in codes)
        return EmailError(
            f"the SMTP server refused every recipient ({detail})",
            permanent=permanent,
            smtp_code=codes[0] if codes else None,
        )
    if isinstance(error, smtplib.SMTPResponseException):
        code = error.smtp_code
        return EmailError(
            f"the SMTP server answered {code} {_reply(error.smtp_error)}",
            permanent=500 <= code < 600,
            smtp_code=code,
        )
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return EmailError(f"the SMTP server {smtp.host}:{smtp.port} does not support {error}", permanent=True)
    if isinstance(error, ssl.SSLCertVerificationError):
        return EmailError(
            f"the SMTP server {smtp.host}:{smtp.port} has a certificate we cannot verify: {error}",
            permanent=True,
        )
    return EmailError(f"could not talk to the SMTP server {smtp.host}:{smtp.port}: {error}", permanent=False)


def _reply(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _build(
    smtp: SmtpSettings, recipients: list[str], subject: str, text: str, html: str | None
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = format_datetime(clock.now())
    sender_domain = parseaddr(smtp.sender)[1].rpartition("@")[2] or "tickwork.local"
    message["Message-ID"] = make_msgid(domain=sender_domain)
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def deliver_smtp(smtp: SmtpSettings, message: EmailMessage, recipients: list[str]) -> dict[str, str]:
    """Send one message: STARTTLS when ``use_tls`` (implicit TLS on port 465), login when configured.

    Returns the recipients the server refused (when it accepted others), with its replies.
    """
    context = ssl.create_default_context()
    try:
        client: smtplib.SMTP
        if smtp.use_tls and smtp.port == 465:
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=SMTP_TIMEOUT_SECONDS, context=context)
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=SMTP_TIMEOUT_SECONDS)
        with client:
            if smtp.use_tls and smtp.port != 465:
                client.starttls(context=context)
            if smtp.username:
                client.login(smtp.username, smtp.password or "")
            refused = client.send_message(message, to_addrs=recipients)
    except (smtplib.SMTPException, OSError) as error:
        raise _smtp_failure(error, smtp) from error
    return {address: f"{code} {_reply(reply)}" for address, (code, reply) in refused.items()}


class EmailSender:
    """``ctx.email`` for one execution."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        meter: Meter,
        *,
        account_id: int,
        app_id: int | None,
        execution_id: int | None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.meter = meter
        self.account_id = account_id
        self.app_id = app_id
        self.execution_id = execution_id

    def send(
        self, to: str | Sequence[str], subject: str, text: str, html: str | None = None
    ) -> dict[str, Any]:
        """Send (or keep in the outbox) one email to ``to``; sending the same email again in the
        same execution returns the first result without sending it twice.

        Returns ``{"id", "status", "transport", "to", "refused", "duplicate"}``; status is
        ``sent``, ``outbox`` or ``uncertain`` (an earlier attempt was cut off mid-send). Raises
        EmailError (``permanent`` tells whether a retry could help).
        """
        recipients = validate_recipients(to)
        subject = _text(subject, "subject", limit=MAX_SUBJECT_CHARS, single_line=True)
        text = _text(text, "text", limit=MAX_BODY_CHARS)
        if html is not None:
            html = _text(html, "html", limit=MAX_BODY_CHARS)
        key = email_key(self.execution_id, recipients, subject, text, html)
        smtp = self.settings.smtp
        row, claimed = claim_message(
            self.sessions,
            {
                "idempotency_key": key,
                "account_id": self.account_id,
                "app_id": self.app_id,
                "execution_id": self.execution_id,
                "channel": "email",
                "transport": "outbox" if smtp is None else "smtp",
                "recipient": ", ".join(recipients),
                "subject": subject,
                "body": text,
                "html": html,
                "status": "sending",
                "segments": 1,
            },
        )
        if not claimed:
            return self._replay(row)

        refused: dict[str, str] = {}
        if smtp is not None:
            try:
                refused = deliver_smtp(smtp, _build(smtp, recipients, subject, text, html), recipients)
            except EmailError as error:
                if error.permanent:
                    mark_message(
                        self.sessions, row.id, expected=("sending",), status="failed", error=str(error)
                    )
                else:
                    release_message(self.sessions, row.id, key, str(error))
                raise
        status = "outbox" if smtp is None else "sent"
        note = "; ".join(f"refused {address}: {reply}" for address, reply in refused.items()) or None
        try:
            self.meter.email(
                key=key,
                account_id=self.account_id,
                execution_id=self.execution_id,
                app_id=self.app_id,
                messages=len(recipients) - len(refused),
            )
        finally:
            mark_message(self.sessions, row.id, expected=("sending", "uncertain"), status=status, error=note)
        return _result(row.id, status, row.transport, recipients, sorted(refused), duplicate=False)

    def _replay(self, row: MessageRow) -> dict[str, Any]:
        """The outcome of the earlier send that holds this email's key; nothing is sent again."""
        recipients = row.recipient.split(", ")
        if row.status == "failed":
            raise EmailError(row.error or "this email failed earlier and is not sent again", permanent=True)
        status = row.status
        if status == "sending":
            uncertain_message(self.sessions, row.id)
            status = "uncertain"
        return _result(row.id, status, row.transport, recipients, [], duplicate=True)


def email_key(
    execution_id: int | None, recipients: Sequence[str], subject: str, text: str, html: str | None
) -> str:
    """The idempotency key of an email (also its metering key)."""
    return content_key("email", execution_id, [list(recipients), subject, text, html])


def _result(
    row_id: int, status: str, transport: str, recipients: list[str], refused: list[str], *, duplicate: bool
) -> dict[str, Any]:
    return {
        "id": row_id,
        "status": status,
        "transport": transport,
        "to": recipients,
        "refused": refused,
        "duplicate": duplicate,
    }
