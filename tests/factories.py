"""Small builders for the rows many tests need, so each test states only what matters to it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.ledger import Posting, post
from tests.conftest import Database
from tickwork.models import Account, App, Execution

SLOT = datetime(2026, 11, 22, 13, 5, tzinfo=UTC)


def make_execution(db: Database, app_slug: str = "order-digest", job: str = "digest") -> tuple[int, int, int]:
    """An account, a catalog app and a running execution of its job: (account_id, app_id, execution_id).

    Called again in the same test, it reuses the account and app and adds another execution.
    """
    with db.session() as session:
        account = session.scalar(select(Account).where(Account.slug == "acme"))
        if account is None:
            account = Account(slug="acme", name="Acme Bakery")
            app = App(slug=app_slug, kind="catalog", name=app_slug.replace("-", " ").capitalize())
            session.add_all([account, app])
            session.flush()
        else:
            app = session.scalars(select(App)).one()
        execution = Execution(
            app_id=app.id,
            job=job,
            account_id=account.id,
            source="schedule",
            scheduled_for=SLOT,
            status="running",
        )
        session.add(execution)
        session.commit()
        return account.id, app.id, execution.id


def fund(session: Session, account_id: int, credits: int = 100_000) -> None:
    """Give an account credits (a grant on the ledger), so its jobs can pay their base."""
    post(
        session,
        Posting(
            key=f"test-grant:{account_id}",
            account_id=account_id,
            kind="grant",
            amount=credits * 10**6,
            at=SLOT,
        ),
    )
