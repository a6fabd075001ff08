"""``ctx.ai``: chat completions through the official OpenAI client, metered by tokens per model.

Each call is recorded as an ``AiCall`` row under a key derived from the execution, the model,
the messages and the options. A re-run of the same execution asking the same question gets
the stored answer (``cached=True``) without calling the API or paying again. Without
OPENAI_API_KEY the call fails with ``AIUnavailable``: a job never gets a made-up answer.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import openai
from openai.types.chat import ChatCompletion
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tickwork.errors import TickworkError
from tickwork.metering import Meter, TokenUsage
from tickwork.models import AiCall
from tickwork.settings import Settings

DEFAULT_MODEL = "gpt-4o-mini"
# The client's limits: seconds per request, and retries of 408/409/429/5xx and connection errors.
OPENAI_TIMEOUT_SECONDS = 60.0
OPENAI_MAX_RETRIES = 2
ROLES = ("system", "user", "assistant")
MAX_MESSAGES = 200
MAX_MODEL_CHARS = 100  # AiCall.model
RESPONSE_FORMAT_TYPES = ("text", "json_object", "json_schema")
# HTTP statuses worth retrying later; the other 4xx mean the request itself is wrong.
_RETRYABLE_STATUSES = frozenset({408, 409, 429})


class AIError(TickworkError):
    """An AI call failed. ``permanent``: retrying the same call will not help."""

    def __init__(self, message: str, *, permanent: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status = status


class AIUnavailable(AIError):
    """No AI provider is configured (OPENAI_API_KEY is not set)."""

    def __init__(self) -> None:
        super().__init__("AI models are not configured: set OPENAI_API_KEY", permanent=True)


@dataclass(frozen=True)
class Completion:
    """A model's answer. ``cached``: replayed from an earlier run of the same execution."""

    text: str
    model: str
    usage: TokenUsage
    cached: bool


def validate_messages(messages: object) -> list[dict[str, str]]:
    """A non-empty list of ``{"role": system|user|assistant, "content": str}``, copied."""
    if not isinstance(messages, list | tuple) or not messages:
        raise AIError(
            'messages must be a non-empty list like [{"role": "user", "content": "..."}]', permanent=True
        )
    if len(messages) > MAX_MESSAGES:
        raise AIError(f"at most {MAX_MESSAGES} messages per call; got {len(messages)}", permanent=True)
    checked: list[dict[str, str]] = []
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise AIError(f"messages[{index}] must be a dict with 'role' and 'content'", permanent=True)
        extra = set(message) - {"role", "content"}
        if extra:
            raise AIError(
                f"messages[{index}] has unknown keys: {', '.join(sorted(map(str, extra)))}", permanent=True
            )
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise AIError(
                f"messages[{index}]['role'] must be one of {', '.join(ROLES)}; got {role!r}", permanent=True
            )
        if not isinstance(content, str):
            raise AIError(f"messages[{index}]['content'] must be a string", permanent=True)
        checked.append({"role": str(role), "content": content})
    return checked


def _options(temperature: object, max_tokens: object, response_format: object) -> dict[str, Any]:
    """The optional parameters that were given, checked, as sent to the API."""
    options: dict[str, Any] = {}
    if temperature is not None:
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, int | float)
            or not math.isfinite(temperature)
            or not 0 <= temperature <= 2
        ):
            raise AIError(f"temperature must be a number from 0 to 2; got {temperature!r}", permanent=True)
        options["temperature"] = float(temperature)
    if max_tokens is not None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise AIError(f"max_tokens must be a whole number >= 1; got {max_tokens!r}", permanent=True)
        options["max_completion_tokens"] = max_tokens
    if response_format is not None:
        if (
            not isinstance(response_format, Mapping)
            or response_format.get("type") not in RESPONSE_FORMAT_TYPES
        ):
            raise AIError(
                'response_format must be a dict like {"type": "json_object"} (type: '
                f"{', '.join(RESPONSE_FORMAT_TYPES)})",
                permanent=True,
            )
        options["response_format"] = dict(response_format)
    return options


def ai_key(
    execution_id: int | None, model: str, messages: Sequence[Mapping[str, str]], options: Mapping[str, Any]
) -> str:
    """The idempotency key of an AI call (also its metering key)."""
    canonical = json.dumps([model, list(messages), dict(options)], sort_keys=True, ensure_ascii=False)
    return f"ai:{execution_id}:{hashlib.sha256(canonical.encode()).hexdigest()}"[:200]


def token_usage(completion: ChatCompletion) -> TokenUsage:
    """Tokens by kind from a response; any count the API leaves out is 0."""
    usage = completion.usage
    if usage is None:
        return TokenUsage()
    prompt_details, completion_details = usage.prompt_tokens_details, usage.completion_tokens_details
    return TokenUsage(
        prompt_tokens=usage.prompt_tokens or 0,
        cached_tokens=(prompt_details.cached_tokens if prompt_details else None) or 0,
        completion_tokens=usage.completion_tokens or 0,
        reasoning_tokens=(completion_details.reasoning_tokens if completion_details else None) or 0,
    )


def _api_failure(error: openai.OpenAIError) -> AIError:
    """The client's exception as AIError, with the API's own message."""
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        code = getattr(error, "code", None)
        retryable = (status in _RETRYABLE_STATUSES or status >= 500) and code != "insufficient_quota"
        return AIError(
            f"the AI API answered {status}: {error.message}", permanent=not retryable, status=status
        )
    if isinstance(error, openai.APITimeoutError):
        return AIError(f"the AI API did not answer within {OPENAI_TIMEOUT_SECONDS:g} s", permanent=False)
    if isinstance(error, openai.APIConnectionError):
        return AIError(f"could not reach the AI API: {error.message}", permanent=False)
    return AIError(f"the AI call failed: {error}", permanent=True)


class AIClient:
    """``ctx.ai`` for one execution."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        meter: Meter,
        *,
        account_id: int,
        app_id: int | None,
        execution_id: int | None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.meter = meter
        self.account_id = account_id
        self.app_id = app_id
        self.execution_id = execution_id

    def complete(
        self,
        messages: Sequence[Mapping[str, str]],
        model: str = DEFAULT_MODEL,
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        response_format: Mapping[str, Any] | None = None,
    ) -> Completion:
        """Ask ``model`` to continue ``messages``; the same call again in this execution is replayed.

        Steps: validate; return the stored answer if this call's key has one; call the API;
        record the AiCall row (committed); meter the tokens.
        """
        checked = validate_messages(messages)
        if not isinstance(model, str) or not model.strip() or len(model) > MAX_MODEL_CHARS:
            raise AIError(
                f"model must be a model name such as {DEFAULT_MODEL!r}; got {model!r}", permanent=True
            )
        options = _options(temperature, max_tokens, response_format)
        if self.settings.openai_api_key is None:
            raise AIUnavailable()
        key = ai_key(self.execution_id, model, checked, options)
        stored = self._stored(key)
        if stored is not None:
            return stored

        response = self._call(model, checked, options)
        usage = token_usage(response)
        choice = response.choices[0] if response.choices else None
        refusal = choice.message.refusal if choice is not None else None
        text = (choice.message.content if choice is not None else None) or ""
        if refusal and not text:
            self._meter(key, model, usage)  # the tokens were spent all the same
            raise AIError(f"the model refused: {refusal}", permanent=True)
        if self._record(key, model, usage, text):
            self._meter(key, model, usage)
        return Completion(text=text, model=model, usage=usage, cached=False)

    def _stored(self, key: str) -> Completion | None:
        with self.sessions() as session:
            call = session.scalar(select(AiCall).where(AiCall.idempotency_key == key))
            if call is None:
                return None
            usage = TokenUsage(
                prompt_tokens=call.prompt_tokens,
                cached_tokens=call.cached_tokens,
                completion_tokens=call.completion_tokens,
                reasoning_tokens=call.reasoning_tokens,
            )
            return Completion(text=call.response_text, model=call.model, usage=usage, cached=True)

    def _call(self, model: str, messages: list[dict[str, str]], options: dict[str, Any]) -> ChatCompletion:
        try:
            with openai.OpenAI(
                api_key=self.settings.openai_api_key,
                base_url=self.settings.openai_base_url or None,
                timeout=OPENAI_TIMEOUT_SECONDS,
                max_retries=OPENAI_MAX_RETRIES,
            ) as client:
                return client.chat.completions.create(model=model, messages=messages, **options)  # type: ignore[arg-type]
        except openai.OpenAIError as error:
            raise _api_failure(error) from error

    def _record(self, key: str, model: str, usage: TokenUsage, text: str) -> bool:
        """Store the call; False when a concurrent run of the same call stored it first."""
        try:
            with self.sessions() as session, session.begin():
                session.add(
                    AiCall(
                        idempotency_key=key,
                        account_id=self.account_id,
                        app_id=self.app_id,
                        execution_id=self.execution_id,
                        model=model,
                        prompt_tokens=usage.prompt_tokens,
                        cached_tokens=usage.cached_tokens,
                        completion_tokens=usage.completion_tokens,
                        reasoning_tokens=usage.reasoning_tokens,
                        response_text=text,
                    )
                )
        except IntegrityError:
            if self._stored(key) is None:
                raise
            return False
        return True

    def _meter(self, key: str, model: str, usage: TokenUsage) -> None:
        self.meter.ai(
            key=key,
            account_id=self.account_id,
            execution_id=self.execution_id,
            app_id=self.app_id,
            model=model,
            usage=usage,
        )
