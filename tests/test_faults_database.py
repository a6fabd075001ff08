"""The database unreachable for 30 seconds: the spawner and the workers wait, then carry on.

A real ``tickwork spawner`` (test clock at 10x) and ``tickwork worker`` (two processes) run
the steady app's three every-minute jobs for six accounts. Then, for 30 real seconds:

- PostgreSQL: the processes reach the server through a TCP proxy the test owns; the proxy
  drops every connection and refuses new ones, as a server that went away does;
- SQLite: a file on the same machine cannot become unreachable; the honest equivalent is
  another process holding its write lock for 30 seconds (the busy timeout is 30 s too), so
  every write of the spawner and the workers waits, and some give up and try again.

Every process is still running afterwards; the spawner's ticks that failed are minutes it
missed, caught up as each job says; every slot runs once, nothing stays queued or running,
and the ledger reconciles.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy.engine import make_url

from .conftest import Database
from .fault_rig import (
    SimClock,
    TcpProxy,
    check_ledger,
    check_runs,
    last_tick,
    rig,
    utc,
    wait_for_ticks,
    wait_idle,
)
from .process_helpers import install_fault_app

pytestmark = pytest.mark.faults

SPEED = 10.0
START = utc(2026, 1, 9, 17, 0)
OUTAGE_SECONDS = 30.0
ACCOUNTS = [f"Account {n}" for n in range(6)]


@contextmanager
def processes_database(db: Database) -> Iterator[tuple[str, TcpProxy | None]]:
    """The URL the processes use: a proxy in front of PostgreSQL; the file itself for SQLite."""
    if db.lane == "sqlite":
        yield db.url, None
        return
    url = make_url(db.url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432)).start()
    try:
        yield url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False), proxy
    finally:
        proxy.close()


def outage(db: Database, proxy: TcpProxy | None) -> None:
    """The database unreachable (PostgreSQL) or write-locked (SQLite) for OUTAGE_SECONDS."""
    if proxy is not None:
        proxy.cut()
        time.sleep(OUTAGE_SECONDS)
        proxy.restore()
        return
    path = make_url(db.url).database
    assert path
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        time.sleep(OUTAGE_SECONDS)
        holder.execute("ROLLBACK")
    finally:
        holder.close()


def test_the_database_unreachable_for_30_seconds(
    db: Database, redis_conn: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    with db.session() as session:
        _app, ids = install_fault_app(session, "steady", *ACCOUNTS)
    clock = SimClock(tmp_path / "clock")
    clock.set(START - timedelta(seconds=2), SPEED)
    with processes_database(db) as (url, proxy), rig(db, redis_url, tmp_path, clock, url) as processes:
        worker = processes.worker(processes=2)
        spawner = processes.spawner()
        wait_for_ticks(db, None, count=2)
        before = wait_for_ticks(db, last_tick(db), count=1)  # just now: its jobs are running
        outage(db, proxy)
        processes.alive(worker, spawner)
        wait_for_ticks(db, before + timedelta(minutes=int(OUTAGE_SECONDS * SPEED / 60)), count=2, timeout=90)
        processes.alive(worker, spawner)
        processes.stop(spawner)
        wait_idle(db, redis_conn, timeout=120)
        processes.stop(worker)

    result = check_runs(db, ids.values())
    assert result.executions > 3 * len(ACCOUNTS) * 3
    check_ledger(db)
