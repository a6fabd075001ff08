"""Recovering a dead worker's execution while Redis is unreachable leaves it recoverable.

``recovery.recover`` marks the execution ``queued`` and then asks Redis to queue its retry.
If Redis cannot be reached the retry is never queued; the execution must not be left
``queued`` with no job behind it (nothing would ever run or recover it). It goes back to
``running``, so the spawner's overdue check recovers it once Redis is back.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from sqlalchemy import select

from tickwork import clock, recovery
from tickwork.embedded_redis import free_port
from tickwork.models import Execution
from tickwork.spawner.tick import floor_minute

from .conftest import Database
from .process_helpers import install_fault_app


def test_a_retry_that_cannot_be_queued_leaves_the_execution_running_for_a_later_recovery(
    db: Database, redis_conn: redis.Redis
) -> None:
    with db.session() as session:
        app, ids = install_fault_app(session, "faults", "Acme")
        started = floor_minute(clock.now()) - timedelta(hours=1)
        execution = Execution(
            app_id=app.id, job="hold_retry", account_id=ids["Acme"], source="schedule",
            scheduled_for=started, status="running", attempts=1, started_at=started,
        )  # fmt: skip
        session.add(execution)
        session.commit()
        execution_id = execution.id

    unreachable = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    with db.session() as session, pytest.raises(redis.ConnectionError):
        recovery.recover(session, unreachable, [execution_id], recovery.WORKER_DIED, (0,))
    with db.session() as session:
        row = session.scalars(select(Execution).where(Execution.id == execution_id)).one()
        assert (row.status, row.attempts) == ("running", 1), "still running: recoverable later"
        assert recovery.overdue(session) == [execution_id]

    # Redis is back: the next recovery queues the retry.
    with db.session() as session:
        assert recovery.recover(session, redis_conn, [execution_id], recovery.WORKER_DIED, (0,)) == 1
    with db.session() as session:
        assert session.get(Execution, execution_id).status == "queued"  # type: ignore[union-attr]
    assert redis_conn.exists(f"rq:job:r{execution_id}-2")


def test_a_job_a_dead_worker_took_but_never_started_goes_back_on_the_queue(redis_conn: redis.Redis) -> None:
    """RQ moves a job to ``<queue>:intermediate`` as a worker takes it; a worker that dies
    before starting it leaves it there. Two sweeps in a row find it and requeue it."""
    from tickwork.enqueue import QueuedJob, enqueue_jobs
    from tickwork.queues import QUEUE_NAME, RUNNER_FUNCTION
    from tickwork.spawner.stranded import StrandedJobs

    queue_key, intermediate = f"rq:queue:{QUEUE_NAME}", f"rq:queue:{QUEUE_NAME}:intermediate"
    enqueue_jobs(redis_conn, QUEUE_NAME, [QueuedJob("s1-job-2-202601051000", {}, -1)], func=RUNNER_FUNCTION)
    assert redis_conn.lmove(queue_key, intermediate) == b"s1-job-2-202601051000"  # taken; the worker died
    sweeper = StrandedJobs()
    assert sweeper.sweep(redis_conn, QUEUE_NAME) == 0, "seen once: it may be starting right now"
    assert sweeper.sweep(redis_conn, QUEUE_NAME) == 1
    assert redis_conn.lrange(queue_key, 0, -1) == [b"s1-job-2-202601051000"]
    assert redis_conn.llen(intermediate) == 0
    assert sweeper.sweep(redis_conn, QUEUE_NAME) == 0
