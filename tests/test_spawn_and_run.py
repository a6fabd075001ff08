"""The whole loop: spawner ticks over simulated days, real workers run the jobs, on both lanes.

The probe app (tests/fixtures/apps/probe) records every run it makes; the assertions are
the DST rules of the schedule language, counted in executions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from tickwork.accounts import create_account, find_app, install
from tickwork.catalog import sync_catalog
from tickwork.models import App, Execution, Installation
from tickwork.spawner.loop import simulate
from tickwork.switches import set_platform_switch, set_schedule_status

from .conftest import Database
from .factories import fund

EASTERN = ZoneInfo("America/New_York")
PROBE_APPS = Path(__file__).parent / "fixtures" / "apps"


@pytest.fixture
def probe(db: Database, redis_conn: redis.Redis) -> dict[str, int]:
    """Two accounts with the probe app installed; returns their ids."""
    with db.session() as session:
        report = sync_catalog(session, PROBE_APPS)
        assert not report.broken, report.broken
        app = find_app(session, "probe")
        ids = {}
        for name in ("Acme", "Globex"):
            account = create_account(session, name)
            install(session, account, app)
            fund(session, account.id)
            ids[name] = account.id
        # Installed before the simulated days start, so catch-up rules never exclude them.
        for installation in session.scalars(select(Installation)):
            installation.status_changed_at = datetime(2025, 1, 1, tzinfo=UTC)
        session.commit()
    return ids


def eastern_day(year: int, month: int, day: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, day, tzinfo=EASTERN)
    end = datetime(year, month, day + 1, tzinfo=EASTERN)
    return start.astimezone(UTC), end.astimezone(UTC)


def run_worker(db: Database, redis_url: str, *options: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db.url, "REDIS_URL": redis_url, "TICKWORK_RETRY_BACKOFF": "0"}
    return subprocess.run(
        [sys.executable, "-m", "tickwork", "worker", "--burst", *options],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def spawn(db: Database, redis_conn: redis.Redis, start: datetime, end: datetime) -> None:
    for _ in simulate(db.sessions, redis_conn, start, end):
        pass


def counts(session: Session, status: str = "succeeded") -> Counter[tuple[str, int]]:
    rows = session.execute(select(Execution.job, Execution.account_id).where(Execution.status == status))
    return Counter((job, account) for job, account in rows)


@pytest.mark.parametrize(
    ("day", "half_past", "gap_slot_utc", "repeated_hour"),
    [
        ((2026, 3, 8), 23, datetime(2026, 3, 8, 7, 0, tzinfo=UTC), 3),
        ((2026, 11, 1), 25, datetime(2026, 11, 1, 6, 30, tzinfo=UTC), 6),
    ],
    ids=["spring-forward", "fall-back"],
)
def test_a_dst_day_runs_exactly_what_the_rules_say_for_every_account(
    db: Database,
    redis_conn: redis.Redis,
    redis_url: str,
    probe: dict[str, int],
    day: tuple[int, int, int],
    half_past: int,
    gap_slot_utc: datetime,
    repeated_hour: int,
) -> None:
    start, end = eastern_day(*day)
    spawn(db, redis_conn, start, end)
    completed = run_worker(db, redis_url)
    assert completed.returncode == 0, completed.stderr[-3000:]

    with db.session() as session:
        succeeded = counts(session)
        for account in probe.values():
            assert succeeded[("half_past", account)] == half_past
            assert succeeded[("gap_slot", account)] == 1
            assert succeeded[("repeated_hour", account)] == repeated_hour
        gap_runs = session.scalars(select(Execution.scheduled_for).where(Execution.job == "gap_slot")).all()
        if day == (2026, 3, 8):
            assert set(gap_runs) == {gap_slot_utc}
        else:  # 2:30 exists once on the fall-back day
            assert set(gap_runs) == {datetime(2026, 11, 1, 7, 30, tzinfo=UTC)}
        statuses = Counter(session.scalars(select(Execution.status)))
        assert statuses["running"] == 0 and statuses["queued"] == 0
        keys = session.scalars(select(Execution.slot_key).where(Execution.slot_key.is_not(None))).all()
        assert len(keys) == len(set(keys))
    assert redis_conn.llen("rq:queue:tickwork") == 0
    assert not redis_conn.keys("rq:job:s*"), "finished jobs must leave nothing behind in Redis"


def test_every_execution_is_recorded_in_full_with_a_fresh_module_each_time(
    db: Database, redis_conn: redis.Redis, redis_url: str, probe: dict[str, int]
) -> None:
    start = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    spawn(db, redis_conn, start, start.replace(minute=31))
    assert run_worker(db, redis_url).returncode == 0
    with db.session() as session:
        runs = session.scalars(select(Execution).where(Execution.job == "half_past")).all()
        assert len(runs) == 2
        for execution in runs:
            assert execution.status == "succeeded" and execution.attempts == 1
            assert execution.source == "schedule" and execution.scheduled_for == start
            assert execution.enqueued_at and execution.started_at and execution.finished_at
            assert execution.duration_ms is not None and execution.app_version_id
            assert "half past for" in (execution.logs or "")
            assert execution.result == {"ok": True}
        from tickwork.data import Collection

        for account in probe.values():
            (record,) = Collection(session, account, "probe_runs").find()
            assert record["module_state_seen"] == 1


def test_a_failing_job_is_retried_and_a_runaway_job_is_timed_out(
    db: Database, redis_conn: redis.Redis, redis_url: str, probe: dict[str, int]
) -> None:
    nine_fifteen = datetime(2026, 11, 23, 9, 15, tzinfo=EASTERN).astimezone(UTC)
    nine_forty_five = datetime(2026, 11, 23, 9, 45, tzinfo=EASTERN).astimezone(UTC)
    spawn(db, redis_conn, nine_fifteen, nine_fifteen.replace(minute=nine_fifteen.minute + 1))
    spawn(db, redis_conn, nine_forty_five, nine_forty_five.replace(minute=nine_forty_five.minute + 1))
    assert run_worker(db, redis_url).returncode == 0
    with db.session() as session:
        flaky = session.scalars(select(Execution).where(Execution.job == "flaky")).all()
        assert [(e.status, e.attempts) for e in flaky] == [("succeeded", 2)] * 2
        slow = session.scalars(select(Execution).where(Execution.job == "slow")).all()
        assert [e.status for e in slow] == ["timed_out"] * 2
        assert all("timeout" in (e.error or "") for e in slow)


def test_switched_off_installations_and_apps_spawn_nothing_and_resume_at_their_next_slot(
    db: Database, redis_conn: redis.Redis, redis_url: str, probe: dict[str, int]
) -> None:
    acme, globex = probe["Acme"], probe["Globex"]
    base = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    with db.session() as session:
        installation = session.scalars(select(Installation).where(Installation.account_id == acme)).one()
        set_schedule_status(session, installation, on=False)
        session.commit()
    spawn(db, redis_conn, base, base.replace(hour=17))  # 15:30 and 16:30 pass while Acme is off
    with db.session() as session:
        installation = session.scalars(select(Installation).where(Installation.account_id == acme)).one()
        set_schedule_status(session, installation, on=True)
        session.commit()
    spawn(db, redis_conn, base.replace(hour=17), base.replace(hour=18))
    assert run_worker(db, redis_url).returncode == 0
    with db.session() as session:
        succeeded = counts(session)
        assert succeeded[("half_past", globex)] == 3
        assert succeeded[("half_past", acme)] == 1  # only 17:30: the two slots missed while off never replay

        app = session.scalars(select(App).where(App.slug == "probe")).one()
        set_platform_switch(session, app, enabled=False)
        session.commit()
    spawn(db, redis_conn, base.replace(hour=18), base.replace(hour=19))
    assert run_worker(db, redis_url).returncode == 0
    with db.session() as session:
        assert counts(session)[("half_past", globex)] == 3


def test_jobs_already_queued_when_paused_are_skipped_as_paused(
    db: Database, redis_conn: redis.Redis, redis_url: str, probe: dict[str, int]
) -> None:
    acme = probe["Acme"]
    slot = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)
    spawn(db, redis_conn, slot, slot.replace(minute=31))
    with db.session() as session:
        installation = session.scalars(select(Installation).where(Installation.account_id == acme)).one()
        set_schedule_status(session, installation, on=False)
        session.commit()
    assert run_worker(db, redis_url).returncode == 0
    with db.session() as session:
        rows = session.execute(
            select(Execution.account_id, Execution.status, Execution.skip_reason).where(
                Execution.job == "half_past"
            )
        ).all()
        assert sorted(rows) == sorted([(acme, "skipped", "paused"), (probe["Globex"], "succeeded", None)])


def test_three_spawners_simulating_the_same_day_spawn_each_slot_once(
    db: Database, redis_conn: redis.Redis, redis_url: str, probe: dict[str, int]
) -> None:
    start, end = eastern_day(2026, 11, 24)
    env = {**os.environ, "DATABASE_URL": db.url, "REDIS_URL": redis_url}
    command = [
        sys.executable, "-m", "tickwork", "spawner", "--simulate",
        "--from", start.isoformat(), "--to", end.isoformat(),
    ]  # fmt: skip
    spawners = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)
    ]
    for process in spawners:
        _out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode()[-2000:]
    assert run_worker(db, redis_url).returncode == 0
    with db.session() as session:
        succeeded = counts(session)
        for account in probe.values():
            assert succeeded[("half_past", account)] == 24
            assert succeeded[("gap_slot", account)] == 1
        assert counts(session, "skipped") == Counter()


def test_a_burst_worker_replaces_processes_that_reach_max_jobs_until_the_queue_is_empty(
    db: Database, redis_conn: redis.Redis, redis_url: str, probe: dict[str, int]
) -> None:
    start = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    spawn(db, redis_conn, start, start.replace(hour=17))  # 14:30, 15:30, 16:30 for two accounts
    assert run_worker(db, redis_url, "--max-jobs", "2").returncode == 0
    with db.session() as session:
        succeeded = counts(session)
        assert [succeeded[("half_past", account)] for account in probe.values()] == [3, 3]
        assert succeeded[("flaky", probe["Acme"])] == 1  # 9:15 Eastern, after its one retry
    assert redis_conn.llen("rq:queue:tickwork") == 0


def test_runs_pay_their_base_once_and_an_account_without_credit_is_skipped_and_told_once(
    db: Database, redis_conn: redis.Redis, redis_url: str, probe: dict[str, int]
) -> None:
    from billing.ledger import balance_of
    from billing.models import LedgerEntry
    from tickwork.models import Message, User

    with db.session() as session:
        broke = create_account(session, "Initech")
        install(session, broke, find_app(session, "probe"))
        session.add(User(email="owner@initech.test", account_id=broke.id, role="owner"))
        for installation in session.scalars(select(Installation)):
            installation.status_changed_at = datetime(2025, 1, 1, tzinfo=UTC)
        session.commit()
        broke_id = broke.id
    start = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    spawn(db, redis_conn, start, start.replace(hour=17))
    assert run_worker(db, redis_url).returncode == 0
    with db.session() as session:
        skipped = session.scalars(
            select(Execution.skip_reason).where(
                Execution.account_id == broke_id, Execution.job == "half_past"
            )
        ).all()
        assert skipped == ["insufficient_credits"] * 3
        notices = session.scalars(select(Message).where(Message.account_id == broke_id)).all()
        assert len(notices) == 1 and "lack of credits" in (notices[0].subject or "")
        for account in probe.values():
            runs = session.scalars(select(Execution).where(Execution.account_id == account)).all()
            # every run that started paid its base once: the retried one and the timed-out one too
            assert {(run.job, run.status, run.attempts) for run in runs} == {
                ("half_past", "succeeded", 1),
                ("flaky", "succeeded", 2),
                ("slow", "timed_out", 1),
            }
            assert all(run.credits_charged == 1_000_000 for run in runs)
            base = sum(run.credits_charged for run in runs)
            assert base == 5_000_000
            balance, _ = balance_of(session, account)
            assert balance == 100_000 * 1_000_000 - base
            entries = session.scalars(
                select(LedgerEntry.amount).where(LedgerEntry.account_id == account)
            ).all()
            assert sum(entries) == balance
