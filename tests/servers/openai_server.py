"""An OpenAI-compatible HTTP server for tests, reached through the official ``openai`` client.

It answers ``POST /v1/chat/completions`` with real ``chat.completion`` objects and
``GET /v1/models``. Tests program it: ``queue_reply`` and ``queue_error`` set the next
answers in order; with nothing queued a plain request gets a deterministic echo, while a
structured-output request (``response_format`` json_schema or json_object) gets a 400 telling
the test to queue the JSON it expects, since the server cannot invent valid content.

Usage when not given: prompt tokens = words in the messages (at least 1), completion tokens
= words in the reply plus ``reasoning_tokens``, cached tokens = ``cached_tokens`` capped at the
prompt, as OpenAI counts them (cached within prompt, reasoning within completion).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from werkzeug.wrappers import Request, Response

from tests.servers import LocalWSGIServer, RecordedRequest

DEFAULT_API_KEY = "sk-test-tickwork-local"
DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "o4-mini")

# OpenAI's error "type" for each status when a test does not name one.
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "conflict_error",
    422: "invalid_request_error",
    429: "requests",
    500: "server_error",
    502: "server_error",
    503: "server_error",
}


@dataclass(frozen=True)
class Usage:
    """Token counts for one reply; cached is part of prompt, reasoning part of completion."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": self.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }


@dataclass(frozen=True)
class _Reply:
    content: str | None
    usage: Usage | None
    model: str | None
    finish_reason: str
    refusal: str | None


@dataclass(frozen=True)
class _Error:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def _words(text: str) -> int:
    return len(text.split())


def _message_text(message: Mapping[str, Any]) -> str:
    """The text of a chat message whose content is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return ""


def _error_body(message: str, type: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


class OpenAIServer(LocalWSGIServer):
    """A programmable stand-in for the OpenAI API on 127.0.0.1."""

    name = "openai"

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        *,
        models: Iterable[str] = DEFAULT_MODELS,
        cached_tokens: int = 0,
        reasoning_tokens: int = 0,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.models = tuple(models)
        self._defaults = (cached_tokens, reasoning_tokens)
        self.cached_tokens = cached_tokens
        self.reasoning_tokens = reasoning_tokens
        self._lock = threading.Lock()
        self._queue: deque[_Reply | _Error] = deque()
        self._requests: list[RecordedRequest] = []

    @property
    def base_url(self) -> str:
        """What to pass as ``openai.OpenAI(base_url=...)``."""
        return f"{self.url}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[Any]:
        """The JSON bodies of the chat completion requests received so far."""
        return [r["json"] for r in self.requests if r["path"] == "/v1/chat/completions"]

    @property
    def queued(self) -> int:
        """How many queued replies and errors are still waiting for a request."""
        with self._lock:
            return len(self._queue)

    def queue_reply(
        self,
        content: str | Mapping[str, Any] | BaseModel | None = None,
        usage: Usage | Mapping[str, int] | None = None,
        model: str | None = None,
        *,
        finish_reason: str = "stop",
        refusal: str | None = None,
    ) -> None:
        """Answer the next chat completion with ``content`` (a dict or model is sent as JSON).

        ``model`` defaults to the requested one; ``usage`` to counts derived from the request.
        ``refusal`` sends a refusal message (content null); ``finish_reason="length"`` makes
        ``parse()`` raise ``LengthFinishReasonError`` as with a truncated real answer.
        """
        if isinstance(content, BaseModel):
            content = content.model_dump_json()
        elif isinstance(content, Mapping):
            content = json.dumps(content)
        if content is None and refusal is None:
            raise ValueError("queue_reply needs content or a refusal")
        if isinstance(usage, Mapping):
            usage = Usage(**usage)
        with self._lock:
            self._queue.append(_Reply(content, usage, model, finish_reason, refusal))

    def queue_error(
        self,
        status: int,
        message: str | None = None,
        type: str | None = None,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Fail the next ``times`` chat completions with an OpenAI-shaped error.

        The official client retries 408/409/429/5xx (twice by default) and each retry takes
        one queued entry: build the client with ``max_retries=0``, or queue ``times=3``.
        """
        body = _error_body(
            message or f"Simulated error {status} from the test OpenAI server.",
            type or _ERROR_TYPES.get(status, "invalid_request_error"),
            param,
            code or ("rate_limit_exceeded" if status == 429 else None),
        )
        with self._lock:
            for _ in range(times):
                self._queue.append(_Error(status, body, dict(headers or {})))

    def reset(self) -> None:
        """Forget requests and queued answers and restore the usage defaults."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self.cached_tokens, self.reasoning_tokens = self._defaults

    # --- HTTP -----------------------------------------------------------------------------

    def wsgi_app(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        response = self._dispatch(request)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        body = request.get_json(silent=True) if request.method == "POST" else None
        headers = {name.lower(): value for name, value in request.headers.items()}
        with self._lock:
            self._requests.append(
                RecordedRequest(method=request.method, path=request.path, headers=headers, json=body)
            )
        if request.headers.get("Authorization", "") != f"Bearer {self.api_key}":
            return self._incorrect_key(request.headers.get("Authorization", ""))
        path, method = request.path.rstrip("/"), request.method
        if path == "/v1/chat/completions" and method == "POST":
            return self._chat_completion(body)
        if path == "/v1/models" and method == "GET":
            return self._json({"object": "list", "data": [self._model(m) for m in self.models]})
        if path.startswith("/v1/models/") and method == "GET":
            model_id = path.removeprefix("/v1/models/")
            if model_id in self.models:
                return self._json(self._model(model_id))
            message = f"The model '{model_id}' does not exist"
            return self._json(_error_body(message, "invalid_request_error", "model", "model_not_found"), 404)
        return self._json(_error_body(f"Invalid URL ({method} {request.path})", "invalid_request_error"), 404)

    def _incorrect_key(self, authorization: str) -> Response:
        key = authorization.removeprefix("Bearer ").strip()
        if not key:
            message = "You didn't provide an API key. Provide it in an Authorization header (Bearer auth)."
            return self._json(_error_body(message, "invalid_request_error"), 401)
        shown = f"{key[:3]}*****{key[-4:]}" if len(key) > 8 else "*****"
        message = f"Incorrect API key provided: {shown}. You can find your API key in the test fixture."
        return self._json(_error_body(message, "invalid_request_error", None, "invalid_api_key"), 401)

    def _chat_completion(self, body: Any) -> Response:
        if not isinstance(body, dict):
            return self._json(
                _error_body("The request body must be a JSON object.", "invalid_request_error"), 400
            )
        if not body.get("model"):
            return self._json(_error_body("you must provide a model parameter", "invalid_request_error"), 400)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            message = "Missing required parameter: 'messages'."
            return self._json(
                _error_body(message, "invalid_request_error", "messages", "missing_required_parameter"), 400
            )
        if body.get("stream"):
            message = "The test OpenAI server does not stream; call without stream=True."
            return self._json(_error_body(message, "invalid_request_error", "stream"), 400)

        with self._lock:
            queued = self._queue.popleft() if self._queue else None
        if isinstance(queued, _Error):
            return self._json(queued.body, queued.status, queued.headers)
        if queued is None:
            response_format = body.get("response_format")
            if isinstance(response_format, dict) and response_format.get("type") in (
                "json_schema",
                "json_object",
            ):
                schema = response_format.get("json_schema", {}).get("name", response_format["type"])
                message = (
                    f"The test OpenAI server got a structured-output request ({schema!r}) but no reply "
                    "was queued: call openai_server.queue_reply(content=...) with the JSON it should return."
                )
                return self._json(_error_body(message, "invalid_request_error", "response_format"), 400)
            last_user = next((m for m in reversed(messages) if m.get("role") == "user"), messages[-1])
            queued = _Reply(f"Echo: {_message_text(last_user)}", None, None, "stop", None)
        return self._json(self._completion(body, messages, queued))

    def _completion(self, body: dict[str, Any], messages: list[Any], reply: _Reply) -> dict[str, Any]:
        usage = reply.usage
        if usage is None:
            prompt = max(1, sum(_words(_message_text(m)) for m in messages if isinstance(m, Mapping)))
            completion = max(1, _words(reply.content or reply.refusal or "")) + self.reasoning_tokens
            usage = Usage(prompt, completion, min(self.cached_tokens, prompt), self.reasoning_tokens)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": reply.content,
            "refusal": reply.refusal,
            "annotations": [],
        }
        return {
            "id": f"chatcmpl-{secrets.token_hex(12)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": reply.model or body["model"],
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish_reason}
            ],
            "usage": usage.to_json(),
            "service_tier": "default",
            "system_fingerprint": "fp_tickwork_test",
        }

    @staticmethod
    def _model(model_id: str) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": 1_700_000_000, "owned_by": "openai"}

    @staticmethod
    def _json(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
        response = Response(json.dumps(payload), status=status, mimetype="application/json")
        response.headers["x-request-id"] = f"req_{secrets.token_hex(16)}"
        response.headers["openai-processing-ms"] = "1"
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response
