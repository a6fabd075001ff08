"""The schema: migrations build exactly what the models describe, on both database lanes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing.models import BillingBase
from tickwork import migrate
from tickwork.models import Account, App, Base, Execution, Installation, User

from .conftest import Database


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, [Base.metadata, BillingBase.metadata])  # type: ignore[arg-type]
    assert differences == []
    assert migrate.current_revision(db.engine) == migrate.head_revision()


def test_datetimes_come_back_aware_utc(session: Session) -> None:
    created = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    session.add(Account(slug="acme", name="Acme", created_at=created))
    session.commit()
    session.expunge_all()
    account = session.scalars(select(Account)).one()
    assert account.created_at == created
    assert account.created_at.tzinfo is not None


def test_naive_datetimes_are_refused(session: Session) -> None:
    session.add(Account(slug="acme", name="Acme", created_at=datetime(2026, 1, 1)))
    with pytest.raises(Exception, match="naive datetimes"):
        session.commit()


def test_a_user_is_either_in_an_account_with_a_role_or_staff(session: Session) -> None:
    account = Account(slug="acme", name="Acme")
    session.add_all([account, User(email="staff@tickwork.local", is_staff=True)])
    session.flush()
    session.add(User(email="owner@acme.test", account_id=account.id, role="owner"))
    session.commit()
    session.add(User(email="nobody@acme.test", account_id=account.id, role="admin"))
    with pytest.raises(IntegrityError):
        session.commit()


def test_a_slot_can_be_recorded_only_once(session: Session) -> None:
    account = Account(slug="acme", name="Acme")
    app = App(slug="order-digest", kind="catalog", name="Order digest")
    session.add_all([account, app])
    session.flush()
    slot = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    key = f"order-digest-daily_summary-{account.id}-202611231300"

    def execution() -> Execution:
        return Execution(
            slot_key=key, app_id=app.id, job="daily_summary", account_id=account.id,
            source="schedule", scheduled_for=slot,
        )  # fmt: skip

    session.add(execution())
    session.commit()
    session.add(execution())
    with pytest.raises(IntegrityError):
        session.commit()


def test_an_account_installs_an_app_once(session: Session) -> None:
    account = Account(slug="acme", name="Acme")
    app = App(slug="order-digest", kind="catalog", name="Order digest")
    session.add_all([account, app])
    session.flush()
    session.add(Installation(account_id=account.id, app_id=app.id))
    session.commit()
    assert session.scalars(select(Installation)).one().schedule_status == "on"
    session.add(Installation(account_id=account.id, app_id=app.id))
    with pytest.raises(IntegrityError):
        session.commit()


def test_a_custom_app_belongs_to_an_account(session: Session) -> None:
    session.add(App(slug="my-app", kind="custom", name="Mine"))
    with pytest.raises(IntegrityError):
        session.commit()
