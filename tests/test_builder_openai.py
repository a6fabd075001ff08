"""The model path against the local OpenAI-compatible server, through the official client.

The server answers ``chat.completions.parse`` with the JSON a test queues; its proposal then
passes the same validation as the grammar's. API failures fall back to the grammar, noted.
"""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.servers.fixtures import Services
from tests.servers.openai_server import OpenAIServer
from tickwork.builder import propose
from tickwork.builder.openai_path import BUILDER_MODEL, ModelProposal
from tickwork.cli import main
from tickwork.settings import Settings, load_settings

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
DIGEST = "every morning at 8 AM email the owner a summary of yesterday's orders"
GOOD_CODE = (
    "from datetime import timedelta\n\n"
    "def morning_orders(ctx, *, days=1, **params):\n"
    "    since = (ctx.scheduled_for - timedelta(days=days)).strftime('%Y-%m-%dT%H:%M:%SZ')\n"
    "    orders = ctx.data['orders'].find({'placed_at': {'$gte': since}})\n"
    "    ctx.email.send(ctx.account.owner_email, 'Orders', f'{len(orders)} orders')\n"
    "    return {'orders': len(orders)}\n"
)


def settings_for(server: OpenAIServer, tmp_path: Path, base_url: str | None = None) -> Settings:
    return load_settings(
        {
            "TICKWORK_HOME": str(tmp_path),
            "OPENAI_API_KEY": server.api_key,
            "OPENAI_BASE_URL": base_url or server.base_url,
        }
    )


def answer(**changes: Any) -> dict[str, Any]:
    """A model answer: an email digest at 8:00, unless the test changes a part."""
    job = {"name": "morning_orders", "code": GOOD_CODE, "params_json": '{"days": 1}', "credits_per_run": 2}
    body: dict[str, Any] = {
        "template": "email_digest",
        "app_name": "Morning orders",
        "schedules": ["8:00"],
        "questions": [],
        "assumptions": ["sent to the account owner"],
        "rejection": None,
        "job": job,
    }
    job_changes = changes.pop("job", {})
    if job_changes is None:
        body["job"] = None
    else:
        job.update(job_changes)
    body.update(changes)
    return body


def test_the_model_answers_through_structured_output_and_the_proposal_is_validated(
    openai_server: OpenAIServer, tmp_path: Path
) -> None:
    openai_server.queue_reply(answer())
    proposal = propose(DIGEST, settings=settings_for(openai_server, tmp_path), now=NOW)
    payload = proposal.to_json()
    assert proposal.source == "openai" and payload["status"] == "ok", payload
    assert payload["schedules"] == ["8:00"] and payload["next_runs"][0] == "2026-11-24T08:00:00-05:00"
    assert (payload["runs_per_day"], payload["credits_per_run"], payload["credits_per_day"]) == (1, 2, 2)
    assert payload["job"] == {"name": "morning_orders", "code": GOOD_CODE, "params": {"days": 1}}
    assert payload["assumptions"] == ["sent to the account owner"]
    assert proposal.app_name == "Morning orders" and proposal.job is not None and proposal.job.timeout == 120
    [request] = openai_server.chat_requests
    assert request["model"] == BUILDER_MODEL
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["name"] == "ModelProposal"
    assert request["messages"][0]["role"] == "system" and "H:MM" in request["messages"][0]["content"]
    assert request["messages"][1] == {"role": "user", "content": DIGEST}


def test_cron_from_the_model_comes_out_in_the_h_mm_language(
    openai_server: OpenAIServer, tmp_path: Path
) -> None:
    openai_server.queue_reply(answer(schedules=["*/15 8-18 * * 1-5", "0 19 * * 1-5"]))
    payload = propose(DIGEST, settings=settings_for(openai_server, tmp_path), now=NOW).to_json()
    assert payload["status"] == "ok"
    assert payload["schedules"] == ["mon-fri 8-18:*/15", "mon-fri 19:00"]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("import os\n\ndef morning_orders(ctx, **params):\n    return os.environ\n", "imports os"),
        ("def morning_orders(ctx, **params):\n    return open('/etc/passwd').read()\n", "uses open()"),
        (
            "def morning_orders(ctx, **params):\n    return ctx.__class__.__init__.__globals__\n",
            "dunder attribute",
        ),
        ("def morning_orders(ctx, **params):\n    return getattr(ctx, '__dict__')\n", "dunder attribute"),
        ("def morning_orders(ctx):\n    return 1\n", "no **params parameter"),
    ],
)
def test_model_code_that_escapes_the_policy_is_refused_with_the_reason(
    openai_server: OpenAIServer, tmp_path: Path, code: str, reason: str
) -> None:
    openai_server.queue_reply(answer(job={"code": code}))
    payload = propose(DIGEST, settings=settings_for(openai_server, tmp_path), now=NOW).to_json()
    assert payload["status"] == "rejected"
    assert reason in payload["reason"] and payload["next_runs"] == []


def test_the_models_questions_and_rejections_come_through(
    openai_server: OpenAIServer, tmp_path: Path
) -> None:
    settings = settings_for(openai_server, tmp_path)
    openai_server.queue_reply(answer(schedules=[], questions=["Did you mean 4 AM or 4 PM?"]))
    asked = propose("every day at 4 email orders", settings=settings, now=NOW).to_json()
    assert asked["status"] == "question" and asked["questions"] == ["Did you mean 4 AM or 4 PM?"]
    openai_server.queue_reply(answer(schedules=[], rejection="every other day cannot be expressed", job=None))
    rejected = propose("every other day email orders", settings=settings, now=NOW).to_json()
    assert rejected["status"] == "rejected" and rejected["reason"] == "every other day cannot be expressed"
    openai_server.queue_reply(answer(schedules=["0 9 1 * *"]))
    monthly = propose("on the first of the month email orders", settings=settings, now=NOW).to_json()
    assert monthly["status"] == "rejected" and "days of the month" in monthly["reason"]


def assert_grammar_fallback(payload: dict[str, Any], because: str) -> None:
    assert payload["status"] == "ok" and payload["schedules"] == ["8:00"]
    assert payload["job"]["name"] == "email_orders_digest"  # the template, not the model's code
    note = payload["assumptions"][0]
    assert because in note and "comes from the built-in grammar" in note


@pytest.mark.parametrize(
    ("status", "because"),
    [(500, "answered 500"), (429, "answered 429"), (401, "answered 401"), (400, "answered 400")],
)
def test_an_api_error_falls_back_to_the_grammar_with_a_note(
    openai_server: OpenAIServer, tmp_path: Path, status: int, because: str
) -> None:
    openai_server.queue_error(status)
    payload = propose(DIGEST, settings=settings_for(openai_server, tmp_path), now=NOW).to_json()
    assert_grammar_fallback(payload, because)
    assert len(openai_server.chat_requests) == 1  # no retries: the grammar answers at once


def test_an_unreachable_api_falls_back_to_the_grammar(openai_server: OpenAIServer, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings = settings_for(openai_server, tmp_path, base_url=f"http://127.0.0.1:{closed_port}/v1")
    assert_grammar_fallback(propose(DIGEST, settings=settings, now=NOW).to_json(), "could not be reached")


@pytest.mark.parametrize(
    ("queue", "because"),
    [
        (
            lambda server: server.queue_reply('{"template": "email_digest"}'),
            "did not have the expected shape",
        ),
        (lambda server: server.queue_reply("not json at all"), "did not have the expected shape"),
        (lambda server: server.queue_reply(refusal="I cannot help with that."), "declined to answer"),
        (lambda server: server.queue_reply(answer(), finish_reason="length"), "no usable answer"),
    ],
    ids=["wrong-shape", "not-json", "refusal", "truncated"],
)
def test_an_unusable_answer_falls_back_to_the_grammar(
    openai_server: OpenAIServer, tmp_path: Path, queue: Any, because: str
) -> None:
    queue(openai_server)
    payload = propose(DIGEST, settings=settings_for(openai_server, tmp_path), now=NOW).to_json()
    assert_grammar_fallback(payload, because)


def test_the_cli_uses_the_model_when_openai_is_configured(services_env: Services) -> None:
    services_env.openai.queue_reply(ModelProposal.model_validate(answer()))
    result = CliRunner().invoke(main, ["build", DIGEST, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["status"] == "ok" and payload["job"]["name"] == "morning_orders"
    services_env.openai.queue_error(503)
    fallback = json.loads(CliRunner().invoke(main, ["build", DIGEST, "--json"]).stdout)
    assert_grammar_fallback(fallback, "answered 503")
