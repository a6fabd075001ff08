"""A whole simulated day of the example apps, billed, on both lanes.

Tuesday 2026-11-24 (Eastern; no DST change that week): the spawner ticks every minute with
the clock moved, and after each tick a worker in this process runs what was queued, at that
minute, so every charge carries its real time. The demo accounts run every example app
(with the local OpenAI, Twilio and SMTP servers, so AI, SMS and email are charged too); a
third account pays from a purchase and two grants, one of which expires at noon.

Then, for every account: the ledger adds up to its balance change; the rollups (and so every
report) hold exactly the ledger's totals; and each app's base credits charged equal its
projection for that date.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner
from rq.job import Job
from sqlalchemy import func, select

from billing import MICRO_PER_CREDIT
from billing.ledger import Posting, balance_of, post, reporting_day
from billing.models import DailyRollup, LedgerEntry
from billing.projection import daily_micro_credits
from billing.reports import GROUPINGS, SPENDING_KINDS, spending
from tests.servers.fixtures import Services
from tickwork import clock
from tickwork.accounts import create_account, find_app, install, installation_of
from tickwork.catalog import sync_catalog
from tickwork.cli import main
from tickwork.data import Collections
from tickwork.demo import seed_demo
from tickwork.models import Account, App, Execution, Installation, JobSchedule, User
from tickwork.projections import account_daily_micro, job_daily_micro, job_micro_on
from tickwork.queues import QUEUE_NAME
from tickwork.schedule import EASTERN
from tickwork.settings import reset_settings
from tickwork.spawner.loop import simulate
from tickwork.switches import set_schedule_status

from .conftest import Database

REPO_APPS = Path(__file__).resolve().parents[1] / "apps"
DAY = date(2026, 11, 24)  # a Tuesday
START = datetime(2026, 11, 24, tzinfo=EASTERN).astimezone(UTC)
END = datetime(2026, 11, 25, tzinfo=EASTERN).astimezone(UTC)
NOON = datetime(2026, 11, 24, 12, tzinfo=EASTERN).astimezone(UTC)
QUEUE_KEY = f"rq:queue:{QUEUE_NAME}"
INITECH_APPS = ("appointment-reminders", "inventory-sync", "nightly-cleanup")


def seed(db: Database) -> dict[str, int]:
    with db.session() as session:
        assert not sync_catalog(session, REPO_APPS).broken
        with clock.frozen_at(START - timedelta(hours=1)):
            accounts = {account.slug: account.id for account in seed_demo(session)}
            initech = create_account(session, "Initech")
            session.add(
                User(email="owner@initech.test", account_id=initech.id, role="owner", phone="+15550100003")
            )
            for slug in INITECH_APPS:
                install(session, initech, find_app(session, slug))
            before = START - timedelta(hours=1)
            for key, kind, credits, expires in (
                ("initech-buy", "purchase", 100, None),
                ("initech-trial", "grant", 50, NOON),
                ("initech-bonus", "grant", 10, END + timedelta(days=7)),
            ):
                post(
                    session,
                    Posting(
                        key=key, account_id=initech.id, kind=kind, amount=credits * MICRO_PER_CREDIT,
                        at=before, expires_at=expires,
                    ),
                )  # fmt: skip
            accounts[initech.slug] = initech.id
            # The clinic runs every app but the every-minute importer (switched off: a run a
            # minute for one account is enough, and the day stays quick to simulate).
            clinic = session.get(Account, accounts["demo-clinic"])
            assert clinic is not None
            set_schedule_status(
                session, installation_of(session, clinic, find_app(session, "import-processor")), False
            )
        with clock.frozen_at(START + timedelta(hours=10)):  # feedback for the 17:30 report to summarize (AI)
            for slug in ("demo-bakery", "demo-clinic"):
                Collections(session, accounts[slug])["feedback"].insert({"text": "Great rolls.", "rating": 5})
        for installation in session.scalars(select(Installation)):
            installation.status_changed_at = datetime(2025, 1, 1, tzinfo=UTC)
        session.commit()
    return accounts


def run_queued(redis_conn: redis.Redis) -> int:
    """Run what is queued, in this process, as a worker would (RQ's job, the runner, the context)."""
    ran = 0
    while (job_id := redis_conn.lpop(QUEUE_KEY)) is not None:
        job = Job.fetch(job_id.decode(), connection=redis_conn)
        job.perform()
        job.delete()
        ran += 1
    return ran


def run_day(db: Database, redis_conn: redis.Redis, start: datetime = START, end: datetime = END) -> None:
    for _ in simulate(db.sessions, redis_conn, start, end):
        run_queued(redis_conn)  # at the tick's minute: the clock is frozen there


def test_a_simulated_day_adds_up_for_every_account_and_matches_the_projections(
    db: Database, redis_conn: redis.Redis, services_env: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKWORK_RETRY_BACKOFF", "0")  # retries are queued at once, run in the same minute
    reset_settings()
    accounts = seed(db)
    with db.session() as session:
        opening = {slug: balance_of(session, account_id)[0] for slug, account_id in accounts.items()}
    run_day(db, redis_conn)

    with db.session() as session:
        statuses = Counter(session.execute(select(Execution.status, Execution.skip_reason)).all())
        assert statuses[("skipped", "insufficient_credits")] == 0 and statuses[("queued", None)] == 0
        assert statuses[("running", None)] == 0 and statuses[("succeeded", None)] > 1500, statuses
        # Retried runs (the inventory sync has no supplier set up: it fails and is retried
        # twice) paid their base once, like every other run.
        retried = session.scalars(select(Execution.id).where(Execution.attempts > 1)).all()
        assert len(retried) == 3 * 24
        bases = Counter(
            session.scalars(select(LedgerEntry.execution_id).where(LedgerEntry.kind == "execution"))
        )
        assert set(bases.values()) == {1} and all(bases[run] == 1 for run in retried)

        # 1. Every account: the ledger is the balance change, to the micro-credit.
        for slug, account_id in accounts.items():
            moved = session.scalar(
                select(func.sum(LedgerEntry.amount)).where(
                    LedgerEntry.account_id == account_id, LedgerEntry.created_at >= START
                )
            )
            assert balance_of(session, account_id)[0] - opening[slug] == moved, slug
        kinds = set(session.scalars(select(LedgerEntry.kind).distinct()))
        assert {"execution", "ai", "email", "sms", "grant", "purchase", "expiry"} <= kinds, kinds

        # The noon expiry took only what was left of the trial grant: every charge until noon
        # (about 4 credits an hour) was paid from it first, as the soonest to expire.
        (expiry,) = session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "expiry")).all()
        morning = -session.scalar(
            select(func.sum(LedgerEntry.amount)).where(
                LedgerEntry.account_id == accounts["initech"],
                LedgerEntry.amount < 0,
                LedgerEntry.created_at < NOON,
            )
        )
        assert 40 * MICRO_PER_CREDIT < morning < 50 * MICRO_PER_CREDIT
        assert expiry.account_id == accounts["initech"] and expiry.created_at == NOON
        assert expiry.amount == morning - 50 * MICRO_PER_CREDIT

        # 2. The rollups are the ledger, grouped: so is every report built on them.
        ledger: dict[tuple[int, date, str, str, str], list[int]] = defaultdict(lambda: [0, 0])
        for entry in session.scalars(select(LedgerEntry)):
            totals = ledger[
                (entry.account_id, reporting_day(entry.created_at), entry.app, entry.job, entry.kind)
            ]
            totals[0] += 1
            totals[1] += entry.amount
        rollups = {
            (r.account_id, r.day, r.app, r.job, r.kind): [r.count, r.amount]
            for r in session.scalars(select(DailyRollup))
        }
        assert rollups == dict(ledger)
        for account_id in accounts.values():
            spent = -sum(
                total[1] for (a, day, _, _, kind), total in ledger.items()
                if a == account_id and day == DAY and kind in SPENDING_KINDS
            )  # fmt: skip
            for by in GROUPINGS:
                rows = spending(session, start=DAY, end=DAY, by=by, account_id=account_id)
                assert sum(row.spent for row in rows) == spent, by

        # 3. Each app's base credits charged that day equal its projection for that date.
        schedules = {
            slug: session.scalars(select(JobSchedule).join(App).where(App.slug == slug)).all()
            for slug in session.scalars(select(App.slug))
        }
        base = defaultdict(int)
        for account_id, app, amount in session.execute(
            select(LedgerEntry.account_id, LedgerEntry.app, LedgerEntry.amount).where(
                LedgerEntry.kind == "execution"
            )
        ):
            base[(account_id, app)] -= amount
        for slug in ("demo-bakery", "demo-clinic"):
            for app, jobs in schedules.items():
                if (slug, app) == (
                    "demo-clinic",
                    "import-processor",
                ):  # switched off: neither projected nor run
                    assert base[(accounts[slug], app)] == 0
                    continue
                projected = sum(job_micro_on(schedule, DAY) for schedule in jobs)
                assert base[(accounts[slug], app)] == projected > 0, (slug, app)
                # The average day agrees for apps that run every day; the weekday-only app's
                # average is 5/7 of what a weekday costs (mon-fri 17:30 at 3 credits).
                average = sum(job_daily_micro(schedule) for schedule in jobs)
                if app == "feedback-insights":
                    assert (projected, average) == (3_000_000, daily_micro_credits(Fraction(5, 7), 3))
                else:
                    assert average == projected, app
        projected_by_account = account_daily_micro(session, day=DAY)
        for account_id in accounts.values():
            charged = sum(amount for (a, _), amount in base.items() if a == account_id)
            assert projected_by_account[account_id] == charged

    # The CLI's report says the same as the ledger, to the micro-credit.
    result = CliRunner().invoke(
        main, ["billing", "report", "--from", str(DAY), "--to", str(DAY), "--by", "kind", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    with db.session() as session:
        spent = -session.scalar(
            select(func.sum(LedgerEntry.amount)).where(
                LedgerEntry.kind.in_(SPENDING_KINDS),
                LedgerEntry.created_at >= START,
                LedgerEntry.created_at < END,
            )
        )
    assert json.loads(result.output)["total_credits"] == f"{spent / MICRO_PER_CREDIT:.6f}"
