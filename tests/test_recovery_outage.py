"""Work a dead worker or an outage leaves behind is found again, never left to wait for ever.

- ``recovery.recover`` marks an execution ``queued`` and then asks Redis to queue its retry. If
  Redis cannot be reached the retry is never queued; the execution goes back to ``running``,
  so the spawner's overdue check recovers it once Redis is back.
- A job a dead worker took off the queue but never started goes back on the queue.
- A scheduled job RQ failed before its run was recorded is queued again (a few times a day).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from sqlalchemy import select

from tickwork import clock, recovery
from tickwork.embedded_redis import free_port
from tickwork.models import Execution
from tickwork.spawner.tick import floor_minute

from .conftest import Database
from .process_helpers import install_fault_app
from .test_spawn_and_run import probe
from .test_spawn_and_run import spawn as spawn_span

__all__ = ["probe"]  # fixture used here


def running_for_an_hour(db: Database, job: str) -> int:
    """A run of the faults app's ``job`` for Acme, recorded ``running`` an hour ago; its id."""
    with db.session() as session:
        app, ids = install_fault_app(session, "faults", "Acme")
        started = floor_minute(clock.now()) - timedelta(hours=1)
        execution = Execution(
            app_id=app.id, job=job, account_id=ids["Acme"], source="schedule",
            scheduled_for=started, status="running", attempts=1, started_at=started,
        )  # fmt: skip
        session.add(execution)
        session.commit()
        return execution.id


def test_a_retry_that_cannot_be_queued_leaves_the_execution_running_for_a_later_recovery(
    db: Database, redis_conn: redis.Redis
) -> None:
    execution_id = running_for_an_hour(db, "hold_retry")

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


def test_a_slot_job_rq_failed_before_its_run_was_recorded_is_queued_again(
    db: Database, redis_conn: redis.Redis, probe: dict[str, int]
) -> None:
    """A worker took a scheduled job and died before recording it: RQ's clean-up fails it as
    abandoned. The spawner queues it again (its slot is not held by any execution) and it runs
    once; a failed job whose run was recorded is left to recovery."""
    from rq import Queue
    from rq.job import Job, JobStatus

    from tickwork.queues import QUEUE_NAME
    from tickwork.spawner.stranded import requeue_failed_slots

    slot = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    spawn_span(db, redis_conn, slot, slot + timedelta(minutes=1))  # half_past for two accounts
    queue = Queue(QUEUE_NAME, connection=redis_conn)
    abandoned, recorded = sorted(queue.get_job_ids())
    with clock.frozen_at(slot):
        Job.fetch(recorded, connection=redis_conn).perform()  # ran: its execution holds the slot
    for job_id in (abandoned, recorded):  # taken by a worker that then died
        queue.remove(job_id)
        job = Job.fetch(job_id, connection=redis_conn)
        job.set_status(JobStatus.STARTED)
        redis_conn.zadd(queue.started_job_registry.key, {f"{job_id}:tw1": 1})  # as _TAKE, long expired
    queue.started_job_registry.cleanup()  # RQ's own maintenance: abandoned, so failed
    assert sorted(queue.failed_job_registry.get_job_ids()) == sorted([abandoned, recorded])

    with db.session() as session:
        assert requeue_failed_slots(session, redis_conn, QUEUE_NAME) == 1
        assert requeue_failed_slots(session, redis_conn, QUEUE_NAME) == 0
    assert queue.get_job_ids() == [abandoned]
    assert queue.failed_job_registry.get_job_ids() == [recorded], "left to recovery"
    with clock.frozen_at(slot):
        Job.fetch(abandoned, connection=redis_conn).perform()
    with db.session() as session:
        rows = session.execute(select(Execution.slot_key, Execution.status)).all()
    assert sorted(rows) == sorted([(abandoned, "succeeded"), (recorded, "succeeded")])


def test_a_slot_job_that_keeps_failing_unrecorded_is_queued_again_three_times_a_day(
    db: Database, redis_conn: redis.Redis, probe: dict[str, int]
) -> None:
    from rq import Queue
    from rq.job import Job

    from tickwork.queues import QUEUE_NAME
    from tickwork.spawner.stranded import MAX_REQUEUES, requeue_failed_slots

    slot = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    spawn_span(db, redis_conn, slot, slot + timedelta(minutes=1))
    queue = Queue(QUEUE_NAME, connection=redis_conn)
    job_id = queue.get_job_ids()[0]
    requeued = []
    for _ in range(MAX_REQUEUES + 2):
        queue.remove(job_id)
        queue.failed_job_registry.add(Job.fetch(job_id, connection=redis_conn), ttl=600)
        with db.session() as session:
            requeued.append(requeue_failed_slots(session, redis_conn, QUEUE_NAME))
    assert requeued == [1] * MAX_REQUEUES + [0, 0]
    assert queue.failed_job_registry.get_job_ids() == [job_id]


def test_a_job_whose_take_reply_was_lost_is_run_by_the_worker_that_took_it(
    db: Database, redis_conn: redis.Redis, probe: dict[str, int]
) -> None:
    """Redis stopping right after running a worker's take (its append-only file keeps the
    effect, the reply never leaves) or a connection dropping at that moment: the job is popped
    and registered as started, and the worker never heard. Its next try, under the same nonce,
    hands over that job: every slot runs once, nothing is left registered as started."""
    from rq import Queue

    from tickwork.queues import QUEUE_NAME
    from tickwork.worker import TickworkWorker

    slot = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    spawn_span(db, redis_conn, slot, slot + timedelta(minutes=1))  # half_past for two accounts
    queue = Queue(QUEUE_NAME, connection=redis_conn)
    jobs = sorted(queue.get_job_ids())
    assert len(jobs) == 2
    worker = TickworkWorker([queue], connection=redis_conn, name="tw-lost-reply")
    real_take = worker._call_take
    lost: list[bytes] = []

    def take_then_lose_the_reply(*args: object) -> object:
        reply = real_take(*args)  # type: ignore[arg-type]
        if not lost and reply:
            lost.append(reply[0])
            raise redis.exceptions.ConnectionError("Connection closed by server.")
        return reply

    worker._call_take = take_then_lose_the_reply  # type: ignore[method-assign]
    with clock.frozen_at(slot + timedelta(seconds=5)):
        assert worker.work(burst=True)

    assert lost and lost[0].decode() in jobs
    with db.session() as session:
        rows = session.execute(select(Execution.slot_key, Execution.status, Execution.skip_reason)).all()
    assert sorted(rows) == [(job_id, "succeeded", None) for job_id in jobs]
    assert queue.started_job_registry.count == 0, "nothing left started by nobody"
    assert not redis_conn.keys("rq:job:*") and not redis_conn.keys("tickwork:take:*")


def test_an_overdue_run_a_live_worker_holds_is_left_to_it(db: Database, redis_conn: redis.Redis) -> None:
    """Past its deadline is not proof of death: a run whose supervisor still marks it alive
    (its outcome waiting for the database) is not recovered; once the mark lapses, it is."""
    execution_id = running_for_an_hour(db, "hold_once")

    recovery.mark_alive(redis_conn, [execution_id])
    ttl = redis_conn.pttl(recovery.ALIVE_KEY.format(execution_id=execution_id))
    assert 0 < ttl <= recovery.ALIVE_TTL * 1000
    with db.session() as session:
        assert recovery.overdue(session) == [execution_id], "by the database alone: overdue"
        assert recovery.overdue(session, redis_conn) == [], "but a live worker holds it"
    redis_conn.delete(recovery.ALIVE_KEY.format(execution_id=execution_id))
    with db.session() as session:
        assert recovery.overdue(session, redis_conn) == [execution_id]


def test_a_run_is_held_from_its_start_until_its_outcome_is_recorded(
    db: Database, redis_conn: redis.Redis, probe: dict[str, int]
) -> None:
    """What the runner tells the worker supervisor: the run and its deadline as the job starts,
    the run alone (no deadline to enforce) once the job is over and its outcome is being
    recorded, nothing once it is recorded."""
    from rq import Queue
    from rq.job import Job

    from tickwork import runner
    from tickwork.queues import QUEUE_NAME

    slot = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    spawn_span(db, redis_conn, slot, slot + timedelta(minutes=1))
    job_id = sorted(Queue(QUEUE_NAME, connection=redis_conn).get_job_ids())[0]
    calls: list[tuple[int | None, bool, str | None]] = []
    holds: list[float] = []

    def hook(execution_id: int | None, deadline: float | None, held_until: float | None) -> None:
        with db.session() as session:
            status = session.scalar(select(Execution.status).where(Execution.slot_key == job_id))
        calls.append((execution_id, deadline is not None, status))
        if held_until is not None:
            holds.append(held_until - max(deadline or 0.0, time.monotonic()))

    runner.set_current_hook(hook)
    try:
        with clock.frozen_at(slot):
            Job.fetch(job_id, connection=redis_conn).perform()
    finally:
        runner.set_current_hook(None)
    with db.session() as session:
        run_id = session.scalar(select(Execution.id).where(Execution.slot_key == job_id))
    assert calls == [(run_id, True, "running"), (run_id, False, "running"), (None, False, "succeeded")]
    # Held no longer than a worker may wait for the database to record it, and a margin.
    bound = runner.DATABASE_WAIT_SECONDS + runner.HOLD_MARGIN_SECONDS
    assert len(holds) == 2 and all(bound - 5 < hold <= bound for hold in holds), holds


def test_a_run_is_let_go_even_when_recording_its_outcome_raises(
    db: Database, redis_conn: redis.Redis, probe: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever ends the run in the worker, the supervisor stops holding it (and the spawner
    recovers it once overdue), rather than marking it alive for as long as the process lives."""
    from rq import Queue
    from rq.job import Job

    from tickwork import runner
    from tickwork.queues import QUEUE_NAME

    slot = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    spawn_span(db, redis_conn, slot, slot + timedelta(minutes=1))
    job_id = sorted(Queue(QUEUE_NAME, connection=redis_conn).get_job_ids())[0]

    def broken_finish(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the outcome could not be written")

    monkeypatch.setattr(runner.Runner, "_finish", broken_finish)
    calls: list[int | None] = []
    runner.set_current_hook(lambda execution_id, _deadline, _held: calls.append(execution_id))
    try:
        with clock.frozen_at(slot), pytest.raises(RuntimeError, match="could not be written"):
            Job.fetch(job_id, connection=redis_conn).perform()
    finally:
        runner.set_current_hook(None)
    assert len(calls) == 3 and calls[0] == calls[1] is not None and calls[2] is None
