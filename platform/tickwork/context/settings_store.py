"""An installation's variables (``ctx.env``) and secrets (``ctx.secrets``).

Both live in ``InstallationSetting`` rows, one name space per installation. A secret's value is
stored as a Fernet token under a key derived from SECRET_KEY: the database never holds it in
clear, no listing shows it, and it is decrypted only when a job reads it. The functions take
the caller's session and do not commit.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator, Mapping
from typing import NamedTuple

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tickwork import clock
from tickwork.errors import BadInput
from tickwork.models import InstallationSetting

NAME = re.compile(r"[A-Z][A-Z0-9_]{0,99}")
MAX_VALUE_CHARS = 10_000


class SettingsStoreError(BadInput):
    """A setting name or value we cannot accept, or a secret we cannot decrypt."""


class SecretBox:
    """Encrypts and decrypts secret values with a Fernet key derived from SECRET_KEY (SHA-256)."""

    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise SettingsStoreError("SECRET_KEY is empty; secrets cannot be encrypted")
        key = base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest())
        self._fernet = Fernet(key)

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeEncodeError):
            raise SettingsStoreError(
                "a stored secret cannot be decrypted: SECRET_KEY changed since it was set "
                "(restore the old SECRET_KEY, or set the secret again)"
            ) from None


class SettingInfo(NamedTuple):
    """One setting as listed: a secret's value is always None."""

    name: str
    kind: str
    value: str | None


def validate_name(name: object) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise SettingsStoreError(
            "a setting name is upper-case letters, digits and underscores, starting with a letter "
            f"and at most 100 characters long (like API_TOKEN); got {name!r}"
        )
    return name


def _validate_value(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise SettingsStoreError(f"the value of {name} must be a string; got {type(value).__name__}")
    if len(value) > MAX_VALUE_CHARS:
        raise SettingsStoreError(f"the value of {name} is longer than {MAX_VALUE_CHARS:,} characters")
    return value


def _get(session: Session, installation_id: int, name: str) -> InstallationSetting | None:
    return session.scalar(
        select(InstallationSetting).where(
            InstallationSetting.installation_id == installation_id, InstallationSetting.name == name
        )
    )


def _put(session: Session, installation_id: int, name: str, kind: str, stored: str) -> None:
    row = _get(session, installation_id, name)
    if row is None:
        session.add(InstallationSetting(installation_id=installation_id, name=name, kind=kind, value=stored))
    elif row.kind != kind:
        raise SettingsStoreError(
            f"{name} is already a {row.kind} of this installation; delete it first to make it a {kind}"
        )
    else:
        row.value = stored
        row.updated_at = clock.now()
    session.flush()


def set_variable(session: Session, installation_id: int, name: str, value: str) -> None:
    """Create or replace the variable ``name`` (read by jobs as ``ctx.env[name]``)."""
    name = validate_name(name)
    _put(session, installation_id, name, "variable", _validate_value(name, value))


def set_secret(session: Session, box: SecretBox, installation_id: int, name: str, value: str) -> None:
    """Create or replace the secret ``name`` (``ctx.secrets[name]``), stored encrypted."""
    name = validate_name(name)
    _put(session, installation_id, name, "secret", box.encrypt(_validate_value(name, value)))


def delete_setting(session: Session, installation_id: int, name: str) -> bool:
    """Remove a variable or secret; False when there was none by that name."""
    result = session.execute(
        delete(InstallationSetting).where(
            InstallationSetting.installation_id == installation_id, InstallationSetting.name == name
        )
    )
    return bool(getattr(result, "rowcount", 0))


def list_settings(session: Session, installation_id: int) -> list[SettingInfo]:
    """The installation's settings by name, variables with their value, secrets without."""
    rows = session.scalars(
        select(InstallationSetting)
        .where(InstallationSetting.installation_id == installation_id)
        .order_by(InstallationSetting.name)
    )
    return [SettingInfo(row.name, row.kind, row.value if row.kind == "variable" else None) for row in rows]


class MissingSetting(KeyError):
    """A job read a variable or secret the installation does not have."""

    def __str__(self) -> str:
        return str(self.args[0])


class SettingsMapping(Mapping[str, str]):
    """Read-only ``ctx.env`` / ``ctx.secrets``.

    A missing name raises MissingSetting (a KeyError) that says how to set it. Secrets are
    decrypted on first read, so one undecryptable secret only fails the jobs that read it; the
    repr shows names only.
    """

    def __init__(self, kind: str, values: Mapping[str, str], box: SecretBox | None = None) -> None:
        self._kind = kind
        self._values = dict(values)
        self._box = box
        self._plain: dict[str, str] = {}

    def __getitem__(self, name: str) -> str:
        if name not in self._values:
            attribute = "env" if self._kind == "variable" else "secrets"
            raise MissingSetting(
                f"ctx.{attribute}[{name!r}] is not set for this installation: add a {self._kind} named "
                f"{name} in the app's settings (admin panel: the app's page, Settings)"
            )
        if self._box is None:
            return self._values[name]
        if name not in self._plain:
            self._plain[name] = self._box.decrypt(self._values[name])
        return self._plain[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._values))

    def __len__(self) -> int:
        return len(self._values)

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __repr__(self) -> str:
        attribute = "env" if self._kind == "variable" else "secrets"
        return f"<ctx.{attribute}: {', '.join(sorted(self._values)) or 'empty'}>"


def load_env(
    session: Session, box: SecretBox, installation_id: int
) -> tuple[SettingsMapping, SettingsMapping]:
    """``(env, secrets)`` of an installation, for one job's context."""
    rows = session.execute(
        select(InstallationSetting.name, InstallationSetting.kind, InstallationSetting.value).where(
            InstallationSetting.installation_id == installation_id
        )
    ).all()
    variables = {name: value for name, kind, value in rows if kind == "variable"}
    secrets = {name: value for name, kind, value in rows if kind == "secret"}
    return SettingsMapping("variable", variables), SettingsMapping("secret", secrets, box)
