"""UsageRecorder: usage by kind per execution, counted once per key, passed on to a billing meter."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from tickwork.metering import CreditLimitExceeded, InsufficientCredits, Meter, TokenUsage, UsageRecorder

IDS: dict[str, Any] = {"account_id": 7, "execution_id": 42, "app_id": 3}


@dataclass
class LedgerMeter:
    """A meter that keeps every charge it is passed, and can refuse usage past a limit."""

    limit_emails: int | None = None
    charges: list[tuple[str, str]] = field(default_factory=list)

    def base(
        self, *, key: str, account_id: int, execution_id: int, app_id: int, job: str, credits: int
    ) -> None:
        self.charges.append(("base", key))

    def email(
        self, *, key: str, account_id: int, execution_id: int | None, app_id: int | None, messages: int = 1
    ) -> None:
        sent = sum(1 for kind, _ in self.charges if kind == "email")
        if self.limit_emails is not None and sent >= self.limit_emails:
            raise CreditLimitExceeded("over the overdraft limit", account_id=account_id, key=key)
        self.charges.append(("email", key))

    def sms(
        self, *, key: str, account_id: int, execution_id: int | None, app_id: int | None, segments: int
    ) -> None:
        self.charges.append(("sms", key))

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
        self.charges.append(("ai", key))


def test_a_fresh_recorder_reports_no_usage() -> None:
    assert UsageRecorder().usage == {"emails": 0, "sms_segments": 0, "ai": {}}


def test_usage_is_summed_by_kind_and_by_model() -> None:
    recorder = UsageRecorder()
    recorder.email(key="email:42:a", messages=2, **IDS)
    recorder.email(key="email:42:b", **IDS)
    recorder.sms(key="sms:42:a", segments=3, **IDS)
    recorder.ai(key="ai:42:a", model="gpt-4o-mini", usage=TokenUsage(1200, 1024, 300, 0), **IDS)
    recorder.ai(key="ai:42:b", model="gpt-4o-mini", usage=TokenUsage(10, 0, 5, 0), **IDS)
    recorder.ai(key="ai:42:c", model="o4-mini", usage=TokenUsage(20, 0, 70, 64), **IDS)

    assert recorder.usage == {
        "emails": 3,
        "sms_segments": 3,
        "ai": {
            "gpt-4o-mini": {
                "prompt_tokens": 1210,
                "cached_tokens": 1024,
                "completion_tokens": 305,
                "reasoning_tokens": 0,
                "calls": 2,
            },
            "o4-mini": {
                "prompt_tokens": 20,
                "cached_tokens": 0,
                "completion_tokens": 70,
                "reasoning_tokens": 64,
                "calls": 1,
            },
        },
    }
    assert json.loads(json.dumps(recorder.usage)) == recorder.usage  # stored as JSON on the execution


def test_a_repeated_key_is_counted_once_and_passed_on_once() -> None:
    ledger = LedgerMeter()
    recorder = UsageRecorder(ledger)

    for _ in range(3):
        recorder.email(key="email:42:same", **IDS)
        recorder.sms(key="sms:42:same", segments=2, **IDS)
        recorder.ai(key="ai:42:same", model="gpt-4o", usage=TokenUsage(5, 0, 5, 0), **IDS)
        recorder.base(key="base:42", account_id=7, execution_id=42, app_id=3, job="digest", credits=2)

    assert recorder.usage["emails"] == 1
    assert recorder.usage["sms_segments"] == 2
    assert recorder.usage["ai"]["gpt-4o"]["calls"] == 1
    assert recorder.base_credits == 2
    assert ledger.charges == [
        ("email", "email:42:same"),
        ("sms", "sms:42:same"),
        ("ai", "ai:42:same"),
        ("base", "base:42"),
    ]


def test_usage_is_counted_even_when_the_billing_meter_refuses_the_charge() -> None:
    recorder = UsageRecorder(LedgerMeter(limit_emails=1))
    recorder.email(key="email:42:first", **IDS)

    with pytest.raises(CreditLimitExceeded) as raised:
        recorder.email(key="email:42:second", **IDS)

    assert raised.value.key == "email:42:second" and raised.value.permanent
    assert recorder.usage["emails"] == 2  # the email went out before its charge was refused


def test_the_usage_summary_is_a_copy() -> None:
    recorder = UsageRecorder()
    summary = recorder.usage
    summary["emails"] = 99

    assert recorder.usage["emails"] == 0


def test_the_recorder_satisfies_the_meter_interface() -> None:
    meter: Meter = UsageRecorder()
    meter.sms(key="sms:1:x", account_id=1, execution_id=None, app_id=None, segments=1)
    assert isinstance(meter, UsageRecorder) and meter.usage["sms_segments"] == 1


def test_insufficient_credits_is_a_credit_limit_error() -> None:
    assert issubclass(InsufficientCredits, CreditLimitExceeded)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.email(key="", **IDS), "key is required"),
        (lambda r: r.email(key="email:1:x", messages=0, **IDS), "at least one message"),
        (lambda r: r.sms(key="sms:1:x", segments=0, **IDS), "at least one segment"),
    ],
)
def test_bad_charges_are_refused(call: Any, message: str) -> None:
    recorder = UsageRecorder()
    with pytest.raises(ValueError, match=message):
        call(recorder)
    assert recorder.usage == {"emails": 0, "sms_segments": 0, "ai": {}}


@pytest.mark.parametrize("bad", [-1, 1.5, True, None])
def test_token_counts_are_whole_numbers_at_least_zero(bad: Any) -> None:
    with pytest.raises(ValueError, match="prompt_tokens"):
        TokenUsage(prompt_tokens=bad)
    assert TokenUsage(3, 1, 4, 2).total_tokens == 7
