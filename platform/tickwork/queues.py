"""The Redis connection and the RQ queue every Tickwork role shares.

One queue (``tickwork``) carries scheduled, catch-up, manual and follow-up executions; RQ's
own tools (``rq info -u REDIS_URL``, rq-dashboard) show it like any other RQ queue.
"""

from __future__ import annotations

from datetime import timedelta

import redis
from rq import Queue

from tickwork.errors import ConfigError
from tickwork.settings import get_settings

QUEUE_NAME = "tickwork"
RUNNER_FUNCTION = "tickwork.runner.execute"
MAX_JOBS_PER_PROCESS = 2000  # then the process is replaced: leaks cannot build up

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


FAILED_JOB_TTL_SECONDS = 86400  # RQ keeps a failed job a day; the outcome lives in the database


def execution_job_id(execution_id: int, attempts: int) -> str:
    """The RQ job id of a recorded execution's next attempt: ``e<id>`` for its first (a manual,
    API or follow-up run), ``r<id>-<n>`` for attempt n of a retry."""
    return f"e{execution_id}" if attempts == 0 else f"r{execution_id}-{attempts + 1}"


def enqueue_execution(conn: redis.Redis, execution_id: int, job_id: str, delay_seconds: float = 0) -> None:
    """Queue a recorded execution (manual, follow-up, retry); after ``delay_seconds`` if given.

    Nothing of the job stays in Redis once it finishes (``result_ttl=0``), and RQ applies no
    timeout of its own (``-1``): the runner enforces the job's.
    """
    queue = job_queue(conn)
    options = {
        "kwargs": {"execution": execution_id},
        "job_id": job_id,
        "result_ttl": 0,
        "failure_ttl": FAILED_JOB_TTL_SECONDS,
        "job_timeout": -1,
    }
    if delay_seconds > 0:
        queue.enqueue_in(timedelta(seconds=delay_seconds), RUNNER_FUNCTION, **options)
    else:
        queue.enqueue(RUNNER_FUNCTION, **options)


def reset_connections() -> None:
    """Drop cached clients (after a fork: a child must not share its parent's sockets)."""
    for client in _connections.values():
        client.close()
    _connections.clear()
