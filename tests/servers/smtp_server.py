"""A real SMTP server for tests (aiosmtpd), reached with ``smtplib`` like any mail server.

It records every accepted message with its envelope and the parsed ``EmailMessage``. With
``auth=(username, password)`` it offers AUTH PLAIN/LOGIN without TLS (loopback only) and
refuses MAIL FROM until the client has logged in, as a submission server does.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from types import TracebackType
from typing import Any, Self, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.servers import LOOPBACK

SERVER_HOSTNAME = "smtp.tickwork.test"  # given, so aiosmtpd does not ask DNS for our FQDN


@dataclass(frozen=True)
class ReceivedEmail:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes
    login: str | None  # the AUTH username, when the client logged in

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    @property
    def text(self) -> str | None:
        """The text/plain body, if any."""
        part = self.message.get_body(("plain",))
        return None if part is None else str(cast(EmailMessage, part).get_content())

    @property
    def html(self) -> str | None:
        """The text/html body, if any."""
        part = self.message.get_body(("html",))
        return None if part is None else str(cast(EmailMessage, part).get_content())


class _FreePortController(Controller):
    """aiosmtpd's Controller, bound to a port the OS picks (it only supports fixed ports)."""

    def _trigger_server(self) -> None:
        # The listening socket exists by now: learn its port before the start-up probe uses it.
        if not isinstance(self.server, asyncio.Server) or not self.server.sockets:
            raise RuntimeError("aiosmtpd did not create a listening socket")
        self.port = int(self.server.sockets[0].getsockname()[1])
        super()._trigger_server()


class _Handler:
    """aiosmtpd hooks: enforce AUTH when configured, then record or reject each message."""

    def __init__(self, owner: SMTPServer) -> None:
        self.owner = owner

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        if self.owner.auth is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return self.owner._accept(session, envelope)


class SMTPServer:
    """An SMTP server on 127.0.0.1:<free port> in a background thread."""

    def __init__(self, auth: tuple[str, str] | None = None) -> None:
        self.auth = auth
        self._condition = threading.Condition()
        self._messages: list[ReceivedEmail] = []
        self._rejections: deque[str] = deque()
        self._controller: _FreePortController | None = None

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def port(self) -> int:
        if self._controller is None:
            raise RuntimeError("the SMTP server is not running; call start() first")
        return int(self._controller.port)

    @property
    def username(self) -> str | None:
        return None if self.auth is None else self.auth[0]

    @property
    def password(self) -> str | None:
        return None if self.auth is None else self.auth[1]

    @property
    def messages(self) -> list[ReceivedEmail]:
        """Messages accepted so far, oldest first (a copy)."""
        with self._condition:
            return list(self._messages)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedEmail]:
        """Wait until at least ``count`` messages arrived (for senders in other threads/processes)."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while len(self._messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"expected {count} email(s) within {timeout}s, got {len(self._messages)}"
                    )
                self._condition.wait(remaining)
            return list(self._messages)

    def reject_next(self, reply: str = "451 4.3.0 Temporary failure, try again later") -> None:
        """Answer the next message's DATA with ``reply`` (4xx: retryable, 5xx: permanent)."""
        with self._condition:
            self._rejections.append(reply)

    def reset(self) -> None:
        with self._condition:
            self._messages.clear()
            self._rejections.clear()

    def start(self) -> Self:
        if self._controller is not None:
            raise RuntimeError("the SMTP server is already running")
        options: dict[str, Any] = {}
        if self.auth is not None:
            # Plain-text AUTH is only acceptable because the server listens on loopback.
            options = {"authenticator": self._authenticate, "auth_require_tls": False}
        controller = _FreePortController(
            _Handler(self), hostname=LOOPBACK, port=0, server_hostname=SERVER_HOSTNAME, **options
        )
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop the server thread and its event loop; safe to call twice."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        expected = self.auth
        if (
            expected is not None
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login.decode(), auth_data.password.decode()) == expected
        ):
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    def _accept(self, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        # SMTP lines end in CRLF; parse with the newlines Python's email API expects.
        message = BytesParser(policy=default_policy).parsebytes(raw.replace(b"\r\n", b"\n"))
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        with self._condition:
            if self._rejections:
                return self._rejections.popleft()
            self._messages.append(
                ReceivedEmail(
                    mail_from=envelope.mail_from or "",
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    message=message,
                    raw=raw,
                    login=login,
                )
            )
            self._condition.notify_all()
        return f"250 2.0.0 OK: queued as {uuid.uuid4().hex[:12]}"
