"""ctx.ai: the official OpenAI client against a local server, usage by kind, one paid call per question."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import Database
from tests.servers.openai_server import OpenAIServer, Usage
from tickwork.context.ai import AIClient, AIError, AIUnavailable, Completion
from tickwork.metering import TokenUsage, UsageRecorder
from tickwork.models import AiCall
from tickwork.settings import Settings, load_settings

QUESTION = [
    {"role": "system", "content": "You summarise a bakery's orders."},
    {"role": "user", "content": "Summarise three orders please"},
]
FAST_RETRY = {"retry-after-ms": "1"}  # the client honours it, so retried errors cost no waiting


def make_settings(tmp_path: Path, server: OpenAIServer | None = None, api_key: str | None = None) -> Settings:
    env = {"TICKWORK_HOME": str(tmp_path), "SECRET_KEY": "test-secret-key-for-ai"}
    if server is not None:
        env |= {"OPENAI_API_KEY": api_key or server.api_key, "OPENAI_BASE_URL": server.base_url}
    return load_settings(env)


def make_execution(db: Database) -> tuple[int, int, int]:
    return factories.make_execution(db, "order-digest", "digest")


def make_client(
    db: Database, settings: Settings, meter: UsageRecorder, execution: tuple[int, int, int]
) -> AIClient:
    account_id, app_id, execution_id = execution
    return AIClient(
        db.sessions, settings, meter, account_id=account_id, app_id=app_id, execution_id=execution_id
    )


def ai_calls(db: Database) -> list[AiCall]:
    with db.session() as session:
        return list(session.scalars(select(AiCall).order_by(AiCall.id)))


def test_without_an_api_key_ai_is_unavailable_and_nothing_is_made_up(db: Database, tmp_path: Path) -> None:
    meter = UsageRecorder()
    client = make_client(db, make_settings(tmp_path), meter, make_execution(db))

    with pytest.raises(AIUnavailable) as raised:
        client.complete(QUESTION)

    assert str(raised.value) == "AI models are not configured: set OPENAI_API_KEY"
    assert raised.value.permanent
    assert ai_calls(db) == [] and meter.usage["ai"] == {}


def test_a_completion_is_answered_recorded_and_metered(
    db: Database, tmp_path: Path, openai_server: OpenAIServer
) -> None:
    meter = UsageRecorder()
    client = make_client(db, make_settings(tmp_path, openai_server), meter, make_execution(db))

    completion = client.complete(QUESTION)

    assert completion == Completion(
        text="Echo: Summarise three orders please",
        model="gpt-4o-mini",
        usage=TokenUsage(prompt_tokens=9, cached_tokens=0, completion_tokens=5, reasoning_tokens=0),
        cached=False,
    )
    [request] = openai_server.chat_requests
    assert request["model"] == "gpt-4o-mini" and request["messages"] == QUESTION
    assert openai_server.requests[0]["headers"]["authorization"] == f"Bearer {openai_server.api_key}"
    [call] = ai_calls(db)
    assert (call.model, call.response_text, call.execution_id) == (
        "gpt-4o-mini",
        "Echo: Summarise three orders please",
        client.execution_id,
    )
    assert (call.prompt_tokens, call.cached_tokens, call.completion_tokens, call.reasoning_tokens) == (
        9,
        0,
        5,
        0,
    )
    assert meter.usage["ai"] == {
        "gpt-4o-mini": {
            "prompt_tokens": 9,
            "cached_tokens": 0,
            "completion_tokens": 5,
            "reasoning_tokens": 0,
            "calls": 1,
        }
    }


def test_cached_and_reasoning_tokens_are_read_from_the_response(
    db: Database, tmp_path: Path, openai_server: OpenAIServer
) -> None:
    meter = UsageRecorder()
    client = make_client(db, make_settings(tmp_path, openai_server), meter, make_execution(db))
    openai_server.queue_reply(
        "Three orders yesterday, $120 in all.",
        usage=Usage(prompt_tokens=1200, completion_tokens=300, cached_tokens=1024, reasoning_tokens=256),
        model="o4-mini-2025-04-16",
    )

    completion = client.complete(QUESTION, model="o4-mini")

    assert completion.text == "Three orders yesterday, $120 in all."
    assert completion.model == "o4-mini"  # the model asked for, which the rates are keyed by
    assert completion.usage == TokenUsage(
        prompt_tokens=1200, cached_tokens=1024, completion_tokens=300, reasoning_tokens=256
    )
    assert meter.usage["ai"]["o4-mini"] == {
        "prompt_tokens": 1200,
        "cached_tokens": 1024,
        "completion_tokens": 300,
        "reasoning_tokens": 256,
        "calls": 1,
    }
    [call] = ai_calls(db)
    assert (call.cached_tokens, call.reasoning_tokens) == (1024, 256)


def test_the_same_question_in_the_same_execution_is_answered_from_the_record(
    db: Database, tmp_path: Path, openai_server: OpenAIServer
) -> None:
    settings = make_settings(tmp_path, openai_server)
    execution = make_execution(db)
    meter, rerun_meter = UsageRecorder(), UsageRecorder()
    openai_server.queue_reply("First answer", usage={"prompt_tokens": 50, "completion_tokens": 20})

    first = make_client(db, settings, meter, execution).complete(QUESTION, temperature=0.2)
    again = make_client(db, settings, rerun_meter, execution).complete(QUESTION, temperature=0.2)

    assert again == Completion(text="First answer", model="gpt-4o-mini", usage=first.usage, cached=True)
    assert not first.cached
    assert len(openai_server.chat_requests) == 1
    assert meter.usage["ai"]["gpt-4o-mini"]["calls"] == 1
    assert rerun_meter.usage["ai"] == {}  # the replay is not paid for again
    assert len(ai_calls(db)) == 1


def test_another_execution_or_other_options_ask_the_model_again(
    db: Database, tmp_path: Path, openai_server: OpenAIServer
) -> None:
    settings = make_settings(tmp_path, openai_server)
    meter = UsageRecorder()
    client = make_client(db, settings, meter, make_execution(db))

    client.complete(QUESTION)
    client.complete(QUESTION, temperature=0.0)
    client.complete(QUESTION, model="gpt-4o")
    make_client(db, settings, meter, make_execution(db)).complete(QUESTION)

    assert len(openai_server.chat_requests) == 4
    assert len(ai_calls(db)) == 4
    assert (meter.usage["ai"]["gpt-4o-mini"]["calls"], meter.usage["ai"]["gpt-4o"]["calls"]) == (3, 1)


def test_options_are_sent_as_the_api_expects(
    db: Database, tmp_path: Path, openai_server: OpenAIServer
) -> None:
    client = make_client(db, make_settings(tmp_path, openai_server), UsageRecorder(), make_execution(db))
    openai_server.queue_reply({"orders": 3})

    completion = client.complete(
        QUESTION, model="gpt-4o", temperature=0.5, max_tokens=200, response_format={"type": "json_object"}
    )

    assert completion.text == '{"orders": 3}'
    [request] = openai_server.chat_requests
    assert request["temperature"] == 0.5
    assert request["max_completion_tokens"] == 200
    assert request["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize(
    ("status", "message", "code"),
    [
        (400, "Invalid value for 'messages'.", None),
        (404, "The model 'gpt-nope' does not exist", "model_not_found"),
        (429, "You exceeded your current quota, please check your plan.", "insufficient_quota"),
    ],
)
def test_api_errors_that_a_retry_cannot_fix_are_permanent(
    db: Database, tmp_path: Path, openai_server: OpenAIServer, status: int, message: str, code: str | None
) -> None:
    meter = UsageRecorder()
    client = make_client(db, make_settings(tmp_path, openai_server), meter, make_execution(db))
    openai_server.queue_error(status, message, code=code, headers=FAST_RETRY, times=3)

    with pytest.raises(AIError) as raised:
        client.complete(QUESTION)

    assert raised.value.permanent and raised.value.status == status
    assert message in str(raised.value)
    assert ai_calls(db) == [] and meter.usage["ai"] == {}


def test_a_wrong_api_key_is_permanent_and_the_key_is_not_shown(
    db: Database, tmp_path: Path, openai_server: OpenAIServer
) -> None:
    settings = make_settings(tmp_path, openai_server, api_key="sk-wrong-key-1234")
    client = make_client(db, settings, UsageRecorder(), make_execution(db))

    with pytest.raises(AIError) as raised:
        client.complete(QUESTION)

    assert raised.value.permanent and raised.value.status == 401
    assert "Incorrect API key" in str(raised.value) and "sk-wrong-key-1234" not in str(raised.value)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limits_and_server_errors_are_retryable_once_the_client_gave_up(
    db: Database, tmp_path: Path, openai_server: OpenAIServer, status: int
) -> None:
    client = make_client(db, make_settings(tmp_path, openai_server), UsageRecorder(), make_execution(db))
    openai_server.queue_error(status, "Please slow down", headers=FAST_RETRY, times=3)

    with pytest.raises(AIError) as raised:
        client.complete(QUESTION)

    assert not raised.value.permanent and raised.value.status == status
    assert "Please slow down" in str(raised.value)
    assert len(openai_server.chat_requests) == 3  # the first try and the client's two retries
    assert ai_calls(db) == []


def test_a_retried_call_that_succeeds_is_paid_once(
    db: Database, tmp_path: Path, openai_server: OpenAIServer
) -> None:
    meter = UsageRecorder()
    client = make_client(db, make_settings(tmp_path, openai_server), meter, make_execution(db))
    openai_server.queue_error(503, "overloaded", headers=FAST_RETRY)

    completion = client.complete(QUESTION)

    assert completion.text.startswith("Echo:") and not completion.cached
    assert len(openai_server.chat_requests) == 2
    assert meter.usage["ai"]["gpt-4o-mini"]["calls"] == 1


def test_an_unreachable_api_is_retryable(db: Database, tmp_path: Path) -> None:
    with OpenAIServer() as stopped:
        settings = make_settings(tmp_path, stopped)
    client = make_client(db, settings, UsageRecorder(), make_execution(db))

    with pytest.raises(AIError) as raised:
        client.complete(QUESTION)

    assert not raised.value.permanent and "could not reach the AI API" in str(raised.value)


def test_a_refusal_is_a_permanent_error_and_its_tokens_are_still_metered(
    db: Database, tmp_path: Path, openai_server: OpenAIServer
) -> None:
    meter = UsageRecorder()
    client = make_client(db, make_settings(tmp_path, openai_server), meter, make_execution(db))
    openai_server.queue_reply(
        refusal="I can't help with that.", usage={"prompt_tokens": 9, "completion_tokens": 6}
    )

    with pytest.raises(AIError, match="the model refused: I can't help with that.") as raised:
        client.complete(QUESTION)

    assert raised.value.permanent
    assert meter.usage["ai"]["gpt-4o-mini"]["completion_tokens"] == 6


@pytest.mark.parametrize(
    ("messages", "options", "problem"),
    [
        ([], {}, "non-empty list"),
        ("hello", {}, "non-empty list"),
        ([{"role": "robot", "content": "hi"}], {}, "must be one of system, user, assistant"),
        ([{"role": "user"}], {}, "'content'] must be a string"),
        ([{"role": "user", "content": "hi", "tools": []}], {}, "unknown keys: tools"),
        (["hi"], {}, "must be a dict"),
        (QUESTION, {"model": ""}, "model must be a model name"),
        (QUESTION, {"temperature": 3}, "temperature must be a number from 0 to 2"),
        (QUESTION, {"max_tokens": 0}, "max_tokens must be a whole number"),
        (QUESTION, {"response_format": {"type": "xml"}}, "response_format must be"),
    ],
)
def test_bad_calls_are_refused_before_the_api_is_asked(
    db: Database,
    tmp_path: Path,
    openai_server: OpenAIServer,
    messages: Any,
    options: dict[str, Any],
    problem: str,
) -> None:
    client = make_client(db, make_settings(tmp_path, openai_server), UsageRecorder(), make_execution(db))

    with pytest.raises(AIError) as raised:
        client.complete(messages, **options)

    assert problem in str(raised.value) and raised.value.permanent
    assert openai_server.requests == [] and ai_calls(db) == []
