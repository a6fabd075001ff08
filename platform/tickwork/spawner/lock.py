"""The spawner lock: several replicas may run, exactly one works.

A Redis key set with NX holds the owner's random token and a short expiry. The holder
refreshes it while it lives (only if the token is still its own), and releases it on a clean
stop so a replica takes over at once; if the holder dies, the key expires and another replica
takes over within ``LOCK_TTL_SECONDS``. redis-py's ``Lock`` implements exactly this with
token-checked Lua scripts, so we use it rather than writing our own.
"""

from __future__ import annotations

import socket
import uuid

import redis
from redis.exceptions import LockError

LOCK_KEY = "tickwork:spawner:lock"
LOCK_TTL_SECONDS = 40.0  # a dead holder's lock frees well within a minute
REFRESH_EVERY_SECONDS = 10.0


class SpawnerLock:
    """One replica's claim on the spawner role."""

    def __init__(self, connection: redis.Redis, key: str = LOCK_KEY, ttl: float = LOCK_TTL_SECONDS) -> None:
        self.owner = f"{socket.gethostname()}:{uuid.uuid4().hex[:12]}"
        self._lock = connection.lock(key, timeout=ttl, thread_local=False)
        self.key = key

    @property
    def held(self) -> bool:
        return bool(self._lock.owned())

    def acquire(self) -> bool:
        """Take the lock if it is free (never waits); True if this replica holds it now."""
        if self.held:
            return self.refresh()
        return bool(self._lock.acquire(blocking=False, token=self.owner))

    def refresh(self) -> bool:
        """Reset the expiry; False if the lock was lost (expired and taken by another)."""
        try:
            return bool(self._lock.reacquire())
        except LockError:
            return False

    def release(self) -> None:
        """Give the lock up now so a replica can take over without waiting for the expiry."""
        try:
            self._lock.release()
        except LockError:
            pass  # it expired or was taken over: nothing of ours left to release
