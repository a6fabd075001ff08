"""A proposal from each of the six templates, applied, switched on and run for a simulated day.

One account gets a custom app per template (and a second reminder, of the next day's
bookings), made by the builder's service functions; the spawner ticks through a whole
Eastern day and a real worker runs every job. Each job's effect is checked on the account's
data and outbox, and each run's base credits on the ledger.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import select
from werkzeug.wrappers import Request, Response

from billing.ledger import balance_of
from billing.models import LedgerEntry
from tickwork import clock
from tickwork.accounts import create_account
from tickwork.builder import apply_proposal, grammar_proposal
from tickwork.data import Collections, iso_z
from tickwork.models import Execution, Message, User
from tickwork.schedule import EASTERN
from tickwork.spawner.loop import simulate
from tickwork.switches import set_schedule_status

from .conftest import Database
from .factories import fund
from .servers import LocalWSGIServer

DAY = datetime(2026, 11, 24, tzinfo=EASTERN)  # a Tuesday, no clock change
START, END = DAY.astimezone(UTC), (DAY + timedelta(days=1)).astimezone(UTC)
GRANT = 10_000


class ProductsAPI(LocalWSGIServer):
    """A supplier API: GET /products answers two products and records each query."""

    name = "products"

    def __init__(self) -> None:
        super().__init__()
        self.queries: list[dict[str, str]] = []
        self._lock = threading.Lock()

    def wsgi_app(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            self.queries.append(dict(request.args))
        body = [{"id": 101, "name": "Mug", "quantity": 7}, {"id": 102, "name": "Plate", "quantity": 0}]
        return Response(json.dumps(body), mimetype="application/json")(environ, start_response)


def descriptions(api_url: str) -> dict[str, str]:
    """One description per template (keyed by template), and a second reminder of the next day's bookings."""
    return {
        "email_digest": (
            "add a background job that runs every morning at 8 AM and sends an email summary of all orders "
            "from the previous day to the account owner"
        ),
        "sms_reminder": "I want customers to get a reminder text message 24 hours before their appointment",
        "queue_processor": (
            "every 30 minutes during business hours process the import rows queue, 50 at a time"
        ),
        "http_sync": f"every 2 hours sync products from {api_url}/products",
        "cleanup": "every night at 3 am delete sessions older than 30 days",
        "report": "every day at 7 am email a report of signups",
        "next_day_reminder": "every evening at 6 remind customers of tomorrow's bookings by text",
    }


def seed(session: Any, account_id: int) -> None:
    """Data for every job: yesterday's orders and signups, tomorrow's appointments, a queue, old sessions."""
    data = Collections(session, account_id)
    yesterday = DAY - timedelta(days=1)
    for number, hour in enumerate((9, 13, 18), start=1):
        data["orders"].insert(
            {"number": str(1000 + number), "total_cents": 1500 * number,
             "placed_at": iso_z(yesterday.replace(hour=hour))}
        )  # fmt: skip
    data["orders"].insert(
        {"number": "999", "total_cents": 1, "placed_at": iso_z(yesterday - timedelta(days=1))}
    )
    tomorrow = DAY + timedelta(days=1)
    appointments = [
        ("Grace Hopper", "+15555550101", tomorrow.replace(hour=10, minute=30)),
        ("Ada Lovelace", "+15555550102", tomorrow.replace(hour=15)),
        ("Alan Turing", "+15555550103", tomorrow.replace(hour=16)),
        ("Edsger Dijkstra", "+15555550104", tomorrow + timedelta(days=2)),
    ]
    data["appointments"].insert_many(
        {"customer": name, "phone": phone, "starts_at": iso_z(starts)} for name, phone, starts in appointments
    )
    data["appointments"].update({"customer": "Alan Turing"}, {"reminded_at": "2026-11-20T12:00:00Z"})
    data["bookings"].insert_many(
        [
            {
                "customer": "Barbara Liskov",
                "phone": "+15555550201",
                "starts_at": iso_z(tomorrow.replace(hour=9)),
            },
            {
                "customer": "Ken Thompson",
                "phone": "+15555550202",
                "starts_at": iso_z(tomorrow + timedelta(days=1)),
            },
        ]
    )
    data["import_rows"].insert_many(
        [{"row_number": n, "email": f"row{n}@example.test"} for n in range(1, 121)]
    )
    with clock.frozen_at(START - timedelta(days=45)):
        data["sessions"].insert_many([{"token": f"old-{n}"} for n in range(5)])
        data["signups"].insert({"email": "too-old@example.test"})
    with clock.frozen_at(START - timedelta(days=2)):
        data["sessions"].insert_many([{"token": f"new-{n}"} for n in range(3)])
    with clock.frozen_at(START - timedelta(hours=10)):
        data["signups"].insert_many([{"email": f"new{n}@example.test"} for n in range(4)])


def test_a_proposal_from_each_template_runs_a_simulated_day_and_is_billed(
    db: Database, redis_conn: redis.Redis, redis_url: str
) -> None:
    with ProductsAPI() as api, db.session() as session:
        account = create_account(session, "Acme Bakery")
        session.add(User(email="owner@acme.test", account_id=account.id, role="owner", phone="+15555550100"))
        fund(session, account.id, GRANT)
        apps: dict[str, tuple[str, str, int]] = {}  # template -> (slug, job, credits)
        with clock.frozen_at(START - timedelta(hours=2)):
            for template, description in descriptions(api.url).items():
                proposal = grammar_proposal(description, clock.now())
                assert proposal.ok and proposal.job is not None, proposal.to_json()
                assert proposal.job.template == template.replace("next_day_reminder", "sms_reminder")
                applied = apply_proposal(session, proposal, account)
                assert applied.installation.schedule_status == "off"
                set_schedule_status(session, applied.installation, on=True)
                apps[template] = (applied.app.slug, proposal.job.name, proposal.job.credits)
        seed(session, account.id)
        session.commit()
        account_id = account.id

        for _ in simulate(db.sessions, redis_conn, START, END):
            pass
        env = {**os.environ, "DATABASE_URL": db.url, "REDIS_URL": redis_url, "HTTP_ALLOW_PRIVATE": "true"}
        worker = subprocess.run(
            [sys.executable, "-m", "tickwork", "worker", "--burst"],
            env=env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert worker.returncode == 0, worker.stderr[-3000:]
        queries = list(api.queries)

    with db.session() as session:
        runs = session.scalars(select(Execution).where(Execution.account_id == account_id)).all()
        failed = [(run.job, run.status, run.error) for run in runs if run.status != "succeeded"]
        assert failed == []
        per_job = Counter(run.job for run in runs)
        expected_runs = {
            "email_digest": 1,
            "sms_reminder": 24,
            "queue_processor": 23,  # 8:00 to 19:00 every 30 minutes, both ends
            "http_sync": 12,
            "cleanup": 1,
            "report": 1,
            "next_day_reminder": 1,
        }
        for template, (_slug, job, _credits) in apps.items():
            assert per_job[job] == expected_runs[template], (template, per_job)
        data = Collections(session, account_id)
        outbox = session.scalars(select(Message).where(Message.account_id == account_id)).all()

        # email digest: yesterday's three orders, emailed to the owner once
        digests = [m for m in outbox if m.channel == "email" and "Orders digest" in (m.subject or "")]
        assert len(digests) == 1 and digests[0].recipient == "owner@acme.test"
        assert "3 orders" in digests[0].body and "Total: $90.00" in digests[0].body

        # SMS reminder: the two appointments 24-25 hours ahead of some hourly check, each once
        texts = sorted(m.recipient for m in outbox if m.channel == "sms")
        assert texts == ["+15555550101", "+15555550102", "+15555550201"]  # and the next day's booking
        reminded = [a for a in data["appointments"].find() if a.get("reminded_at")]
        assert len(reminded) == 3  # the two sent today, and the one reminded before

        # queue processor: 120 rows in batches of 50, resumed from the cursor, each once
        rows = data["import_rows"].find()
        assert all(row.get("processed_at") for row in rows)

        # HTTP sync: every run asked for the changes since the previous one; two products upserted
        assert len(queries) == 12 and "updated_since" not in queries[0]
        assert all("updated_since" in query for query in queries[1:])
        products = data["products"].find(order_by="external_id")
        assert [(p["external_id"], p["name"], p["quantity"]) for p in products] == [
            ("101", "Mug", 7),
            ("102", "Plate", 0),
        ]

        # cleanup: the sessions older than 30 days are gone, the recent ones stay
        assert sorted(s["token"] for s in data["sessions"].find()) == ["new-0", "new-1", "new-2"]

        # report: yesterday's four signups, stored and emailed
        (report,) = data["reports"].find()
        assert report["count"] == 4 and report["collection"] == "signups"
        assert any("Signups report: 4" in (m.subject or "") for m in outbox)

        # billed: every run paid its job's base credits once; the ledger adds up to the balance
        base = Counter[str]()
        for entry in session.scalars(
            select(LedgerEntry).where(LedgerEntry.account_id == account_id, LedgerEntry.kind == "execution")
        ):
            base[entry.app] += entry.amount
        for template, (slug, _job, credits) in apps.items():
            assert base[slug] == -expected_runs[template] * credits * 1_000_000, template
        balance, _ = balance_of(session, account_id)
        entries = session.scalars(
            select(LedgerEntry.amount).where(LedgerEntry.account_id == account_id)
        ).all()
        assert sum(entries) == balance < GRANT * 1_000_000
