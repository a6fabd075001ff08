"""`tickwork accounts grant|list` and `tickwork billing report` on both lanes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from billing.ledger import Posting, post
from billing.models import LedgerEntry
from tickwork import clock
from tickwork.accounts import create_account, find_app, install
from tickwork.catalog import sync_catalog
from tickwork.cli import main

from .conftest import Database

REPO_APPS = Path(__file__).resolve().parents[1] / "apps"
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 2), f"{result.output}\n{result.exception!r}"
    return result.exit_code, result.output


def test_grants_show_in_the_account_list_with_projected_spend_and_days_left(db: Database) -> None:
    with db.session() as session:
        sync_catalog(session, REPO_APPS)
        account = create_account(session, "Acme")
        install(session, account, find_app(session, "import-processor"))  # 1,440 runs a day at 1 credit
        session.commit()
    with clock.frozen_at(NOW):
        code, output = invoke("accounts", "grant", "acme", "2880", "--key", "welcome")
        assert code == 0 and "granted 2880.000000 credits" in output
        code, output = invoke("accounts", "grant", "acme", "2880", "--key", "welcome")
        assert code == 0 and "already granted" in output
        code, output = invoke("accounts", "list", "--format", "json")
    assert code == 0
    (row,) = json.loads(output)
    assert row["id"] == account.id and row["name"] == "Acme"
    assert row["balance"] == "2880.000000" and row["overdraft"] == "0.000000"
    assert row["projected_credits_per_day"] == "1440.000000"
    assert row["days_left"] == 2.0


def test_bad_grants_exit_2_with_a_message(db: Database) -> None:
    with db.session() as session:
        create_account(session, "Acme")
        session.commit()
    for args, message in (
        (("acme", "lots"), "not a number"),
        (("--", "acme", "-5"), ">= 0"),
        (("acme", "0"), "more than 0"),
        (("nobody", "5"), "no account 'nobody'"),
    ):
        code, output = invoke("accounts", "grant", *args)
        assert code == 2 and message in output


def test_the_report_adds_up_to_the_ledger_to_the_micro_credit(db: Database) -> None:
    with db.session() as session:
        acme, globex = create_account(session, "Acme"), create_account(session, "Globex")
        for account in (acme, globex):
            post(
                session,
                Posting(key=f"g{account.id}", account_id=account.id, kind="grant", amount=10**9, at=NOW),
            )
            for n in range(3):
                post(
                    session,
                    Posting(
                        key=f"b{account.id}-{n}", account_id=account.id, kind="execution", amount=-2_000_000,
                        at=NOW, app="order-digest", job="daily_summary",
                    ),
                )  # fmt: skip
            post(
                session,
                Posting(
                    key=f"ai{account.id}", account_id=account.id, kind="ai", amount=-240_001, at=NOW,
                    app="feedback-insights", job="summarize_feedback",
                ),
            )  # fmt: skip
        session.commit()
        spent = -session.scalar(select(func.sum(LedgerEntry.amount)).where(LedgerEntry.kind != "grant"))
    with clock.frozen_at(NOW):
        code, output = invoke("billing", "report", "--by", "kind", "--format", "json")
    assert code == 0
    document = json.loads(output)
    assert document["from"] == "2026-11-01" and document["to"] == "2026-11-23"
    assert document["total_credits"] == f"{spent / 1_000_000:.6f}" == "12.480002"
    assert {(r["account"], r["kind"], r["count"], r["credits"]) for r in document["rows"]} == {
        (acme.id, "execution", 3, "6.000000"),
        (acme.id, "ai", 1, "0.240001"),
        (globex.id, "execution", 3, "6.000000"),
        (globex.id, "ai", 1, "0.240001"),
    }
    with clock.frozen_at(NOW):
        code, output = invoke("billing", "report", "--account", "acme", "--by", "job", "--format", "csv")
    assert code == 0
    assert output.splitlines() == [
        "account,app,job,day,kind,count,credits",
        f"{acme.id},feedback-insights,summarize_feedback,,,1,0.240001",
        f"{acme.id},order-digest,daily_summary,,,3,6.000000",
    ]
    code, output = invoke("billing", "report", "--from", "2026-11-30", "--to", "2026-11-01")
    assert code == 2 and "--to must not be before --from" in output
