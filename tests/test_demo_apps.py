"""The shipped apps, run for real on the demo data `make run` seeds: spawner ticks, a real worker.

Emails and SMS land in the outbox (no SMTP or Twilio configured), and the importer works
through its batch a chunk a minute, resuming from its cursor after a pause.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from tickwork import clock
from tickwork.accounts import find_app, installation_of
from tickwork.catalog import sync_catalog
from tickwork.data import Collection
from tickwork.demo import seed_demo
from tickwork.models import Account, Execution, Message
from tickwork.spawner.loop import simulate
from tickwork.switches import set_schedule_status

from .conftest import Database

REPO_APPS = Path(__file__).resolve().parents[1] / "apps"
EIGHT_AM_EASTERN = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def demo(db: Database, redis_conn: redis.Redis) -> dict[str, int]:
    """The catalog and the demo accounts, seeded an hour before 8 AM Eastern; slug -> id."""
    with db.session() as session:
        assert not sync_catalog(session, REPO_APPS).broken
        with clock.frozen_at(EIGHT_AM_EASTERN - timedelta(hours=1)):
            accounts = seed_demo(session)
        session.commit()
        return {account.slug: account.id for account in accounts}


def tick_and_work(
    db: Database, redis_conn: redis.Redis, redis_url: str, start: datetime, minutes: int = 1
) -> None:
    for _ in simulate(db.sessions, redis_conn, start, start + minutes * MINUTE):
        pass
    env = {**os.environ, "DATABASE_URL": db.url, "REDIS_URL": redis_url}
    completed = subprocess.run(
        [sys.executable, "-m", "tickwork", "worker", "--burst"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]


def batch_of(db: Database, account_id: int) -> dict[str, object]:
    with db.session() as session:
        (batch,) = Collection(session, account_id, "import_batches").find()
        return batch


def test_the_demo_apps_run_for_real_and_the_importer_resumes_after_a_pause(
    db: Database, redis_conn: redis.Redis, redis_url: str, demo: dict[str, int]
) -> None:
    bakery, clinic = demo["demo-bakery"], demo["demo-clinic"]

    # 8:00 AM Eastern: the order digest, the hourly reminder check and the importer's first chunk.
    tick_and_work(db, redis_conn, redis_url, EIGHT_AM_EASTERN)
    with db.session() as session:
        failed = session.scalars(select(Execution).where(Execution.status != "succeeded")).all()
        assert failed == [], [(e.job, e.status, e.error) for e in failed]
        for account_id in (bakery, clinic):
            owner = session.scalars(select(Account).where(Account.id == account_id)).one()
            outbox = session.scalars(select(Message).where(Message.account_id == owner.id)).all()
            digests = [m for m in outbox if m.channel == "email" and "orders" in (m.subject or "").lower()]
            assert len(digests) == 1 and digests[0].transport == "outbox"
            texts = [m for m in outbox if m.channel == "sms"]
            assert len(texts) == 1  # the appointment 24-25 hours ahead, and only that one
            assert "reminder" in texts[0].body
    assert batch_of(db, bakery)["processed"] == 250

    # The bakery pauses the importer: its next minute does nothing; the clinic's goes on.
    with db.session() as session:
        account = session.get(Account, bakery)
        assert account is not None
        set_schedule_status(
            session, installation_of(session, account, find_app(session, "import-processor")), False
        )
        session.commit()
    tick_and_work(db, redis_conn, redis_url, EIGHT_AM_EASTERN + MINUTE)
    assert batch_of(db, bakery)["processed"] == 250
    assert batch_of(db, clinic)["processed"] == 500

    # Resumed, it carries on from its cursor and finishes; the owner is told.
    with db.session() as session:
        account = session.get(Account, bakery)
        assert account is not None
        set_schedule_status(
            session, installation_of(session, account, find_app(session, "import-processor")), True
        )
        session.commit()
    tick_and_work(db, redis_conn, redis_url, EIGHT_AM_EASTERN + 2 * MINUTE, minutes=2)
    for account_id in (bakery, clinic):
        batch = batch_of(db, account_id)
        assert batch["status"] == "done"
        assert batch["processed"] == 600 and batch["failed"] == 12  # every 50th demo row has no email
        with db.session() as session:
            assert Collection(session, account_id, "contacts").count() == 588
            finished = session.scalars(
                select(Message).where(
                    Message.account_id == account_id, Message.subject.like("Import%finished")
                )
            ).all()
            assert len(finished) == 1
