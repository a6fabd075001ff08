"""Usage billed through the real services: AI tokens at the configured rates, email and SMS."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from billing.ledger import balance_of, set_overdraft
from billing.models import LedgerEntry
from billing.rates import load_rates
from tickwork import clock
from tickwork.billing_meter import LedgerMeter
from tickwork.context.ai import AIClient
from tickwork.context.email import EmailSender
from tickwork.metering import CreditLimitExceeded, InsufficientCredits, UsageRecorder
from tickwork.settings import load_settings

from . import factories
from .conftest import Database
from .servers.openai_server import OpenAIServer, Usage

RATES = load_rates(Path(__file__).resolve().parents[1] / "config" / "rates.toml")
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_ai_calls_are_charged_exactly_at_the_model_rate_with_cached_tokens_at_the_cached_rate(
    db: Database, openai_server: OpenAIServer, tmp_path: Path
) -> None:
    account_id, app_id, execution_id = factories.make_execution(db, "feedback-insights", "summarize_feedback")
    with db.session() as session:
        factories.fund(session, account_id)
        session.commit()
    settings = load_settings(
        {
            "TICKWORK_HOME": str(tmp_path),
            "OPENAI_API_KEY": openai_server.api_key,
            "OPENAI_BASE_URL": openai_server.base_url,
        }
    )
    meter = UsageRecorder(inner=LedgerMeter(db.sessions, RATES))
    client = AIClient(
        db.sessions, settings, meter, account_id=account_id, app_id=app_id, execution_id=execution_id
    )
    openai_server.queue_reply(
        "Two themes.",
        Usage(prompt_tokens=1000, completion_tokens=200, cached_tokens=400, reasoning_tokens=50),
    )
    openai_server.queue_reply("Mini.", Usage(prompt_tokens=3, completion_tokens=1))
    with clock.frozen_at(NOW):
        client.complete([{"role": "user", "content": "Summarize"}], model="gpt-4o-mini")
        client.complete([{"role": "user", "content": "Again"}], model="gpt-4o-mini")
        client.complete(
            [{"role": "user", "content": "Summarize"}], model="gpt-4o-mini"
        )  # same question: stored answer
    with db.session() as session:
        entries = session.scalars(
            select(LedgerEntry).where(LedgerEntry.kind == "ai").order_by(LedgerEntry.id)
        ).all()
        # gpt-4o-mini: 150 input, 75 cached input, 600 output credits per million tokens (config/rates.toml).
        # 600 x 150 + 400 x 75 + 200 x 600 = 240,000 micro-credits; reasoning is inside the 200 output tokens.
        # 3 x 150 + 1 x 600 = 1,050 micro-credits.
        assert [entry.amount for entry in entries] == [-240_000, -1_050]
        assert entries[0].detail["cached_tokens"] == 400 and entries[0].detail["reasoning_tokens"] == 50
        assert entries[0].app == "feedback-insights" and entries[0].job == "summarize_feedback"
        assert balance_of(session, account_id)[0] == 100_000 * 10**6 - 241_050


def test_a_usage_charge_past_the_overdraft_limit_raises_inside_the_job(db: Database, tmp_path: Path) -> None:
    account_id, app_id, execution_id = factories.make_execution(db)
    meter = LedgerMeter(db.sessions, RATES)
    with clock.frozen_at(NOW):
        with pytest.raises(InsufficientCredits):
            meter.base(
                key="base:x",
                account_id=account_id,
                execution_id=execution_id,
                app_id=app_id,
                job="digest",
                credits=1,
            )
        with db.session() as session:
            set_overdraft(session, account_id, 1_500_000, NOW)  # room for one email (1 credit), not two
            session.commit()
        sender = EmailSender(
            db.sessions, load_settings({"TICKWORK_HOME": str(tmp_path)}), UsageRecorder(inner=meter),
            account_id=account_id, app_id=app_id, execution_id=execution_id,
        )  # fmt: skip
        sender.send("owner@acme.test", "First", "fits")
        with pytest.raises(CreditLimitExceeded, match="cannot pay 1.000000 credits"):
            sender.send("owner@acme.test", "Second", "does not fit")
    with db.session() as session:
        assert balance_of(session, account_id)[0] == -1_000_000
