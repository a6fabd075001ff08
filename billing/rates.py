"""The credit price card (``config/rates.toml``), read once and checked strictly.

Prices are decimal strings in credits ("0.5"), turned into integer micro-credits on load, so
no float ever touches money. Each price has an effective date; the one in force at a moment
is the latest whose date has come. A model without a price is an error, never a free call.
"""

from __future__ import annotations

import tomllib
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from billing import MICRO_PER_CREDIT

PER_MILLION = 1_000_000


class RatesError(ValueError):
    """The price card is malformed, or has no price for what is being charged."""


def micro(value: Any, where: str) -> int:
    """Credits as a decimal string (or whole number) to exact micro-credits."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RatesError(f'{where}: give credits as a decimal string like "0.25"; got {value!r}')
    try:
        amount = Decimal(str(value)) * MICRO_PER_CREDIT
    except InvalidOperation:
        raise RatesError(f"{where}: {value!r} is not a number") from None
    if amount < 0 or amount != amount.to_integral_value():
        raise RatesError(f"{where}: {value!r} must be >= 0 with at most 6 decimal places")
    return int(amount)


@dataclass(frozen=True)
class ModelRate:
    """Micro-credits per million tokens of each kind (reasoning tokens are output)."""

    input: int
    cached_input: int
    output: int

    def cost(self, prompt_tokens: int, cached_tokens: int, completion_tokens: int) -> int:
        """Whole micro-credits for one call, rounded up once (never a free fraction).

        OpenAI counts cached tokens inside ``prompt_tokens`` and reasoning tokens inside
        ``completion_tokens``, so neither is added again.
        """
        cached = min(cached_tokens, prompt_tokens)
        uncached = prompt_tokens - cached
        exact = uncached * self.input + cached * self.cached_input + completion_tokens * self.output
        return -(-exact // PER_MILLION)


@dataclass
class _Timeline:
    starts: list[date] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)

    def add(self, effective: date, value: Any) -> None:
        index = bisect_right(self.starts, effective)
        self.starts.insert(index, effective)
        self.values.insert(index, value)

    def at(self, when: date) -> Any:
        index = bisect_right(self.starts, when) - 1
        return self.values[index] if index >= 0 else None


class Rates:
    def __init__(self) -> None:
        self._email = _Timeline()
        self._sms = _Timeline()
        self._models: dict[str, _Timeline] = {}

    @property
    def models(self) -> list[str]:
        return sorted(self._models)

    def email(self, when: datetime | date) -> int:
        """Micro-credits per email message."""
        return self._required(self._email.at(_day(when)), "email", when)

    def sms(self, when: datetime | date) -> int:
        """Micro-credits per SMS segment."""
        return self._required(self._sms.at(_day(when)), "sms", when)

    def model(self, name: str, when: datetime | date) -> ModelRate:
        timeline = self._models.get(name)
        if timeline is None:
            known = ", ".join(self.models) or "none"
            raise RatesError(f"the AI model {name!r} has no rate (priced models: {known})")
        rate: ModelRate = self._required(timeline.at(_day(when)), f"model {name}", when)
        return rate

    @staticmethod
    def _required(value: Any, what: str, when: datetime | date) -> Any:
        if value is None:
            raise RatesError(f"no {what} rate is in force on {_day(when)}")
        return value


def _day(when: datetime | date) -> date:
    return when.date() if isinstance(when, datetime) else when


def _effective(entry: dict[str, Any], where: str) -> date:
    value = entry.get("effective")
    if isinstance(value, datetime) or not isinstance(value, date):
        raise RatesError(f"{where}.effective: give a date like 2026-01-01; got {value!r}")
    return value


def parse_rates(text: str, source: str = "rates.toml") -> Rates:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RatesError(f"{source}: {error}") from None
    unknown = set(document) - {"email", "sms", "models"}
    if unknown:
        raise RatesError(f"{source}: unknown sections {sorted(unknown)} (expected email, sms, models)")
    rates = Rates()
    for section, timeline in (("email", rates._email), ("sms", rates._sms)):
        entries = document.get(section)
        if not isinstance(entries, list) or not entries:
            raise RatesError(f"{source}: [[{section}]] needs at least one entry with effective and credits")
        for index, entry in enumerate(entries):
            where = f"{source}: {section}[{index}]"
            timeline.add(_effective(entry, where), micro(entry.get("credits"), f"{where}.credits"))
    models = document.get("models", [])
    if not isinstance(models, list):
        raise RatesError(f"{source}: models must be an array of tables ([[models]])")
    for index, entry in enumerate(models):
        where = f"{source}: models[{index}]"
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise RatesError(f"{where}.name: every model rate names its model")
        prices = {}
        for kind in ("input", "cached_input", "output"):
            if kind not in entry:
                raise RatesError(f"{where} ({name}): {kind} is missing; a model needs a full rate")
            prices[kind] = micro(entry[kind], f"{where}.{kind}")
        rates._models.setdefault(name, _Timeline()).add(_effective(entry, where), ModelRate(**prices))
    return rates


def load_rates(path: Path) -> Rates:
    try:
        text = path.read_text()
    except OSError as error:
        raise RatesError(f"cannot read the rates file {path}: {error}") from None
    return parse_rates(text, str(path))
