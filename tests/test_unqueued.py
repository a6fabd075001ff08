"""A recorded execution whose RQ job is gone is queued again by the spawner, not left waiting.

"Run now" with Redis unreachable, a retry that could not be queued, and an RQ job that failed
before the runner could claim it: each leaves an execution ``queued`` in the database with
nothing in Redis to run it. The spawner's sweep queues it at its second sighting (a minute
apart), and a worker then runs it once. Real Redis, both lanes.
"""

from __future__ import annotations

from datetime import timedelta

import redis
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import select

from tickwork import clock
from tickwork.db import session_factory
from tickwork.embedded_redis import free_port
from tickwork.models import App, Execution
from tickwork.queues import QUEUE_NAME, enqueue_execution
from tickwork.runner import enqueue_run
from tickwork.spawner.loop import tick_and_recover
from tickwork.spawner.tick import Spawner, floor_minute
from tickwork.spawner.unqueued import UnqueuedExecutions

from .conftest import Database
from .test_spawn_and_run import probe

__all__ = ["probe"]  # fixture used here

UNREACHABLE = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)


def probe_app(db: Database) -> int:
    with db.session() as session:
        return session.scalars(select(App.id).where(App.slug == "probe")).one()


def queued_ids(client: redis.Redis) -> list[str]:
    return [raw.decode() for raw in client.lrange(f"rq:queue:{QUEUE_NAME}", 0, -1)]


def perform_queued(client: redis.Redis) -> None:
    for job_id in queued_ids(client):
        Job.fetch(job_id, connection=client).perform()


def status_of(db: Database, execution_id: int) -> tuple[str, int]:
    with db.session() as session:
        row = session.get(Execution, execution_id)
        assert row is not None
        return row.status, row.attempts


def test_run_now_while_redis_is_away_is_recorded_then_queued_by_the_sweep_and_runs_once(
    db: Database, redis_conn: redis.Redis, probe: dict[str, int]
) -> None:
    execution_id = enqueue_run(
        session_factory(), UNREACHABLE, app_id=probe_app(db), job="half_past",
        account_id=probe["Acme"], source="manual",
    )  # fmt: skip
    assert status_of(db, execution_id) == ("queued", 0), "recorded, though Redis was away"
    assert queued_ids(redis_conn) == []

    sweep = UnqueuedExecutions()
    with db.session() as session:
        assert sweep.sweep(session, redis_conn, QUEUE_NAME) == 0, "first sighting: it may be queuing now"
        assert sweep.sweep(session, redis_conn, QUEUE_NAME) == 1
        assert sweep.sweep(session, redis_conn, QUEUE_NAME) == 0, "queued now: left alone"
    assert queued_ids(redis_conn) == [f"e{execution_id}"]

    perform_queued(redis_conn)
    assert status_of(db, execution_id) == ("succeeded", 1)
    with db.session() as session:
        assert session.scalars(select(Execution.id)).all() == [execution_id], "no duplicate"


def test_a_retry_that_was_never_queued_is_queued_as_its_next_attempt(
    db: Database, redis_conn: redis.Redis, probe: dict[str, int]
) -> None:
    started = clock.now() - timedelta(minutes=5)
    with db.session() as session:
        execution = Execution(
            app_id=probe_app(db), job="half_past", account_id=probe["Acme"], source="manual",
            scheduled_for=started, status="queued", attempts=1, started_at=started, error="boom",
        )  # fmt: skip
        session.add(execution)
        session.commit()
        execution_id = execution.id

    sweep = UnqueuedExecutions()
    with db.session() as session:
        sweep.sweep(session, redis_conn, QUEUE_NAME)
        assert sweep.sweep(session, redis_conn, QUEUE_NAME) == 1
    assert queued_ids(redis_conn) == [f"r{execution_id}-2"]
    perform_queued(redis_conn)
    assert status_of(db, execution_id) == ("succeeded", 2)


def test_a_queued_or_scheduled_job_is_left_alone_and_a_failed_one_is_queued_again(
    db: Database, redis_conn: redis.Redis, probe: dict[str, int]
) -> None:
    app_id = probe_app(db)
    waiting = enqueue_run(
        session_factory(), redis_conn, app_id=app_id, job="half_past", account_id=probe["Acme"], source="api"
    )
    with db.session() as session:
        later = Execution(
            app_id=app_id, job="half_past", account_id=probe["Globex"], source="manual",
            scheduled_for=clock.now(), status="queued", attempts=1,
        )  # fmt: skip
        session.add(later)
        session.commit()
        backing_off = later.id
    enqueue_execution(redis_conn, backing_off, f"r{backing_off}-2", delay_seconds=600)  # in its backoff

    sweep = UnqueuedExecutions()
    with db.session() as session:
        for _ in range(3):
            assert sweep.sweep(session, redis_conn, QUEUE_NAME) == 0
    assert queued_ids(redis_conn) == [f"e{waiting}"]

    # The job fails in RQ's own code before the runner could claim the execution.
    queue = Queue(QUEUE_NAME, connection=redis_conn)
    job = Job.fetch(f"e{waiting}", connection=redis_conn)
    redis_conn.lrem(queue.key, 1, job.id)
    job.set_status(JobStatus.FAILED)
    queue.failed_job_registry.add(job, ttl=600)
    with db.session() as session:
        assert sweep.sweep(session, redis_conn, QUEUE_NAME) == 0
        assert sweep.sweep(session, redis_conn, QUEUE_NAME) == 1
    assert queued_ids(redis_conn) == [f"e{waiting}"]
    assert queue.failed_job_registry.get_job_ids() == []
    perform_queued(redis_conn)
    assert status_of(db, waiting) == ("succeeded", 1)
    assert status_of(db, backing_off) == ("queued", 1), "its retry still waits in RQ's scheduler"


def test_the_spawner_sweeps_every_tick(db: Database, redis_conn: redis.Redis, probe: dict[str, int]) -> None:
    execution_id = enqueue_run(
        session_factory(), UNREACHABLE, app_id=probe_app(db), job="half_past",
        account_id=probe["Acme"], source="manual",
    )  # fmt: skip
    spawner = Spawner(db.sessions, redis_conn, owner="test")
    slot = floor_minute(clock.now())
    tick_and_recover(spawner, slot)
    tick_and_recover(spawner, slot + timedelta(minutes=1))
    assert f"e{execution_id}" in queued_ids(redis_conn)
