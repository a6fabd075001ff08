"""API keys: random secrets shown once, stored as SHA-256 digests.

A key is 32 random bytes, so a fast digest is enough to store it safely (unlike a password,
it cannot be guessed from a dictionary), and the lookup is one indexed query per request.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from tickwork import clock
from tickwork.errors import BadInput
from tickwork.models import ApiKey, User

KEY_PREFIX = "tkw_"
PREFIX_LENGTH = 12  # "tkw_" and 8 characters: enough to tell keys apart in a list


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, user: User, name: str = "") -> tuple[ApiKey, str]:
    """A new key for ``user``; the plain key is returned once and never stored."""
    name = name.strip() or "API key"
    if len(name) > 100:
        raise BadInput("a key's name has at most 100 characters")
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(user_id=user.id, name=name, prefix=plain[:PREFIX_LENGTH], key_hash=digest(plain))
    session.add(key)
    session.flush()
    return key, plain


def verify(session: Session, presented: str) -> ApiKey | None:
    """The active key matching ``presented``, its last use recorded; None when unknown or revoked."""
    if not presented.startswith(KEY_PREFIX) or len(presented) > 200:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest(presented)))
    if key is None or not key.is_active:
        return None
    key.last_used_at = clock.now()
    return key


def keys_of(session: Session, user_ids: list[int]) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.user_id.in_(user_ids)).order_by(ApiKey.id)))


def revoke(session: Session, key: ApiKey) -> bool:
    """Revoke ``key``; False when it was revoked already."""
    if key.revoked_at is not None:
        return False
    key.revoked_at = clock.now()
    session.flush()
    return True
