"""The wall clock jumps an hour forward, then an hour back, under a running spawner.

A real ``tickwork spawner`` and ``tickwork worker`` read time from a test clock file
(``TICKWORK_CLOCK_OFFSET_FILE``) running at 120x, so a simulated minute passes in half a
second. The steady app's three every-minute jobs (catch-up ``all``, ``latest``, ``none``) run
for two accounts.

- Forward an hour: the spawner's next tick finds an hour of missed minutes and catches up as
  each job says (``all``: the newest 48; ``latest``: the newest; ``none``: nothing).
- Back an hour: every minute of the hour it lands in was ticked already; the spawner ticks
  none of them again and resumes at the first minute it has not ticked.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import redis

from .conftest import Database
from .fault_rig import (
    MINUTE,
    SimClock,
    check_ledger,
    check_runs,
    last_tick,
    rig,
    tick_slots,
    utc,
    wait_for_ticks,
    wait_idle,
)
from .process_helpers import install_fault_app, wait_for

pytestmark = pytest.mark.faults

SPEED = 120.0
START = utc(2026, 1, 6, 15, 0)
HOUR = timedelta(hours=1)


def test_the_clock_jumping_forward_and_back_an_hour_under_a_running_spawner(
    db: Database, redis_conn: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    with db.session() as session:
        _app, ids = install_fault_app(session, "steady", "Acme", "Globex")
    clock = SimClock(tmp_path / "clock")
    clock.set(START - timedelta(seconds=2), SPEED)
    with rig(db, redis_url, tmp_path, clock) as processes:
        worker = processes.worker()
        spawner = processes.spawner()
        before = wait_for_ticks(db, None, count=4)

        clock.jump(HOUR)
        after = wait_for_ticks(db, before + HOUR - MINUTE, count=3)
        slots = tick_slots(db)
        gaps = [later - earlier for earlier, later in zip(slots, slots[1:], strict=False)]
        assert max(gaps) >= HOUR - MINUTE, f"the jump is one gap the catch-up covers: {gaps}"

        clock.jump(-HOUR)
        landed = clock.now()
        assert landed < after - timedelta(minutes=50)
        # An hour of minutes ticked already: nothing is ticked until the clock passes them again.
        clock.wait_until(landed + timedelta(minutes=20))
        assert last_tick(db) == after, "no minute ticked twice, none ticked out of order"
        processes.alive(worker, spawner)
        resumed = wait_for_ticks(db, after, count=2, timeout=60)
        assert clock.now() >= after, "it resumed only once the clock passed its last tick"
        assert resumed > after

        processes.stop(spawner)
        wait_idle(db, redis_conn)
        processes.stop(worker)

    result = check_runs(db, ids.values())
    assert result.by_source["catch_up"] >= 2 * (48 + 1), "the hour's catch-up ran (all: 48, latest: 1)"
    assert result.dropped > 0, "and dropped what the policies drop"
    check_ledger(db)


def test_the_clock_file_is_read_by_a_process_and_moves_it(tmp_path: Path) -> None:
    """The seam itself: an offset, a speed, a jump; a missing file is the system clock."""
    from datetime import UTC, datetime

    from tickwork.clock import OffsetFileClock

    path = tmp_path / "clock"
    reader = OffsetFileClock(path)
    assert abs(reader.now() - datetime.now(UTC)) < timedelta(seconds=1)
    sim = SimClock(path)
    sim.set(START, 60.0)
    first = reader.now()
    assert abs(first - START) < timedelta(seconds=5)
    wait_for("a simulated minute", lambda: reader.now() >= first + MINUTE, 5, every=0.05)
    sim.jump(-HOUR)
    assert reader.now() < first


def test_a_run_in_flight_when_the_clock_jumps_forward_is_not_taken_for_a_dead_one(
    db: Database, redis_conn: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    """After a forward jump, a run that started before it looks an hour overdue while its
    worker is still running it. The spawner must not recover (and so re-run) it."""
    from sqlalchemy import select

    from tickwork.context.settings_store import set_variable
    from tickwork.models import Execution
    from tickwork.spawner.loop import simulate

    from .process_helpers import installation_id

    with db.session() as session:
        app, ids = install_fault_app(session, "faults", "Acme")
        set_variable(session, installation_id(session, app.id, ids["Acme"]), "FAULTS_DIR", str(tmp_path))
        session.commit()
    slot = utc(2026, 1, 5, 9, 0)  # hold_retry's 4:00 Eastern; retries = 1
    assert [r.enqueued for r in simulate(db.sessions, redis_conn, slot, slot + MINUTE)] == [1]
    clock = SimClock(tmp_path / "clock")
    clock.set(START, 30.0)
    with rig(db, redis_url, tmp_path, clock) as processes:
        worker = processes.worker()
        spawner = processes.spawner()
        wait_for("the hold job to start", lambda: list(tmp_path.glob("started-*")), 30, every=0.02)
        before = wait_for_ticks(db, slot, count=1)
        clock.jump(HOUR)
        wait_for_ticks(db, before + HOUR - MINUTE, count=2)
        (tmp_path / "release").touch()
        wait_idle(db, redis_conn)
        processes.stop(spawner, worker)
    assert len(list(tmp_path.glob("started-*"))) == 1, "the run was not started a second time"
    with db.session() as session:
        execution = session.scalars(select(Execution).where(Execution.job == "hold_retry")).one()
    assert (execution.status, execution.attempts, execution.error) == ("succeeded", 1, None)
