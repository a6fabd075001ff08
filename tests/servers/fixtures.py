"""Pytest fixtures for the local OpenAI, Twilio and SMTP servers (loaded as a pytest plugin).

Each fixture starts a fresh server for the test and stops it afterwards, so no test sees
another's records or queued answers; starting one costs a few milliseconds.
``services_env`` also points Tickwork's settings at all three through the environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.servers.openai_server import OpenAIServer
from tests.servers.smtp_server import SMTPServer
from tests.servers.twilio_server import TwilioServer
from tickwork.settings import reset_settings

__all__ = [
    "SMTP_TEST_LOGIN",
    "SMTP_TEST_SENDER",
    "Services",
    "openai_server",
    "services_env",
    "smtp_auth_server",
    "smtp_server",
    "twilio_server",
]

SMTP_TEST_LOGIN = ("tickwork", "smtp-test-password")
SMTP_TEST_SENDER = "Tickwork <noreply@tickwork.test>"


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    """An OpenAI-compatible server: ``openai.OpenAI(base_url=s.base_url, api_key=s.api_key)``."""
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def twilio_server() -> Iterator[TwilioServer]:
    """A Twilio Messages API: ``make_twilio_client(s.account_sid, s.auth_token, base_url=s.base_url)``."""
    with TwilioServer() as server:
        yield server


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    """An SMTP server without AUTH: ``smtplib.SMTP(s.host, s.port)``."""
    with SMTPServer() as server:
        yield server


@pytest.fixture
def smtp_auth_server() -> Iterator[SMTPServer]:
    """An SMTP server that requires AUTH with ``SMTP_TEST_LOGIN`` (no TLS: loopback only)."""
    with SMTPServer(auth=SMTP_TEST_LOGIN) as server:
        yield server


@dataclass(frozen=True)
class Services:
    openai: OpenAIServer
    twilio: TwilioServer
    smtp: SMTPServer


@pytest.fixture
def services_env(
    openai_server: OpenAIServer, twilio_server: TwilioServer, smtp_auth_server: SMTPServer
) -> Iterator[Services]:
    """Set OPENAI_*, TWILIO_* and SMTP_* so ``get_settings()`` points at the three local servers."""
    env = {
        "OPENAI_API_KEY": openai_server.api_key,
        "OPENAI_BASE_URL": openai_server.base_url,
        "TWILIO_ACCOUNT_SID": twilio_server.account_sid,
        "TWILIO_AUTH_TOKEN": twilio_server.auth_token,
        "TWILIO_FROM_NUMBER": twilio_server.from_number,
        "TWILIO_BASE_URL": twilio_server.base_url,
        "SMTP_HOST": smtp_auth_server.host,
        "SMTP_PORT": str(smtp_auth_server.port),
        "SMTP_USERNAME": SMTP_TEST_LOGIN[0],
        "SMTP_PASSWORD": SMTP_TEST_LOGIN[1],
        "SMTP_TLS": "false",
        "SMTP_FROM": SMTP_TEST_SENDER,
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        reset_settings()
        yield Services(openai=openai_server, twilio=twilio_server, smtp=smtp_auth_server)
    reset_settings()
