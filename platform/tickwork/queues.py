"""The Redis connection and the RQ queue every Tickwork role shares.

One queue (``tickwork``) carries scheduled, catch-up, manual and follow-up executions; RQ's
own tools (``rq info -u REDIS_URL``, rq-dashboard) show it like any other RQ queue.
"""

from __future__ import annotations

import redis
from rq import Queue

from tickwork.errors import ConfigError
from tickwork.settings import get_settings

QUEUE_NAME = "tickwork"
RUNNER_FUNCTION = "tickwork.runner.execute"

_connections: dict[str, redis.Redis] = {}


def redis_url() -> str:
    url = get_settings().redis_url
    if url is None:
        raise ConfigError("REDIS_URL is not set (tickwork run starts an embedded Redis and sets it for you)")
    return url


def connection(url: str | None = None) -> redis.Redis:
    """The process's Redis client for ``url`` (default REDIS_URL)."""
    url = url or redis_url()
    if url not in _connections:
        _connections[url] = redis.Redis.from_url(url, health_check_interval=30)
    return _connections[url]


def job_queue(conn: redis.Redis | None = None) -> Queue:
    return Queue(QUEUE_NAME, connection=conn or connection())


def reset_connections() -> None:
    """Drop cached clients (after a fork: a child must not share its parent's sockets)."""
    for client in _connections.values():
        client.close()
    _connections.clear()
