"""Settings: defaults in code, overridden by environment variables parsed strictly.

A malformed value fails at start-up with a message naming the variable, rather than
surfacing later as a confusing error deep inside a job. ``get_settings()`` reads the
environment once and caches; tests call ``reset_settings()`` after changing it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from tickwork.errors import ConfigError

# The repository's own apps/ folder: the default catalog when running from a checkout.
_REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_APPS_DIR = _REPO_ROOT / "apps"
DEFAULT_RATES_FILE = _REPO_ROOT / "config" / "rates.toml"


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    sender: str


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str
    from_number: str
    base_url: str | None  # only tests and staging point the client elsewhere


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    redis_url: str | None  # None: start the embedded Redis server (``tickwork run`` only)
    apps_dir: Path
    rates_file: Path
    secret_key: str
    openai_api_key: str | None
    openai_base_url: str | None
    twilio: TwilioSettings | None
    smtp: SmtpSettings | None
    http_allow_private: bool = False
    retry_backoff_seconds: tuple[int, ...] = (10, 60, 300, 900, 1800)
    public_url: str | None = None  # where the web app is reached from outside (Twilio's callbacks)
    keep_executions_days: int = 90  # the spawner prunes finished executions older; 0 keeps them all

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    value = _text(env, name)
    if value is None:
        return None
    scheme = urlsplit(value).scheme.split("+")[0]
    if scheme not in schemes:
        allowed = ", ".join(f"{s}://" for s in schemes)
        raise ConfigError(f"{name} must be a URL starting with {allowed}; got {value!r}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    value = _text(env, name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number; got {value!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name} must be between {low} and {high}; got {number}")
    return number


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = _text(env, name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false; got {value!r}")


def _seconds_list(env: Mapping[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    value = _text(env, name)
    if value is None:
        return default
    try:
        numbers = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise ConfigError(
            f"{name} must be whole seconds separated by commas, e.g. 10,60,300; got {value!r}"
        ) from None
    if not numbers or any(number < 0 or number > 86400 for number in numbers):
        raise ConfigError(f"{name} takes 1 or more waits of 0 to 86400 seconds; got {value!r}")
    return numbers


def _smtp(env: Mapping[str, str]) -> SmtpSettings | None:
    host = _text(env, "SMTP_HOST")
    if host is None:
        for name in ("SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD"):
            if _text(env, name):
                raise ConfigError(f"{name} is set but SMTP_HOST is not; set SMTP_HOST to send email")
        return None
    return SmtpSettings(
        host=host,
        port=_int(env, "SMTP_PORT", 587, 1, 65535),
        username=_text(env, "SMTP_USERNAME"),
        password=_text(env, "SMTP_PASSWORD"),
        use_tls=_bool(env, "SMTP_TLS", True),
        sender=_text(env, "SMTP_FROM") or "Tickwork <noreply@tickwork.local>",
    )


def _twilio(env: Mapping[str, str]) -> TwilioSettings | None:
    names = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER")
    values = {name: _text(env, name) for name in names}
    present = [name for name, value in values.items() if value]
    if not present:
        return None
    missing = [name for name in names if not values[name]]
    if missing:
        needed = ", ".join(missing)
        raise ConfigError(f"Twilio is partly configured: set {needed} too (or unset every TWILIO_*)")
    sid = values["TWILIO_ACCOUNT_SID"] or ""
    if not sid.startswith("AC"):
        raise ConfigError("TWILIO_ACCOUNT_SID must start with 'AC'")
    return TwilioSettings(
        account_sid=sid,
        auth_token=values["TWILIO_AUTH_TOKEN"] or "",
        from_number=values["TWILIO_FROM_NUMBER"] or "",
        base_url=_url(env, "TWILIO_BASE_URL", ("http", "https")),
    )


def _public_url(env: Mapping[str, str]) -> str | None:
    """TICKWORK_PUBLIC_URL: scheme and host (and an optional path prefix), no trailing slash.

    Twilio signs its callbacks with the URL it was given, so this must be exactly the address
    the outside world uses, behind any proxy.
    """
    value = _url(env, "TICKWORK_PUBLIC_URL", ("http", "https"))
    if value is None:
        return None
    parts = urlsplit(value)
    if not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            f"TICKWORK_PUBLIC_URL must look like https://host[:port][/prefix], with no query; got {value!r}"
        )
    return value.rstrip("/")


def _secret_key(env: Mapping[str, str], home: Path) -> str:
    """SECRET_KEY, or a key generated once and kept in TICKWORK_HOME for a laptop install.

    Every process of one installation must share the key (it signs sessions and encrypts
    app secrets at rest), so a fresh random key per process would be wrong.
    """
    value = _text(env, "SECRET_KEY")
    if value is not None:
        if len(value) < 16:
            raise ConfigError("SECRET_KEY must be at least 16 characters long")
        return value
    key_file = home / "secret_key"
    try:
        if key_file.exists():
            return key_file.read_text().strip()
        home.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        key_file.touch(mode=0o600)
        key_file.write_text(key)
        return key
    except OSError as error:
        raise ConfigError(f"SECRET_KEY is not set and {key_file} cannot be used: {error}") from None


def with_driver(database_url: str) -> str:
    """A PostgreSQL URL naming the driver Tickwork ships (psycopg 3): SQLAlchemy would pick
    psycopg2 for a bare ``postgresql://``. Other URLs are returned as they are."""
    for scheme in ("postgres://", "postgresql://"):
        if database_url.startswith(scheme):
            return "postgresql+psycopg://" + database_url.removeprefix(scheme)
    return database_url


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from ``env`` (default ``os.environ``), raising ConfigError on bad values."""
    env = os.environ if env is None else env
    home = Path(_text(env, "TICKWORK_HOME") or "var").expanduser().resolve()
    database_url = _url(env, "DATABASE_URL", ("sqlite", "postgresql", "postgres"))
    if database_url is None:
        database_url = f"sqlite:///{home / 'tickwork.db'}"
    database_url = with_driver(database_url)
    apps_dir = Path(_text(env, "APPS_DIR") or DEFAULT_APPS_DIR).expanduser().resolve()
    return Settings(
        home=home,
        database_url=database_url,
        redis_url=_url(env, "REDIS_URL", ("redis", "rediss", "unix")),
        apps_dir=apps_dir,
        rates_file=Path(_text(env, "TICKWORK_RATES") or DEFAULT_RATES_FILE).expanduser().resolve(),
        secret_key=_secret_key(env, home),
        openai_api_key=_text(env, "OPENAI_API_KEY"),
        openai_base_url=_url(env, "OPENAI_BASE_URL", ("http", "https")),
        twilio=_twilio(env),
        smtp=_smtp(env),
        http_allow_private=_bool(env, "HTTP_ALLOW_PRIVATE", False),
        retry_backoff_seconds=_seconds_list(env, "TICKWORK_RETRY_BACKOFF", (10, 60, 300, 900, 1800)),
        public_url=_public_url(env),
        keep_executions_days=_int(env, "TICKWORK_KEEP_EXECUTIONS_DAYS", 90, 0, 36_500),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    return load_settings()


def reset_settings() -> None:
    """Forget cached settings so the next ``get_settings()`` re-reads the environment."""
    get_settings.cache_clear()
