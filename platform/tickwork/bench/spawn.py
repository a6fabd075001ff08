"""How fast the spawner puts a tick's jobs on the RQ queue, and what each costs Redis.

Ours: ``tickwork.enqueue.enqueue_jobs`` (one Lua call per 1,000 jobs, duplicate ids skipped).
Baselines, in the same run on the same Redis: RQ's ``Queue.enqueue_many`` with
``Queue.prepare_data`` in pipelined batches of 1,000, and a plain ``Queue.enqueue`` loop, each
timed on a sample (``sample_jobs``) and reported in jobs per second.

Each job is ``tickwork.runner.execute()`` with no kwargs: the job id already is the
execution key (``rq.get_current_job().id`` in the worker), and an empty kwargs keeps the
job's ``data`` within Redis's 64-byte limit for a compact hash (see ``tickwork.enqueue``).

The Redis part (``time_enqueue_jobs``, ``time_enqueue_many``, ``time_enqueue_loop``) takes
ready-made jobs, so a database fan-out can be timed in front of it separately. Every phase
starts with FLUSHDB: give it a database of its own.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from rq import Queue

from tickwork.embedded_redis import EmbeddedRedis
from tickwork.enqueue import DEFAULT_FUNC, QueuedJob, enqueue_jobs

QUEUE_NAME = "tickwork"
SLOT = "202611231300"
TIMEOUT_SECONDS = 300
RESULT_TTL = 0
FAILURE_TTL = 86400
BATCH = 1000
BASELINE_SAMPLE = 10_000
REPEATS = 3


def bench_jobs(accounts: int) -> list[QueuedJob]:
    """One tick of one (app, job) for ``accounts`` accounts."""
    return [
        QueuedJob(f"s-order-digest-daily_summary-{account}-{SLOT}", {}, TIMEOUT_SECONDS)
        for account in range(accounts)
    ]


def _used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def _fresh(client: redis.Redis) -> None:
    client.flushdb()
    client.set("tickwork:bench:warm", 1)  # the database's first key allocates its tables


def time_enqueue_jobs(
    client: redis.Redis, jobs: list[QueuedJob], repeats: int = REPEATS
) -> tuple[float, float]:
    """Best time of ``enqueue_jobs`` for all ``jobs``, and Redis bytes per queued job."""
    best = float("inf")
    per_job = 0.0
    for _ in range(repeats):
        _fresh(client)
        before = _used_memory(client)
        started = time.perf_counter()
        result = enqueue_jobs(
            client, QUEUE_NAME, jobs, batch_size=BATCH, result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL
        )
        best = min(best, time.perf_counter() - started)
        per_job = (_used_memory(client) - before) / max(len(jobs), 1)
        if len(result.enqueued) != len(jobs):
            raise RuntimeError(f"enqueued {len(result.enqueued)} of {len(jobs)} jobs")
    client.flushdb()
    return best, per_job


def time_enqueue_many(client: redis.Redis, jobs: list[QueuedJob], repeats: int = REPEATS) -> float:
    """Best time of RQ's ``enqueue_many``, one pipeline per ``BATCH`` jobs."""
    queue = Queue(QUEUE_NAME, connection=client)
    prepared = [
        Queue.prepare_data(
            DEFAULT_FUNC,
            kwargs=job.kwargs,
            timeout=job.timeout,
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
            job_id=job.job_id,
        )
        for job in jobs
    ]
    best = float("inf")
    for _ in range(repeats):
        _fresh(client)
        started = time.perf_counter()
        for start in range(0, len(prepared), BATCH):
            queue.enqueue_many(prepared[start : start + BATCH])
        best = min(best, time.perf_counter() - started)
    client.flushdb()
    return best


def time_enqueue_loop(client: redis.Redis, jobs: list[QueuedJob]) -> float:
    """Time of one ``Queue.enqueue`` call per job."""
    queue = Queue(QUEUE_NAME, connection=client)
    _fresh(client)
    started = time.perf_counter()
    for job in jobs:
        queue.enqueue(
            DEFAULT_FUNC,
            kwargs=job.kwargs,
            job_id=job.job_id,
            job_timeout=job.timeout,
            result_ttl=RESULT_TTL,
            failure_ttl=FAILURE_TTL,
        )
    seconds = time.perf_counter() - started
    client.flushdb()
    return seconds


def _per_second(count: int, seconds: float) -> float:
    return round(count / seconds) if seconds > 0 else float("inf")


def measure(client: redis.Redis, accounts: int) -> dict[str, Any]:
    jobs = bench_jobs(accounts)
    sample = jobs[: min(accounts, BASELINE_SAMPLE)]
    seconds, bytes_per_job = time_enqueue_jobs(client, jobs)
    many_seconds = time_enqueue_many(client, sample)
    loop_seconds = time_enqueue_loop(client, sample)
    jobs_per_s = _per_second(len(jobs), seconds)
    many_per_s = _per_second(len(sample), many_seconds)
    return {
        "bench": "spawn",
        "jobs": len(jobs),
        "seconds": round(seconds, 4),
        "jobs_per_s": jobs_per_s,
        "baseline": {
            "enqueue_many_jobs_per_s": many_per_s,
            "enqueue_jobs_per_s": _per_second(len(sample), loop_seconds),
            "sample_jobs": len(sample),
        },
        "ratio_vs_enqueue_many": round(jobs_per_s / many_per_s, 2),
        "redis_bytes_per_queued_job": round(bytes_per_job, 1),
    }


def run(accounts: int = 100_000, redis_url: str | None = None) -> dict[str, Any]:
    """The spawn benchmark on ``redis_url`` (FLUSHDB-ed), or on an embedded redis-server."""
    if accounts < 1:
        raise ValueError(f"accounts must be at least 1: {accounts}")
    if redis_url is not None:
        client = redis.Redis.from_url(redis_url)
        try:
            return measure(client, accounts)
        finally:
            client.close()
    with tempfile.TemporaryDirectory(prefix="tickwork-bench-redis-") as directory:
        with EmbeddedRedis(Path(directory), appendonly=False) as server:
            return run(accounts, server.url)
