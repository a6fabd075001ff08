"""The base is charged once per execution: a job RQ delivers twice, a run retried after its
worker was killed right after the charge (the process alone, or the whole worker), and a
run retried after failing. Both lanes; real Redis, real worker processes.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from rq.job import Job
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.ledger import balance_of
from billing.models import LedgerEntry
from tickwork import clock, recovery
from tickwork.models import Execution, JobSchedule
from tickwork.queues import QUEUE_NAME
from tickwork.spawner.loop import tick_and_recover
from tickwork.spawner.tick import Spawner

from .conftest import Database
from .process_helpers import finish, start, wait_for
from .test_faults_worker import (
    faults,
    killed_at_exit,
    running_in_body,
    spawn,
    the_execution,
    wait_for_alive_mark,
)
from .test_spawn_and_run import probe
from .test_spawn_and_run import spawn as spawn_span

__all__ = ["faults", "probe"]  # fixtures used here

FUNDED = 100_000 * 1_000_000


def base_entries(session: Session, execution_id: int) -> list[int]:
    return list(
        session.scalars(
            select(LedgerEntry.amount).where(
                LedgerEntry.kind == "execution", LedgerEntry.execution_id == execution_id
            )
        )
    )


def ledger_matches_balance(session: Session, account_id: int) -> int:
    total = session.scalar(select(func.sum(LedgerEntry.amount)).where(LedgerEntry.account_id == account_id))
    balance, _ = balance_of(session, account_id)
    assert balance == total
    return balance


def test_a_job_rq_delivers_twice_pays_its_base_once(
    db: Database, redis_conn: redis.Redis, probe: dict[str, int]
) -> None:
    slot = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    spawn_span(db, redis_conn, slot, slot + timedelta(minutes=1))  # half_past for two accounts
    job_ids = [job_id.decode() for job_id in redis_conn.lrange(f"rq:queue:{QUEUE_NAME}", 0, -1)]
    assert len(job_ids) == 2
    for job_id in job_ids:
        job = Job.fetch(job_id, connection=redis_conn)
        with clock.frozen_at(slot):
            job.perform()  # delivered to one worker...
            job.perform()  # ...and again, as RQ does after a lost acknowledgement
    with db.session() as session:
        rows = session.execute(select(Execution.account_id, Execution.status, Execution.skip_reason)).all()
        assert Counter((status, reason) for _, status, reason in rows) == {
            ("succeeded", None): 2,
            ("skipped", "duplicate"): 2,
        }
        for account_id in probe.values():
            (run,) = session.scalars(
                select(Execution).where(Execution.account_id == account_id, Execution.status == "succeeded")
            ).all()
            assert base_entries(session, run.id) == [-1_000_000]
            assert run.credits_charged == 1_000_000
            assert ledger_matches_balance(session, account_id) == FUNDED - 1_000_000


def test_a_run_retried_after_failing_pays_its_base_once(
    db: Database, redis_conn: redis.Redis, redis_url: str, probe: dict[str, int]
) -> None:
    nine_fifteen = datetime(2026, 11, 23, 14, 15, tzinfo=UTC)  # flaky: fails once, then succeeds
    spawn_span(db, redis_conn, nine_fifteen, nine_fifteen + timedelta(minutes=1))
    code, _out, err = finish(start(db, redis_url, "worker", "--burst"))
    assert code == 0, err[-3000:]
    with db.session() as session:
        runs = session.scalars(select(Execution).where(Execution.job == "flaky")).all()
        assert [(run.status, run.attempts) for run in runs] == [("succeeded", 2)] * 2
        for run in runs:
            assert base_entries(session, run.id) == [-1_000_000]
            assert ledger_matches_balance(session, run.account_id) == FUNDED - 1_000_000


def test_a_worker_process_killed_right_after_the_charge_is_retried_without_a_second_charge(
    db: Database, redis_conn: redis.Redis, redis_url: str, faults: dict[str, int], tmp_path: Path
) -> None:
    spawn(db, redis_conn, "hold_retry")
    with killed_at_exit(start(db, redis_url, "worker", "--burst")) as worker:
        first, pid = running_in_body(db, tmp_path, "hold_retry")  # charged, now inside the job
        with db.session() as session:
            assert base_entries(session, first.id) == [-1_000_000]
        os.kill(pid, signal.SIGKILL)
        running_in_body(db, tmp_path, "hold_retry", count=2)  # the supervisor's retry
        (tmp_path / "release").touch()
        code, _out, err = finish(worker)
    assert code == 0, err[-3000:]
    with db.session() as session:
        execution = the_execution(session, "hold_retry")
        assert (execution.status, execution.attempts) == ("succeeded", 2)
        assert base_entries(session, execution.id) == [-1_000_000]
        assert execution.credits_charged == 1_000_000
        assert ledger_matches_balance(session, faults["account"]) == FUNDED - 1_000_000


def test_a_whole_worker_killed_right_after_the_charge_is_recovered_without_a_second_charge(
    db: Database, redis_conn: redis.Redis, redis_url: str, faults: dict[str, int], tmp_path: Path
) -> None:
    spawn(db, redis_conn, "hold_retry")
    with killed_at_exit(start(db, redis_url, "worker", "--burst")) as worker:
        execution, _pid = running_in_body(db, tmp_path, "hold_retry")
        alive = wait_for_alive_mark(redis_conn, execution.id)
        os.kill(worker.pid, signal.SIGKILL)  # the supervisor and its process: nobody notices
        finish(worker, timeout=10)
    redis_conn.delete(alive)  # as its TTL runs out: nobody refreshes it
    with db.session() as session:
        timeout = session.scalar(select(JobSchedule.timeout).where(JobSchedule.job == "hold_retry"))
    assert timeout is not None and execution.started_at is not None
    overdue = (
        execution.started_at + timedelta(seconds=timeout) + recovery.DEADLINE_GRACE + timedelta(seconds=1)
    )
    with clock.frozen_at(overdue):  # the spawner's next tick after the deadline requeues it
        tick_and_recover(Spawner(db.sessions, redis_conn, owner="test"), overdue)
    (tmp_path / "release").touch()
    code, _out, err = finish(start(db, redis_url, "worker", "--burst"))
    assert code == 0, err[-3000:]
    wait_for("the retry to finish", lambda: the_execution_done(db), 30)
    with db.session() as session:
        final = the_execution(session, "hold_retry")
        assert (final.status, final.attempts) == ("succeeded", 2)
        assert base_entries(session, final.id) == [-1_000_000]
        assert ledger_matches_balance(session, faults["account"]) == FUNDED - 1_000_000


def the_execution_done(db: Database) -> bool:
    with db.session() as session:
        return the_execution(session, "hold_retry").status == "succeeded"
