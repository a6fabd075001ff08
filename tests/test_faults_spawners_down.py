"""Every spawner replica SIGKILLed, ten minutes without one, then both restarted.

Two real ``tickwork spawner`` replicas share the lock; a ``tickwork worker`` runs throughout.
Time is a test clock file at 60x, so the ten minutes are a jump of the clock while no
spawner runs, not ten real minutes. The dead holder's lock would have expired long before
ten real minutes; the test deletes it rather than wait out its 40 real seconds.

On restart one replica takes the lock, its first tick finds ten missed minutes and catches
them up as each job says; a tick cut short by the kill may have queued its jobs already, and
they run once.
"""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from tickwork.spawner.lock import LOCK_KEY

from .conftest import Database
from .fault_rig import SimClock, check_ledger, check_runs, rig, tick_slots, utc, wait_for_ticks, wait_idle
from .process_helpers import install_fault_app

pytestmark = pytest.mark.faults

SPEED = 60.0
START = utc(2026, 1, 7, 14, 0)
DOWN = timedelta(minutes=10)


def test_every_spawner_killed_for_ten_minutes_then_restarted(
    db: Database, redis_conn: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    with db.session() as session:
        _app, ids = install_fault_app(session, "steady", "Acme", "Globex")
    clock = SimClock(tmp_path / "clock")
    clock.set(START - timedelta(seconds=2), SPEED)
    with rig(db, redis_url, tmp_path, clock) as processes:
        worker = processes.worker()
        replicas = [processes.spawner(), processes.spawner()]
        wait_for_ticks(db, None, count=4)

        for replica in replicas:
            replica.send_signal(signal.SIGKILL)
        for replica in replicas:
            assert replica.wait(timeout=10) == -signal.SIGKILL
        killed = tick_slots(db)[-1]
        clock.jump(DOWN)
        assert redis_conn.delete(LOCK_KEY) == 1, "the dead holder's lock was still there"
        processes.alive(worker)

        restarted = [processes.spawner(), processes.spawner()]
        resumed = wait_for_ticks(db, killed, count=3)
        assert resumed >= killed + DOWN
        processes.stop(*restarted)
        wait_idle(db, redis_conn)
        processes.stop(worker)

    slots = tick_slots(db)
    gap = max(later - earlier for earlier, later in zip(slots, slots[1:], strict=False))
    assert gap >= DOWN, f"the ten minutes are one gap in the ticks: {gap}"
    owners = check_runs(db, ids.values())
    assert owners.by_source["catch_up"] >= 2 * (9 + 1), "all: every missed minute; latest: the newest"
    check_ledger(db)
