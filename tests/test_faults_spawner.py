"""A spawner SIGKILLed mid-tick and restarted later: catch-up exactly as each job's policy says,
and no slot run twice.

The fixture app tests/fixtures/fault_apps/catchup has one job per catch-up policy (latest,
all, none), each due every five minutes. The kill lands at a known point: the test holds
the database's write lock on the tick table, so ``tickwork spawner --simulate`` enqueues
the 10:10 jobs and then blocks recording the tick; it is SIGKILLed there, with the jobs
in Redis and the tick unrecorded (the worst moment: on restart that slot looks missed).
"""

from __future__ import annotations

import signal
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import redis
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from tickwork.executions import slot_text
from tickwork.models import Execution, SpawnerTick
from tickwork.spawner.lock import LOCK_KEY
from tickwork.spawner.loop import simulate

from .conftest import Database
from .process_helpers import finish, install_fault_app, run, start, wait_for

EASTERN = ZoneInfo("America/New_York")
JOBS = ("latest_job", "all_job", "none_job")


def at(hour: int, minute: int) -> datetime:
    return datetime(2026, 1, 6, hour, minute, tzinfo=EASTERN).astimezone(UTC)


@contextmanager
def tick_table_locked(db: Database) -> Iterator[None]:
    """Hold the write lock the spawner needs to record a tick; reads go on as usual."""
    if db.lane == "sqlite":
        path = make_url(db.url).database
        assert path
        raw = sqlite3.connect(path, isolation_level=None)
        try:
            raw.execute("BEGIN IMMEDIATE")  # WAL: readers carry on, the next writer waits
            yield
        finally:
            raw.execute("ROLLBACK")
            raw.close()
        return
    with db.engine.connect() as connection:
        connection.execute(text("LOCK TABLE spawner_ticks IN SHARE MODE"))  # blocks INSERT only
        try:
            yield
        finally:
            connection.rollback()


def queued_keys(redis_conn: redis.Redis, slot: datetime) -> list[bytes]:
    return list(redis_conn.scan_iter(match=f"rq:job:s*-{slot_text(slot)}", count=1000))


def test_a_spawner_killed_mid_tick_and_restarted_later_applies_catch_up_exactly_once(
    db: Database, redis_conn: redis.Redis, redis_url: str
) -> None:
    with db.session() as session:
        _app, ids = install_fault_app(session, "catchup", "Acme", "Globex")
    accounts = sorted(ids.values())

    # 10:00-10:09 go by normally.
    assert sum(r.enqueued for r in simulate(db.sessions, redis_conn, at(10, 0), at(10, 10))) == 12

    # 10:10: the jobs are enqueued, then the spawner blocks recording the tick and is killed.
    with tick_table_locked(db):
        spawner = start(
            db,
            redis_url,
            "spawner",
            "--simulate",
            "--from",
            at(10, 10).isoformat(),
            "--to",
            at(11, 0).isoformat(),
        )
        try:
            wait_for("the 10:10 jobs in Redis", lambda: len(queued_keys(redis_conn, at(10, 10))) == 6, 30)
            assert spawner.poll() is None, "blocked on the tick record, not finished"
            spawner.send_signal(signal.SIGKILL)
            code, _out, _err = finish(spawner, timeout=10)
        finally:
            if spawner.poll() is None:
                spawner.kill()
                spawner.communicate(timeout=10)
    assert code == -signal.SIGKILL
    with db.session() as session:
        assert session.scalar(select(func.max(SpawnerTick.slot))) == at(10, 9), "10:10 never recorded"
    # The dead spawner's lock would expire within LOCK_TTL_SECONDS; let it go now.
    assert redis_conn.exists(LOCK_KEY)
    redis_conn.delete(LOCK_KEY)

    # Down until 10:40, then a new spawner runs 10:40-10:44.
    restarted = run(
        db,
        redis_url,
        "spawner",
        "--simulate",
        "--from",
        at(10, 40).isoformat(),
        "--to",
        at(10, 45).isoformat(),
    )
    assert restarted.returncode == 0, restarted.stderr[-3000:]
    worker = run(db, redis_url, "worker", "--burst")
    assert worker.returncode == 0, worker.stderr[-3000:]

    with db.session() as session:
        rows = session.execute(
            select(
                Execution.job,
                Execution.account_id,
                Execution.scheduled_for,
                Execution.source,
                Execution.skipped_slots,
                Execution.status,
            )
        ).all()
    assert Counter(row.status for row in rows) == Counter({"succeeded": len(rows)}), "no skips, no failures"
    slots = Counter((row.job, row.account_id, row.scheduled_for) for row in rows)
    assert max(slots.values()) == 1, "no (job, account, slot) ran twice"

    on_schedule = [at(10, 0), at(10, 5), at(10, 10), at(10, 40)]  # 10:10 from the killed tick
    missed = [at(10, minute) for minute in (15, 20, 25, 30, 35)]
    expected = {
        # latest: only 10:35; the 6 slots after the last recorded tick (10:10-10:35) less the one
        # run count as skipped, 10:10 included, since its tick never completed.
        "latest_job": [(slot, "schedule", 0) for slot in on_schedule] + [(at(10, 35), "catch_up", 5)],
        # all: each missed slot; 10:10 was queued already, so it runs once, as scheduled.
        "all_job": [(slot, "schedule", 0) for slot in on_schedule]
        + [(slot, "catch_up", 0) for slot in missed],
        "none_job": [(slot, "schedule", 0) for slot in on_schedule],
    }
    for job in JOBS:
        for account in accounts:
            runs = sorted(
                (row.scheduled_for, row.source, row.skipped_slots)
                for row in rows
                if row.job == job and row.account_id == account
            )
            assert runs == sorted(expected[job]), (job, account)
    assert redis_conn.llen("rq:queue:tickwork") == 0


def test_a_spawner_killed_at_any_tick_and_restarted_at_once_loses_no_slot_and_repeats_none(
    db: Database, redis_conn: redis.Redis, redis_url: str
) -> None:
    """Killed wherever it is in its run of ticks, and restarted from the minute after the last
    recorded one: a tick cut short is run again, and its jobs are not queued twice."""
    with db.session() as session:
        install_fault_app(session, "catchup", "Acme")
    spawner = start(
        db, redis_url, "spawner", "--simulate", "--from", at(12, 0).isoformat(), "--to", at(13, 0).isoformat()
    )
    try:

        def recorded() -> datetime | None:
            with db.session() as session:
                last = session.scalar(select(func.max(SpawnerTick.slot)))
            return last if last is not None and last >= at(12, 12) else None

        wait_for("a dozen ticks", recorded, 60, every=0.01)
        spawner.send_signal(signal.SIGKILL)
        code, _out, err = finish(spawner, timeout=10)
        assert code == -signal.SIGKILL, f"killed partway, not after the end: {err[-2000:]}"
    finally:
        if spawner.poll() is None:
            spawner.kill()
            spawner.communicate(timeout=10)
    redis_conn.delete(LOCK_KEY)
    with db.session() as session:
        last = session.scalar(select(func.max(SpawnerTick.slot)))
    assert last is not None and last < at(13, 0)
    # Restart at the minute after the last recorded tick and run to the end of the hour.
    restarted = run(
        db, redis_url, "spawner", "--simulate", "--from", (last + timedelta(minutes=1)).isoformat(),
        "--to", at(13, 0).isoformat(),
    )  # fmt: skip
    assert restarted.returncode == 0, restarted.stderr[-3000:]
    assert run(db, redis_url, "worker", "--burst").returncode == 0
    with db.session() as session:
        rows = session.execute(select(Execution.job, Execution.scheduled_for, Execution.source)).all()
    for job in JOBS:
        runs = sorted((slot, source) for name, slot, source in rows if name == job)
        assert runs == [(at(12, minute), "schedule") for minute in range(0, 60, 5)], job
