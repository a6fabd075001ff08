"""Workers killed mid-job: no execution stays ``running``; it is retried or failed as its job says.

Real processes throughout: ``tickwork worker --burst`` runs the fixture app
tests/fixtures/fault_apps/faults, whose hold jobs wait for a ``release`` file the test
writes, so the test kills the worker while a job is certainly in the middle of its run.

- a worker *process* killed (SIGKILL): the supervisor sees it die at once, recovers its
  execution and starts a new process, which runs the retry;
- the *whole worker* killed (supervisor included): its processes die with it, and the
  spawner's next tick recovers the execution once it is past its timeout plus the grace;
- a job that blocks the timeout signal is SIGKILLed by the supervisor past its deadline
  plus the hard-kill grace, and recorded as timed out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tickwork import clock, recovery
from tickwork.context.settings_store import set_variable
from tickwork.models import Execution, JobSchedule
from tickwork.runner import OVERLAP_KEY
from tickwork.settings import reset_settings
from tickwork.spawner.loop import simulate, tick_and_recover
from tickwork.spawner.tick import Spawner

from .conftest import Database
from .process_helpers import (
    finish,
    install_fault_app,
    installation_id,
    is_gone,
    pid_of_worker,
    start,
    wait_for,
)

EASTERN = ZoneInfo("America/New_York")
DAY = datetime(2026, 1, 5, tzinfo=EASTERN)
SLOTS = {
    "hold_retry": DAY.replace(hour=4, minute=0).astimezone(UTC),
    "hold_once": DAY.replace(hour=4, minute=10).astimezone(UTC),
    "stuck": DAY.replace(hour=4, minute=20).astimezone(UTC),
}


@pytest.fixture
def faults(
    db: Database, redis_conn: redis.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, int]:
    """Account Acme with the faults app; its jobs report to ``tmp_path``. Returns the ids.

    Retries wait no backoff, in the worker subprocesses and in this process's spawner ticks.
    """
    monkeypatch.setenv("TICKWORK_RETRY_BACKOFF", "0")
    reset_settings()
    with db.session() as session:
        app, ids = install_fault_app(session, "faults", "Acme")
        set_variable(session, installation_id(session, app.id, ids["Acme"]), "FAULTS_DIR", str(tmp_path))
        session.commit()
    return {"app": app.id, "account": ids["Acme"]}


def spawn(db: Database, redis_conn: redis.Redis, job: str) -> None:
    """Run the spawner for the one minute ``job`` is due in."""
    slot = SLOTS[job]
    reports = list(simulate(db.sessions, redis_conn, slot, slot + timedelta(minutes=1)))
    assert [report.enqueued for report in reports] == [1]


@contextmanager
def killed_at_exit(process: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """Never leave a worker behind, whatever the test's outcome."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def the_execution(session: Session, job: str) -> Execution:
    return session.scalars(
        select(Execution).where(Execution.job == job, Execution.scheduled_for == SLOTS[job])
    ).one()


def started_runs(folder: Path) -> list[tuple[int, int]]:
    """(execution id, pid) of every run that reached the job's body, oldest first."""
    files = sorted(folder.glob("started-*"), key=lambda path: path.stat().st_mtime_ns)
    return [(int(parts[1]), int(parts[2])) for parts in (path.name.split("-") for path in files)]


def running_in_body(db: Database, folder: Path, job: str, count: int = 1) -> tuple[Execution, int]:
    """Wait until the ``count``-th run of ``job``'s slot is inside the job; its row and process id."""
    runs = wait_for(f"run {count} of {job} to start", lambda: started_runs(folder)[count - 1 :], 60)
    execution_id, pid = runs[0]
    with db.session() as session:
        execution = the_execution(session, job)
    assert execution.id == execution_id and execution.status == "running"
    assert execution.attempts == count
    assert pid_of_worker(execution.worker) == pid, "the worker column names the process running it"
    return execution, pid


def wait_for_alive_mark(redis_conn: redis.Redis, execution_id: int) -> str:
    """Wait until the worker supervisor has marked the run as held by a live worker; its key."""
    key = recovery.ALIVE_KEY.format(execution_id=execution_id)
    wait_for(f"the alive mark of execution {execution_id}", lambda: redis_conn.exists(key), 10)
    return key


def no_extra_runs(session: Session, job: str) -> None:
    """Exactly one execution row for the slot: no duplicate delivery was recorded."""
    rows = session.scalar(select(func.count()).where(Execution.job == job))
    assert rows == 1


# --- (a) one worker process killed, the supervisor alive --------------------------------------


def test_a_killed_worker_process_is_replaced_and_its_execution_retried_at_once(
    db: Database, redis_conn: redis.Redis, redis_url: str, faults: dict[str, int], tmp_path: Path
) -> None:
    spawn(db, redis_conn, "hold_retry")
    with killed_at_exit(start(db, redis_url, "worker", "--burst")) as worker:
        first, first_pid = running_in_body(db, tmp_path, "hold_retry")
        os.kill(first_pid, signal.SIGKILL)
        killed_at = time.monotonic()

        # The supervisor recovers it and a new process runs attempt 2 (the job holds again).
        second, second_pid = running_in_body(db, tmp_path, "hold_retry", count=2)
        assert time.monotonic() - killed_at < 10, "the supervisor notices a dead process at once"
        assert second.id == first.id and second_pid != first_pid and is_gone(first_pid)
        assert worker.poll() is None, "the supervisor itself carries on"
        assert recovery.WORKER_DIED in (second.error or "") and "[SIGKILL]" in (second.error or "")

        (tmp_path / "release").touch()
        code, _out, err = finish(worker)
    assert code == 0, err[-3000:]
    with db.session() as session:
        execution = the_execution(session, "hold_retry")
        assert (execution.status, execution.attempts) == ("succeeded", 2)
        assert execution.result == {"released_in": second_pid}
        assert execution.error is None and execution.finished_at is not None
        no_extra_runs(session, "hold_retry")


def test_a_killed_worker_process_fails_its_execution_when_no_retries_are_left(
    db: Database, redis_conn: redis.Redis, redis_url: str, faults: dict[str, int], tmp_path: Path
) -> None:
    spawn(db, redis_conn, "hold_once")
    with killed_at_exit(start(db, redis_url, "worker", "--burst")) as worker:
        execution, pid = running_in_body(db, tmp_path, "hold_once")
        os.kill(pid, signal.SIGKILL)

        def failed() -> Execution | None:
            with db.session() as session:
                row = the_execution(session, "hold_once")
            return row if row.status != "running" else None

        recovered = wait_for("the supervisor to fail the execution", failed, 10)
        code, _out, err = finish(worker)  # burst: the queue is empty, the new process exits
    assert code == 0, err[-3000:]
    assert (recovered.status, recovered.attempts) == ("failed", 1)
    assert recovered.finished_at is not None
    assert recovered.error and recovery.WORKER_DIED in recovered.error and "[SIGKILL]" in recovered.error
    # The dead run's overlap mark goes with it: the job's next slot is not skipped as "overlap".
    key = OVERLAP_KEY.format(app=faults["app"], job="hold_once", account=faults["account"])
    assert not redis_conn.exists(key)
    assert started_runs(tmp_path) == [(execution.id, pid)], "failed, never run again"
    with db.session() as session:
        no_extra_runs(session, "hold_once")


# --- (b) the whole worker killed: the spawner recovers ----------------------------------------


@pytest.mark.parametrize(
    ("job", "status_after_recovery"), [("hold_retry", "queued"), ("hold_once", "failed")]
)
def test_a_killed_worker_takes_its_processes_along_and_the_spawner_recovers_the_execution(
    db: Database,
    redis_conn: redis.Redis,
    redis_url: str,
    faults: dict[str, int],
    tmp_path: Path,
    job: str,
    status_after_recovery: str,
) -> None:
    spawn(db, redis_conn, job)
    with killed_at_exit(start(db, redis_url, "worker", "--burst")) as worker:
        execution, child_pid = running_in_body(db, tmp_path, job)
        alive = wait_for_alive_mark(redis_conn, execution.id)
        os.kill(worker.pid, signal.SIGKILL)
        code, _out, _err = finish(worker, timeout=10)
    assert code == -signal.SIGKILL
    wait_for("the worker process to die with its supervisor", lambda: is_gone(child_pid), 10)

    with db.session() as session:
        timeout = session.scalar(
            select(JobSchedule.timeout).where(JobSchedule.app_id == faults["app"], JobSchedule.job == job)
        )
        assert the_execution(session, job).status == "running", "nobody is left to notice"
    assert timeout is not None and execution.started_at is not None
    overdue_at = execution.started_at + timedelta(seconds=timeout) + recovery.DEADLINE_GRACE
    spawner = Spawner(db.sessions, redis_conn, owner="test")
    for now, expected in [(overdue_at - timedelta(seconds=1), "running"), (overdue_at, "running")]:
        with clock.frozen_at(now):
            tick_and_recover(spawner, now)
        with db.session() as session:
            assert the_execution(session, job).status == expected, f"not overdue yet at {now}"
    late = overdue_at + timedelta(seconds=1)
    with clock.frozen_at(late):  # overdue, but its supervisor's last word says it is alive
        tick_and_recover(spawner, late)
    with db.session() as session:
        assert the_execution(session, job).status == "running", "held by a live worker, for all we know"
    redis_conn.pexpire(alive, 1)  # as its TTL runs out: nobody refreshes it
    time.sleep(0.01)
    with clock.frozen_at(late):
        tick_and_recover(spawner, late)
    with db.session() as session:
        recovered = the_execution(session, job)
        assert (recovered.status, recovered.attempts) == (status_after_recovery, 1)
        assert recovered.error and recovery.WORKER_DIED in recovered.error

    # Whatever is queued now runs; a second worker finds the retry, and only the retry.
    (tmp_path / "release").touch()
    with killed_at_exit(start(db, redis_url, "worker", "--burst")) as worker:
        code, _out, err = finish(worker)
    assert code == 0, err[-3000:]
    with db.session() as session:
        final = the_execution(session, job)
        no_extra_runs(session, job)
    if job == "hold_retry":
        assert (final.status, final.attempts, final.error) == ("succeeded", 2, None)
        assert len(started_runs(tmp_path)) == 2
    else:
        assert (final.status, final.attempts) == ("failed", 1)
        assert len(started_runs(tmp_path)) == 1


# --- a job that ignores its timeout ------------------------------------------------------------


def test_a_job_that_blocks_its_timeout_is_killed_past_the_grace_and_recorded_as_timed_out(
    db: Database, redis_conn: redis.Redis, redis_url: str, faults: dict[str, int], tmp_path: Path
) -> None:
    spawn(db, redis_conn, "stuck")
    began = time.monotonic()
    with killed_at_exit(start(db, redis_url, "worker", "--burst", TICKWORK_HARD_KILL_GRACE="1")) as worker:
        code, _out, err = finish(worker, timeout=60)
    elapsed = time.monotonic() - began
    assert code == 0, err[-3000:]
    assert elapsed < 30, "killed about a second past its 1 s deadline, not after its 60 s sleep"
    ((execution_id, pid),) = started_runs(tmp_path)
    assert is_gone(pid)
    assert "ignored its timeout" in err
    with db.session() as session:
        execution = the_execution(session, "stuck")
        assert execution.id == execution_id
        assert (execution.status, execution.attempts) == ("timed_out", 1)
        assert execution.error and "timeout" in execution.error
        assert execution.finished_at is not None
        no_extra_runs(session, "stuck")


def test_a_malformed_hard_kill_grace_stops_the_worker_with_a_clear_message(
    db: Database, redis_url: str
) -> None:
    with killed_at_exit(start(db, redis_url, "worker", "--burst", TICKWORK_HARD_KILL_GRACE="soon")) as worker:
        code, _out, err = finish(worker, timeout=60)
    assert code == 2
    assert "TICKWORK_HARD_KILL_GRACE" in err and "Traceback" not in err
