"""How often a schedule runs on average: exact runs per day over the Gregorian calendar.

The calendar repeats every 400 years (146,097 days, exactly 20,871 weeks), so counting how
many of those days fall on each (weekday, day-of-month, month) combination once gives the
exact share of days any day rule matches, with no DST adjustments (a nominal figure).
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Protocol

CYCLE_DAYS = 146_097  # days in the 400-year Gregorian cycle
ALL_DAYS_MASK = (1 << 31) - 1
ALL_MONTHS_MASK = (1 << 12) - 1


class DayRule(Protocol):
    """The day-matching masks of a schedule (see ``Schedule``)."""

    @property
    def weekday_mask(self) -> int: ...
    @property
    def dom_mask(self) -> int: ...
    @property
    def month_mask(self) -> int: ...
    @property
    def day_and(self) -> bool: ...


class SlotRule(DayRule, Protocol):
    @property
    def slot_mask(self) -> int: ...


@lru_cache(maxsize=1)
def day_classes() -> tuple[tuple[int, int, int, int], ...]:
    """Each (weekday bit, day-of-month bit, month bit) combination with its count in 400 years."""
    counts: Counter[tuple[int, int, int]] = Counter()
    for year in range(2000, 2400):
        for month in range(1, 13):
            first_weekday, length = calendar.monthrange(year, month)
            for day in range(1, length + 1):
                counts[(1 << (first_weekday + day - 1) % 7, 1 << (day - 1), 1 << (month - 1))] += 1
    assert sum(counts.values()) == CYCLE_DAYS
    return tuple((weekday, day, month, count) for (weekday, day, month), count in sorted(counts.items()))


def matches_day(rule: DayRule, weekday_bit: int, dom_bit: int, month_bit: int) -> bool:
    """Whether a date, given as its three bits, is one the rule runs on (cron's AND/OR day rule)."""
    if not rule.month_mask & month_bit:
        return False
    if rule.day_and:
        return bool(rule.dom_mask & dom_bit and rule.weekday_mask & weekday_bit)
    return bool(rule.dom_mask & dom_bit or rule.weekday_mask & weekday_bit)


def matching_days(weekday_mask: int, dom_mask: int, month_mask: int, day_and: bool) -> int:
    """How many days of the 400-year cycle a day rule, given as its masks, runs on."""
    if day_and and dom_mask == ALL_DAYS_MASK and month_mask == ALL_MONTHS_MASK:
        return weekday_mask.bit_count() * (CYCLE_DAYS // 7)  # each weekday: exactly 20,871 times
    days = 0
    for weekday, dom, month, count in day_classes():
        if month_mask & month and (
            (dom_mask & dom and weekday_mask & weekday)
            if day_and
            else (dom_mask & dom or weekday_mask & weekday)
        ):
            days += count
    return days


def runs_per_day(rules: Sequence[SlotRule]) -> Fraction:
    """Distinct nominal (date, H:MM) slots per day, averaged over the calendar."""
    total, _ = _slot_totals(rules)
    return Fraction(total, CYCLE_DAYS)


def busiest_day(rules: Sequence[SlotRule]) -> int:
    """The most distinct slots any single matching date has."""
    _, most = _slot_totals(rules)
    return most


def _slot_totals(rules: Sequence[SlotRule]) -> tuple[int, int]:
    slots_by_subset: dict[int, int] = {}
    total = most = 0
    for weekday, dom, month, count in day_classes():
        subset = 0
        for index, rule in enumerate(rules):
            if matches_day(rule, weekday, dom, month):
                subset |= 1 << index
        if subset not in slots_by_subset:
            union = 0
            for index, rule in enumerate(rules):
                if subset >> index & 1:
                    union |= rule.slot_mask
            slots_by_subset[subset] = union.bit_count()
        slots = slots_by_subset[subset]
        total += slots * count
        most = max(most, slots)
    return total, most
