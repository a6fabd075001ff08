"""The metering interface: what the runner and the context services report as they use things.

A ``Meter`` is told about each billable use once, with an idempotency key derived from the
execution and the use (an email's content, an AI call's prompt), so that a re-run job reporting
the same use again is not counted twice. The billing package provides the meter that charges
credits; ``UsageRecorder`` here only counts, and can wrap that meter so the runner gets both the
charge and the per-execution usage summary it stores on ``Execution.usage``.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from tickwork.errors import TickworkError


@dataclass(frozen=True)
class TokenUsage:
    """Tokens of one AI call by kind, as OpenAI counts them.

    ``cached_tokens`` are part of ``prompt_tokens`` (billed at the cached-input rate) and
    ``reasoning_tokens`` part of ``completion_tokens`` (billed as output).
    """

    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0

    def __post_init__(self) -> None:
        for name in ("prompt_tokens", "cached_tokens", "completion_tokens", "reasoning_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"TokenUsage.{name} must be a whole number >= 0; got {value!r}")

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class CreditLimitExceeded(TickworkError):
    """A usage charge would take the account past its overdraft limit.

    Raised by the billing meter; the context services let it propagate, so the job stops
    (after the use that triggered it has been recorded) and the execution fails.
    """

    def __init__(self, message: str, *, account_id: int | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.account_id = account_id
        self.key = key
        self.permanent = True


class InsufficientCredits(CreditLimitExceeded):
    """The account cannot pay an execution's base cost (balance plus overdraft).

    Raised by the billing meter's ``base``; the runner records the execution as skipped with
    reason ``insufficient_credits`` and does not run the job.
    """


class Meter(Protocol):
    """Receives each billable use once per idempotency key; raises CreditLimitExceeded to stop a job."""

    def base(
        self, *, key: str, account_id: int, execution_id: int, app_id: int, job: str, credits: int
    ) -> None:
        """The base cost of an execution that starts (``credits`` from the job's manifest, 1-10).

        Raises InsufficientCredits when the account cannot pay it.
        """
        ...

    def email(
        self, *, key: str, account_id: int, execution_id: int | None, app_id: int | None, messages: int = 1
    ) -> None:
        """Emails handed to SMTP or kept in the outbox (one per recipient)."""
        ...

    def sms(
        self, *, key: str, account_id: int, execution_id: int | None, app_id: int | None, segments: int
    ) -> None:
        """An SMS handed to Twilio or kept in the outbox, by estimated segments."""
        ...

    def ai(
        self,
        *,
        key: str,
        account_id: int,
        execution_id: int | None,
        app_id: int | None,
        model: str,
        usage: TokenUsage,
    ) -> None:
        """One AI model call's tokens by kind."""
        ...


def empty_usage() -> dict[str, Any]:
    """The usage summary of an execution that used nothing."""
    return {"emails": 0, "sms_segments": 0, "ai": {}}


class UsageRecorder(Meter):
    """Counts an execution's usage by kind, once per key, and passes each use on to ``inner``.

    ``usage`` is the JSON-ready summary the runner stores on ``Execution.usage``::

        {"emails": 2, "sms_segments": 3,
         "ai": {"gpt-4o-mini": {"prompt_tokens": 1200, "cached_tokens": 1024,
                                "completion_tokens": 300, "reasoning_tokens": 0, "calls": 1}}}

    A use is counted before it is passed on: it happened even if the billing meter then raises
    ``CreditLimitExceeded``. A repeated key is neither counted nor passed on again.
    """

    def __init__(self, inner: Meter | None = None) -> None:
        self.inner = inner
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self._usage = empty_usage()
        self._base_credits = 0

    @property
    def usage(self) -> dict[str, Any]:
        """A copy of the summary so far."""
        with self._lock:
            return copy.deepcopy(self._usage)

    @property
    def base_credits(self) -> int:
        """The base credits reported by ``base`` (0 until the runner reports them)."""
        with self._lock:
            return self._base_credits

    def _first_time(self, key: str) -> bool:
        """Claim ``key``; False when it was reported before (the caller then does nothing)."""
        if not key:
            raise ValueError("a metering key is required")
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def base(
        self, *, key: str, account_id: int, execution_id: int, app_id: int, job: str, credits: int
    ) -> None:
        with self._lock:
            if not self._first_time(key):
                return
            self._base_credits += credits
        if self.inner is not None:
            self.inner.base(
                key=key,
                account_id=account_id,
                execution_id=execution_id,
                app_id=app_id,
                job=job,
                credits=credits,
            )

    def email(
        self, *, key: str, account_id: int, execution_id: int | None, app_id: int | None, messages: int = 1
    ) -> None:
        if messages < 1:
            raise ValueError(f"an email charge needs at least one message; got {messages}")
        with self._lock:
            if not self._first_time(key):
                return
            self._usage["emails"] += messages
        if self.inner is not None:
            self.inner.email(
                key=key, account_id=account_id, execution_id=execution_id, app_id=app_id, messages=messages
            )

    def sms(
        self, *, key: str, account_id: int, execution_id: int | None, app_id: int | None, segments: int
    ) -> None:
        if segments < 1:
            raise ValueError(f"an SMS charge needs at least one segment; got {segments}")
        with self._lock:
            if not self._first_time(key):
                return
            self._usage["sms_segments"] += segments
        if self.inner is not None:
            self.inner.sms(
                key=key, account_id=account_id, execution_id=execution_id, app_id=app_id, segments=segments
            )

    def ai(
        self,
        *,
        key: str,
        account_id: int,
        execution_id: int | None,
        app_id: int | None,
        model: str,
        usage: TokenUsage,
    ) -> None:
        with self._lock:
            if not self._first_time(key):
                return
            totals = self._usage["ai"].setdefault(
                model,
                {
                    "prompt_tokens": 0,
                    "cached_tokens": 0,
                    "completion_tokens": 0,
                    "reasoning_tokens": 0,
                    "calls": 0,
                },
            )
            totals["prompt_tokens"] += usage.prompt_tokens
            totals["cached_tokens"] += usage.cached_tokens
            totals["completion_tokens"] += usage.completion_tokens
            totals["reasoning_tokens"] += usage.reasoning_tokens
            totals["calls"] += 1
        if self.inner is not None:
            self.inner.ai(
                key=key,
                account_id=account_id,
                execution_id=execution_id,
                app_id=app_id,
                model=model,
                usage=usage,
            )
