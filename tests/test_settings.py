from __future__ import annotations

from pathlib import Path

import pytest

from tickwork.errors import ConfigError
from tickwork.settings import load_settings


def test_defaults_use_a_sqlite_file_under_tickwork_home(tmp_path: Path) -> None:
    settings = load_settings({"TICKWORK_HOME": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'tickwork.db'}"
    assert settings.redis_url is None
    assert settings.twilio is None and settings.smtp is None and settings.openai_api_key is None


def test_generated_secret_key_is_kept_for_every_process_of_the_install(tmp_path: Path) -> None:
    first = load_settings({"TICKWORK_HOME": str(tmp_path)}).secret_key
    second = load_settings({"TICKWORK_HOME": str(tmp_path)}).secret_key
    assert first == second and len(first) >= 32


def test_postgres_urls_select_the_psycopg_driver(tmp_path: Path) -> None:
    env = {"TICKWORK_HOME": str(tmp_path), "DATABASE_URL": "postgres://u@db:5432/tickwork"}
    assert load_settings(env).database_url == "postgresql+psycopg://u@db:5432/tickwork"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL must be a URL starting with sqlite://"),
        ({"REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL must be a URL starting with redis://"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY must be at least 16 characters"),
        ({"SMTP_HOST": "mail", "SMTP_PORT": "smtp"}, "SMTP_PORT must be a whole number"),
        ({"SMTP_HOST": "mail", "SMTP_PORT": "70000"}, "SMTP_PORT must be between 1 and 65535"),
        ({"SMTP_PORT": "25"}, "SMTP_PORT is set but SMTP_HOST is not"),
        ({"SMTP_HOST": "mail", "SMTP_TLS": "maybe"}, "SMTP_TLS must be true or false"),
        ({"TWILIO_ACCOUNT_SID": "AC123"}, "set TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER too"),
        (
            {"TWILIO_ACCOUNT_SID": "XX1", "TWILIO_AUTH_TOKEN": "t", "TWILIO_FROM_NUMBER": "+15550001111"},
            "TWILIO_ACCOUNT_SID must start with 'AC'",
        ),
        ({"OPENAI_BASE_URL": "localhost:8080"}, "OPENAI_BASE_URL must be a URL"),
    ],
)
def test_malformed_settings_fail_with_the_variable_named(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("*", r"\*")):
        load_settings({"TICKWORK_HOME": str(tmp_path), **env})


def test_complete_twilio_and_smtp_settings_are_parsed(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "TICKWORK_HOME": str(tmp_path),
            "TWILIO_ACCOUNT_SID": "AC0123",
            "TWILIO_AUTH_TOKEN": "token",
            "TWILIO_FROM_NUMBER": "+15550001111",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": "2525",
            "SMTP_TLS": "off",
        }
    )
    assert settings.twilio is not None and settings.twilio.from_number == "+15550001111"
    assert settings.smtp is not None and settings.smtp.port == 2525 and settings.smtp.use_tls is False
