"""Login throttling: after repeated failures an email (or an address) waits before trying again.

Counts live in Redis so every web process shares them; each counter expires on its own,
so a locked-out user is let back in after the window without anyone resetting anything.
"""

from __future__ import annotations

import hashlib

import redis

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
_PREFIX = "tickwork:login-failures:"


def _keys(email: str, address: str) -> list[str]:
    email_digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return [f"{_PREFIX}email:{email_digest}", f"{_PREFIX}ip:{address}"]


def retry_after(conn: redis.Redis, email: str, address: str) -> int:
    """Seconds until this email or address may try again; 0 when it may try now."""
    wait = 0
    for key, count in zip(_keys(email, address), conn.mget(_keys(email, address)), strict=True):
        if count is not None and int(count) >= _limit(key):
            wait = max(wait, int(conn.ttl(key)), 1)
    return wait


def record_failure(conn: redis.Redis, email: str, address: str) -> None:
    pipe = conn.pipeline()
    for key in _keys(email, address):
        pipe.set(key, 0, ex=WINDOW_SECONDS, nx=True)  # the window starts at the first failure
        pipe.incr(key)
    pipe.execute()


def clear(conn: redis.Redis, email: str, address: str) -> None:
    conn.delete(_keys(email, address)[0])


def _limit(key: str) -> int:
    """An address may fail more often than one email: several people can share an address."""
    return MAX_FAILURES * 4 if ":ip:" in key else MAX_FAILURES
