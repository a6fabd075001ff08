"""Job functions for tests/test_enqueue.py, importable by RQ workers (in-process or forked)."""

from __future__ import annotations

import json
from typing import Any

from rq import get_current_job

CALLS_KEY = "test:enqueue:calls"


def record(**kwargs: Any) -> str:
    """Append (job id, kwargs) to a Redis list, through the worker's own connection."""
    job = get_current_job()
    assert job is not None
    job.connection.rpush(CALLS_KEY, json.dumps([job.id, kwargs], sort_keys=True))
    return "recorded"


def fail(**kwargs: Any) -> None:
    raise RuntimeError(f"failing on purpose with {kwargs}")


def calls(connection: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(job_id, kwargs) for job_id, kwargs in map(json.loads, connection.lrange(CALLS_KEY, 0, -1))]
