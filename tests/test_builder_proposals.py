"""Proposals from the offline path: the JSON shape, the templates chosen, costs and next runs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tickwork.builder import propose
from tickwork.builder.proposal import JobDraft, assemble, from_json
from tickwork.errors import BadInput
from tickwork.settings import Settings, load_settings

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 10:00 AM Eastern, a Monday
DIGEST_DOC = (
    "add a background job that runs every morning at 8 AM and sends an email summary of all orders "
    "from the previous day to the account owner"
)
REMINDER_DOC = "I want customers to get a reminder text message 24 hours before their appointment"
JSON_KEYS = {
    "status", "schedules", "description", "next_runs", "runs_per_day", "credits_per_run",
    "credits_per_day", "job", "questions", "assumptions", "reason",
}  # fmt: skip


@pytest.fixture
def offline(tmp_path: Path) -> Settings:
    return load_settings({"TICKWORK_HOME": str(tmp_path)})  # no OPENAI_API_KEY: grammar and templates


def test_the_digest_from_the_docs_is_8_am_daily_over_the_previous_eastern_day(offline: Settings) -> None:
    payload = propose(DIGEST_DOC, settings=offline, now=NOW).to_json()
    assert set(payload) == JSON_KEYS
    assert payload["status"] == "ok" and payload["reason"] is None and payload["questions"] == []
    assert payload["schedules"] == ["8:00"]
    assert payload["description"] == "every day at 8:00 AM, Eastern"
    assert payload["next_runs"] == [
        "2026-11-24T08:00:00-05:00",
        "2026-11-25T08:00:00-05:00",
        "2026-11-26T08:00:00-05:00",
    ]
    assert (payload["runs_per_day"], payload["credits_per_run"], payload["credits_per_day"]) == (1, 2, 2)
    job = payload["job"]
    assert job["name"] == "email_orders_digest"
    assert job["params"]["collection"] == "orders" and job["params"]["period"] == "previous_day"
    assert job["params"]["time_field"] == "placed_at"
    assert "def email_orders_digest(" in job["code"] and "ctx.email.send(owner" in job["code"]
    assert any("previous Eastern calendar day" in assumption for assumption in payload["assumptions"])


def test_the_reminder_from_the_docs_is_an_hourly_sms_check_24_to_25_hours_ahead(offline: Settings) -> None:
    proposal = propose(REMINDER_DOC, settings=offline, now=NOW)
    payload = proposal.to_json()
    assert payload["status"] == "ok"
    assert payload["schedules"] == ["*:00"] and payload["runs_per_day"] == 24
    assert payload["credits_per_run"] == 1 and payload["credits_per_day"] == 24
    assert payload["next_runs"][0] == "2026-11-23T11:00:00-05:00"
    params = payload["job"]["params"]
    assert params["collection"] == "appointments" and params["channel"] == "sms"
    assert (params["lead_minutes"], params["window_minutes"]) == (1440, 60)
    assert "ctx.sms.send" in payload["job"]["code"] and '"reminded_at"' in payload["job"]["code"]
    assert proposal.job is not None and proposal.job.template == "sms_reminder"


@pytest.mark.parametrize(
    ("description", "template", "params"),
    [
        (DIGEST_DOC, "email_digest", {"collection": "orders"}),
        ("every weekday at 9:30 am email me a digest of tickets", "email_digest", {"collection": "tickets"}),
        (REMINDER_DOC, "sms_reminder", {"channel": "sms"}),
        ("email guests a reminder 2 hours before their reservation", "sms_reminder", {"channel": "email"}),
        ("every 5 minutes process the import rows queue, 250 at a time", "queue_processor",
         {"collection": "import_rows", "batch_size": 250}),
        ("every hour sync products from https://api.example.com/Products", "http_sync",
         {"collection": "products", "url": "https://api.example.com/Products"}),
        ("every night at 3 am delete sessions older than 2 weeks", "cleanup",
         {"collections": ["sessions"], "retention_days": 14}),
        ("every monday at 9 am email a weekly report of signups", "report",
         {"collection": "signups", "period_days": 7}),
    ],
)  # fmt: skip
def test_the_description_picks_the_template_and_fills_its_params(
    offline: Settings, description: str, template: str, params: dict[str, object]
) -> None:
    proposal = propose(description, settings=offline, now=NOW)
    assert proposal.status == "ok", proposal.to_json()
    assert proposal.job is not None and proposal.job.template == template
    for name, value in params.items():
        assert proposal.job.params[name] == value


def test_a_question_carries_no_schedule_and_no_cost(offline: Settings) -> None:
    payload = propose("every day at 4 send me a digest of orders", settings=offline, now=NOW).to_json()
    assert payload["status"] == "question"
    assert payload["questions"] == ["Did you mean 4:00 AM or 4:00 PM?"]
    assert payload["schedules"] == [] and payload["next_runs"] == []
    assert payload["runs_per_day"] is None and payload["credits_per_day"] is None


def test_a_description_without_a_task_asks_what_the_job_should_do(offline: Settings) -> None:
    payload = propose("every day at 9 am", settings=offline, now=NOW).to_json()
    assert payload["status"] == "question" and payload["job"] is None
    assert "What should the job do?" in payload["questions"][0]


def test_a_rejection_says_why(offline: Settings) -> None:
    payload = propose("every 30 seconds check the queue", settings=offline, now=NOW).to_json()
    assert payload["status"] == "rejected" and payload["schedules"] == []
    assert "seconds" in payload["reason"]


def test_an_empty_description_is_bad_input(offline: Settings) -> None:
    with pytest.raises(BadInput):
        propose("   ", settings=offline)


def test_every_proposal_passes_the_same_validation_whatever_made_it() -> None:
    bad = JobDraft(
        name="job", code="import os\n\ndef job(ctx, **params):\n    return 1\n", params={}, credits=1
    )
    proposal = assemble(schedules=["9:00"], job=bad, now=NOW)
    assert proposal.status == "rejected" and proposal.reason is not None and "imports os" in proposal.reason
    good = JobDraft(name="job", code="def job(ctx, **params):\n    return {}\n", params={}, credits=1)
    cron = assemble(schedules=["0 9 1 * *"], job=good, now=NOW)
    assert cron.status == "rejected" and "H:MM" in (cron.reason or "")
    broken = assemble(schedules=["25:00"], job=good, now=NOW)
    assert broken.status == "rejected" and "does not parse" in (broken.reason or "")
    costly = assemble(schedules=["9:00"], job=JobDraft("job", good.code, {}, credits=11), now=NOW)
    assert costly.status == "rejected" and "1 to 10" in (costly.reason or "")
    clash = assemble(schedules=["9:00"], job=JobDraft("job", good.code, {"ctx": 1}, credits=1), now=NOW)
    assert clash.status == "rejected" and "clashes with the context parameter" in (clash.reason or "")
    fine = assemble(schedules=["9:00", "9:00", "mon-fri 17:30"], job=good, now=NOW)
    assert fine.status == "ok" and fine.schedules == ("9:00", "mon-fri 17:30")
    assert fine.runs_per_day is not None and float(fine.runs_per_day) == pytest.approx(1 + 5 / 7)


def test_a_reviewed_proposal_comes_back_from_its_json_validated_again(offline: Settings) -> None:
    shown = propose(DIGEST_DOC, settings=offline, now=NOW)
    back = from_json(shown.to_json(), NOW, request=DIGEST_DOC)
    assert back.to_json() == shown.to_json()
    assert back.app_name == shown.app_name == "Orders digest"  # named from the template, like the original
    assert from_json(shown.to_json(), NOW, app_name="Morning numbers").app_name == "Morning numbers"
    assert back.job == shown.job  # the template's settings (timeout, retries...) are restored
    tampered = shown.to_json()
    tampered["job"]["code"] = "import os\n" + tampered["job"]["code"]
    refused = from_json(tampered, NOW)
    assert refused.status == "rejected" and "imports os" in (refused.reason or "")
    with pytest.raises(BadInput):
        from_json(propose("every day at 4 email orders", settings=offline, now=NOW).to_json(), NOW)


@pytest.mark.parametrize(
    ("description", "period"),
    [
        (DIGEST_DOC, "previous_day"),
        ("every day at 7 am email me a digest of new leads", "previous_day"),  # once every day
        (
            "every weekday at 8 am send me a list of overdue invoices",
            "since_last_run",
        ),  # Monday covers the weekend
        ("every hour email me new leads", "since_last_run"),
        ("every day at 6 pm email me a summary of today's bookings", "today"),
    ],
)
def test_a_digest_covers_the_period_its_schedule_and_words_imply(
    offline: Settings, description: str, period: str
) -> None:
    proposal = propose(description, settings=offline, now=NOW)
    assert proposal.status == "ok" and proposal.job is not None
    assert proposal.job.params["period"] == period


def test_a_reminder_without_a_lead_time_covers_the_next_day_or_asks(offline: Settings) -> None:
    daily = propose(
        "every evening at 6 remind customers of tomorrow's bookings by text", settings=offline, now=NOW
    )
    assert daily.status == "ok" and daily.job is not None
    assert daily.job.params["collection"] == "bookings" and daily.job.params["next_day"] is True
    assert "each run reminds the bookings of the next Eastern day" in daily.assumptions
    hourly = propose("every hour remind customers of their appointments", settings=offline, now=NOW)
    assert hourly.status == "question"
    assert hourly.questions == (
        "How long before each appointment should the reminder go out (for example 24 hours before)?",
    )
