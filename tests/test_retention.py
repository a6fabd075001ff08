"""Old run history is pruned: finished executions past retention go, everything else stays.

Both lanes, through the real migrations (the partial index on parent_id included).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from billing.ledger import balance_of
from billing.models import LedgerEntry
from tickwork import clock, retention
from tickwork.models import Account, AiCall, App, Execution, Message
from tickwork.settings import reset_settings
from tickwork.spawner.loop import prune_old_executions
from tickwork.spawner.tick import Spawner

from .conftest import Database
from .factories import fund
from .test_cli_operations import invoke, ok, refused

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def history(db: Database, ages_in_days: list[float], status: str = "succeeded") -> list[int]:
    """Executions created that many days before NOW (in the order given, so ids grow with time)."""
    with db.session() as session:
        account = session.scalar(select(Account).where(Account.slug == "acme"))
        if account is None:
            account = Account(slug="acme", name="Acme")
            session.add_all([account, App(slug="digest", kind="catalog", name="Digest")])
            session.flush()
            fund(session, account.id)
        app_id = session.scalars(select(App.id)).one()
        ids = []
        for age in ages_in_days:
            at = NOW - timedelta(days=age)
            execution = Execution(
                app_id=app_id, job="digest", account_id=account.id, source="schedule",
                scheduled_for=at, created_at=at, started_at=at, status=status,
            )  # fmt: skip
            session.add(execution)
            session.flush()
            ids.append(execution.id)
        session.commit()
        return ids


def remaining(db: Database) -> set[int]:
    with db.session() as session:
        return set(session.scalars(select(Execution.id)))


def test_finished_executions_past_retention_go_in_batches_oldest_first(db: Database) -> None:
    old = history(db, [200, 150, 120, 100, 95])
    stuck = history(db, [110], status="running") + history(db, [105], status="queued")
    recent = history(db, [89, 30, 1, 0])
    before = retention.cutoff(90, NOW)

    with db.session() as session:
        assert retention.count_prunable(session, before) == 5
        batches = retention.prune(session, before, limit=2)
        assert next(batches) == 2
    assert remaining(db) == set(old[2:] + stuck + recent), "the two oldest went first"
    with db.session() as session:
        assert list(batches) == [2, 1]
        assert list(retention.prune(session, before)) == []
    assert remaining(db) == set(stuck + recent), "queued and running rows wait for the sweeps"


def test_pruning_keeps_the_ledger_and_messages_and_unlinks_children(db: Database) -> None:
    parent, child = history(db, [120, 119])
    with db.session() as session:
        account_id = session.scalars(select(Account.id)).one()
        session.get(Execution, child).parent_id = parent  # type: ignore[union-attr]
        session.add_all(
            [
                AiCall(idempotency_key="ai:1", account_id=account_id, execution_id=parent,
                       model="gpt-4o-mini", response_text="hi"),
                Message(idempotency_key="m:1", account_id=account_id, execution_id=parent, channel="email",
                        transport="outbox", recipient="a@example.com", body="hello", status="sent"),
            ]
        )  # fmt: skip
        session.commit()
        ledger_before = session.scalar(select(func.count()).select_from(LedgerEntry))
        balance_before = balance_of(session, account_id)

    with db.session() as session:
        assert next(retention.prune(session, retention.cutoff(90, NOW), limit=1)) == 1  # the parent only
    with db.session() as session:
        assert session.get(Execution, child).parent_id is None  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).select_from(AiCall)) == 0, "its AI call records went"
        message = session.scalars(select(Message)).one()
        assert message.execution_id is None, "the message sent is kept"
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == ledger_before
        assert balance_of(session, account_id) == balance_before


def test_the_bisection_finds_the_last_row_before_any_cutoff(db: Database) -> None:
    rng = random.Random(7)
    ages = sorted((rng.uniform(0, 400) for _ in range(60)), reverse=True)
    ids = history(db, ages)
    with db.session() as session:  # holes in the ids, as pruning and deletes leave them
        for execution_id in rng.sample(ids, 15):
            session.delete(session.get(Execution, execution_id))
        session.commit()
        rows = sorted(session.execute(select(Execution.id, Execution.created_at)).all())
        for days in [0, 1, 50, 90, 200, 399.5, 401]:
            before = NOW - timedelta(days=days)
            expected = max((i for i, created in rows if created < before), default=None)
            assert retention.last_id_before(session, before) == expected, days


def test_tickwork_executions_prune(db: Database) -> None:
    history(db, [200, 100, 10])
    with clock.frozen_at(NOW):
        assert "2 finished executions" in ok("executions", "prune", "--older-than", "90", "--dry-run").stdout
        assert len(remaining(db)) == 3
        assert "deleted 1 finished" in ok("executions", "prune", "--older-than", "150", "--batch", "1").stdout
        assert "deleted 1 finished" in ok("executions", "prune").stdout, "the default keeps 90 days"
    assert len(remaining(db)) == 1
    refused("executions", "prune", "--older-than", "0", says="--older-than")


def test_the_spawner_prunes_a_batch_a_tick_unless_retention_is_off(
    db: Database, redis_conn: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    history(db, [100, 95, 10])
    spawner = Spawner(db.sessions, redis_conn, owner="test")  # type: ignore[arg-type]
    monkeypatch.setenv("TICKWORK_KEEP_EXECUTIONS_DAYS", "0")
    reset_settings()
    with clock.frozen_at(NOW):
        assert prune_old_executions(spawner) == 0
        monkeypatch.setenv("TICKWORK_KEEP_EXECUTIONS_DAYS", "30")
        reset_settings()
        assert prune_old_executions(spawner) == 2
    reset_settings()
    assert len(remaining(db)) == 1
    monkeypatch.setenv("TICKWORK_KEEP_EXECUTIONS_DAYS", "nope")
    reset_settings()
    result = invoke("executions", "prune")
    assert result.exit_code != 0 and "TICKWORK_KEEP_EXECUTIONS_DAYS must be a whole number" in result.output
