"""Redis restarted (append-only file on) while jobs are queued and running.

The test starts its own redis-server (``tickwork.embedded_redis``, ``appendonly yes``), a real
``tickwork spawner`` on a test clock at 20x and a ``tickwork worker`` with two processes; the
steady app's three every-minute jobs run for twelve accounts (36 jobs a simulated minute,
more than the workers finish before the next tick). Right after a tick, with its jobs queued
and some running, Redis is stopped (SIGTERM: the AOF is flushed, as a restart of the service
does) and started again on the same port and files three seconds later.

Queued jobs come back from the AOF; the spawner and workers carry on once Redis answers;
every slot runs once, as the catch-up policies say for the minutes the spawner could not tick.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from tickwork.embedded_redis import EmbeddedRedis

from .conftest import Database
from .fault_rig import SimClock, check_ledger, check_runs, last_tick, rig, utc, wait_for_ticks, wait_idle
from .process_helpers import install_fault_app

pytestmark = pytest.mark.faults

SPEED = 20.0
START = utc(2026, 1, 8, 16, 0)
ACCOUNTS = [f"Account {n}" for n in range(12)]


def test_redis_restarted_with_jobs_queued_and_running(db: Database, tmp_path: Path) -> None:
    with db.session() as session:
        _app, ids = install_fault_app(session, "steady", *ACCOUNTS)
    server = EmbeddedRedis(tmp_path / "redis", appendonly=True)
    server.start()
    client = redis.Redis.from_url(server.url)
    clock = SimClock(tmp_path / "clock")
    clock.set(START - timedelta(seconds=2), SPEED)
    try:
        with rig(db, server.url, tmp_path, clock) as processes:
            worker = processes.worker(processes=2)
            spawner = processes.spawner()
            wait_for_ticks(db, None, count=2)
            tick = wait_for_ticks(db, last_tick(db), count=1)  # just now: its jobs are queued
            queued = client.llen("rq:queue:tickwork")
            assert queued > 0, "jobs are queued when Redis goes"
            server.stop()
            time.sleep(3)
            server = EmbeddedRedis(server.directory, port=server.port, appendonly=True)
            server.start()
            wait_for_ticks(db, tick + timedelta(minutes=1), count=3, timeout=120)
            processes.alive(worker, spawner)
            processes.stop(spawner)
            wait_idle(db, client, timeout=120)
            processes.stop(worker)
    finally:
        client.close()
        server.stop()

    result = check_runs(db, ids.values())
    assert result.executions > 3 * len(ACCOUNTS) * 4
    check_ledger(db)
