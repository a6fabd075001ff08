from __future__ import annotations

import json
from pathlib import Path

import redis
from rq import Queue
from rq.registry import FailedJobRegistry, StartedJobRegistry
from sqlalchemy import create_engine, func, select

from tickwork.bench.worker import APP_SLUG, TRIVIAL_FUNCTION, run
from tickwork.enqueue import QueuedJob, enqueue_jobs
from tickwork.models import App, Execution
from tickwork.queues import QUEUE_NAME
from tickwork.worker import TickworkWorker


def test_worker_benchmark_runs_every_job_on_our_path_and_on_rqs(redis_url: str, tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'bench.db'}"
    result = run(jobs=50, redis_url=redis_url, database_url=database_url, rounds=2)

    assert {"bench", "jobs", "executions_per_s", "baseline", "ratio_vs_rq_worker"} <= set(result)
    assert result["bench"] == "worker" and result["jobs"] == 50 and result["succeeded"] == 50
    # Two interleaved rounds of 25 jobs a kind, each kind first in one of them; medians reported.
    assert [figure["jobs"] for figure in result["rounds"]] == [25, 25]
    assert [figure["order"][0] for figure in result["rounds"]] == ["tickwork", "rq_simpleworker"]
    low, high = result["ratio_vs_rq_worker_range"]
    assert low <= result["ratio_vs_rq_worker"] <= high
    assert set(result["baseline"]) == {"rq_worker_jobs_per_s", "rq_simpleworker_jobs_per_s"}
    for value in (
        result["executions_per_s"],
        result["db_span_executions_per_s"],
        result["ratio_vs_rq_worker"],
        result["ratio_vs_rq_simpleworker"],
        *result["baseline"].values(),
    ):
        assert isinstance(value, int | float) and value > 0
    json.dumps(result)
    assert redis.Redis.from_url(redis_url).dbsize() == 0  # it cleans up after itself

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            app_id = connection.scalar(select(App.id).where(App.slug == APP_SLUG))
            rows = connection.execute(
                select(
                    Execution.status, Execution.source, Execution.slot_key, Execution.app_version_id
                ).where(Execution.app_id == app_id)
            ).all()
            timed = connection.scalar(
                select(func.count()).where(
                    Execution.app_id == app_id,
                    Execution.started_at.is_not(None),
                    Execution.finished_at.is_not(None),
                    Execution.duration_ms.is_not(None),
                )
            )
    finally:
        engine.dispose()
    assert len(rows) == 50 and timed == 50
    assert {(status, source) for status, source, _key, _version in rows} == {("succeeded", "schedule")}
    assert len({key for _status, _source, key, _version in rows}) == 50
    assert all(version is not None for *_rest, version in rows)


def test_our_worker_runs_any_other_rq_job_through_rqs_own_path(redis_url: str) -> None:
    """Only plain Tickwork runs take the lean path; another function's jobs run as RQ runs them."""
    connection = redis.Redis.from_url(redis_url)
    enqueue_jobs(
        connection, QUEUE_NAME, [QueuedJob(f"x{n}", {}, -1) for n in range(3)], func=TRIVIAL_FUNCTION
    )
    worker = TickworkWorker([Queue(QUEUE_NAME, connection=connection)], connection=connection, name="tw-test")
    assert worker.work(burst=True)
    assert connection.llen(f"rq:queue:{QUEUE_NAME}") == 0 and not connection.keys("rq:job:*")
    assert StartedJobRegistry(QUEUE_NAME, connection=connection).count == 0
    assert FailedJobRegistry(QUEUE_NAME, connection=connection).count == 0
    assert int(connection.hget(worker.key, "successful_job_count") or 0) == 3
