"""A run whose start COMMIT reaches the database but whose reply is lost carries on.

A connection that drops during COMMIT (the database restarting, a proxy cut, a network
blip) leaves the client not knowing whether the transaction landed. The runner tries the
start again; when it had landed, the row it finds is its own (the delivery token says so),
not another delivery's: the run goes on, once, charged once, instead of being recorded as a
duplicate and leaving the original ``running`` until the spawner fails it as dead (which CI
caught in the database-outage fault test).

The fault is made at the driver: the dialect's commit runs the real COMMIT on the real
database, then raises the driver's own ``OperationalError``, once, for the first commit after
the runner wrote to ``executions``. Both lanes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from rq.job import Job
from sqlalchemy import event, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.default import DefaultDialect

from tickwork import clock
from tickwork.db import session_factory
from tickwork.models import App, Execution
from tickwork.queues import QUEUE_NAME
from tickwork.runner import enqueue_run

from .conftest import Database
from .test_billing_once import FUNDED, base_entries, ledger_matches_balance
from .test_spawn_and_run import probe
from .test_spawn_and_run import spawn as spawn_span

__all__ = ["probe"]  # fixture used here


class LostCommitReply:
    """Arms one lost reply: the next commit after a write to ``executions`` lands, then fails."""

    def __init__(self) -> None:
        self.armed = False
        self.wrote = False
        self.fired = 0

    def arm(self) -> None:
        self.armed, self.wrote = True, False

    def after_execute(self, conn: Connection, clause: Any, *_args: Any) -> None:
        text = str(clause).lstrip().upper()
        if self.armed and text.startswith(("INSERT INTO EXECUTIONS", "UPDATE EXECUTIONS")):
            self.wrote = True

    def commit(self, original: Any, dialect: DefaultDialect, dbapi_connection: Any) -> None:
        original(dialect, dbapi_connection)  # the COMMIT really happens
        if self.wrote and not self.fired:
            self.fired += 1
            raise dialect.loaded_dbapi.OperationalError("server closed the connection unexpectedly")


@pytest.fixture
def lost_reply(monkeypatch: pytest.MonkeyPatch) -> Iterator[LostCommitReply]:
    fault = LostCommitReply()
    original = DefaultDialect.do_commit
    monkeypatch.setattr(
        DefaultDialect, "do_commit", lambda dialect, conn: fault.commit(original, dialect, conn)
    )
    event.listen(Engine, "after_execute", fault.after_execute)
    try:
        yield fault
    finally:
        event.remove(Engine, "after_execute", fault.after_execute)


def perform_queued(redis_conn: redis.Redis, at: datetime) -> None:
    for job_id in redis_conn.lrange(f"rq:queue:{QUEUE_NAME}", 0, -1):
        with clock.frozen_at(at):
            Job.fetch(job_id.decode(), connection=redis_conn).perform()


def test_a_scheduled_start_whose_commit_reply_was_lost_runs_once(
    db: Database, redis_conn: redis.Redis, probe: dict[str, int], lost_reply: LostCommitReply
) -> None:
    slot = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    spawn_span(db, redis_conn, slot, slot + timedelta(minutes=1))  # half_past for two accounts
    lost_reply.arm()  # from now on: the spawner's writes are done
    perform_queued(redis_conn, slot)

    assert lost_reply.fired == 1, "the fault fired"
    with db.session() as session:
        rows = session.execute(select(Execution.account_id, Execution.status, Execution.skip_reason)).all()
        assert Counter((status, reason) for _, status, reason in rows) == {("succeeded", None): 2}, rows
        for account_id in probe.values():
            (run,) = session.scalars(select(Execution).where(Execution.account_id == account_id)).all()
            assert run.attempts == 1
            assert base_entries(session, run.id) == [-1_000_000]
            assert ledger_matches_balance(session, account_id) == FUNDED - 1_000_000


def test_a_claimed_run_whose_claim_reply_was_lost_runs_once(
    db: Database, redis_conn: redis.Redis, probe: dict[str, int], lost_reply: LostCommitReply
) -> None:
    with db.session() as session:
        app_id = session.scalars(select(App.id).where(App.slug == "probe")).one()
    account_id = probe["Acme"]
    execution_id = enqueue_run(
        session_factory(), redis_conn, app_id=app_id, job="half_past", account_id=account_id, source="manual"
    )
    lost_reply.arm()  # from now on: the run is recorded and queued
    perform_queued(redis_conn, clock.now())

    assert lost_reply.fired == 1, "the fault fired"
    with db.session() as session:
        rows = session.execute(select(Execution.id, Execution.status, Execution.skip_reason)).all()
        assert rows == [(execution_id, "succeeded", None)], "no duplicate recorded, nothing left running"
        run = session.get(Execution, execution_id)
        assert run is not None and run.attempts == 1
        assert base_entries(session, execution_id) == [-1_000_000]
        assert ledger_matches_balance(session, account_id) == FUNDED - 1_000_000


def test_another_delivery_of_the_same_slot_is_still_a_duplicate(
    db: Database, redis_conn: redis.Redis, probe: dict[str, int]
) -> None:
    """The token tells deliveries apart: RQ delivering a slot twice still runs it once."""
    slot = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    spawn_span(db, redis_conn, slot, slot + timedelta(minutes=1))
    perform_queued(redis_conn, slot)
    perform_queued(redis_conn, slot)
    with db.session() as session:
        rows = session.execute(select(Execution.status, Execution.skip_reason)).all()
        assert Counter(rows) == {("succeeded", None): 2, ("skipped", "duplicate"): 2}
