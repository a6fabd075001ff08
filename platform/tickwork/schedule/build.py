"""Turning read fields into a ``Schedule``: settle the day rule, render the canonical form.

Both languages end here. Cron's day rule is normalised first (a restricted field ANDed with
an unrestricted one is just the restricted one; an OR with an unrestricted side is every
day), so equal meanings print alike and a cron line that only restricts weekdays prints in
the H:MM language.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from tickwork.schedule.fields import FieldValue
from tickwork.schedule.frequency import CYCLE_DAYS, matching_days
from tickwork.schedule.model import Schedule
from tickwork.schedule.render import render_days, render_field, render_minute, render_plain

ALL_WEEKDAYS = frozenset(range(7))
ALL_DAYS = frozenset(range(1, 32))
ALL_MONTHS = frozenset(range(1, 13))


@dataclass(frozen=True)
class DayRule:
    """Which dates run: cron's day-of-month, month and day-of-week (0 = Monday) with its AND/OR."""

    days: FieldValue
    months: frozenset[int]
    weekdays: FieldValue
    day_and: bool

    @classmethod
    def every_day(cls, weekdays: frozenset[int] = ALL_WEEKDAYS) -> DayRule:
        return cls(FieldValue(ALL_DAYS, True), ALL_MONTHS, FieldValue(weekdays, False), True)

    def normalized(self) -> DayRule:
        """The same dates with the simplest fields: drop the side of the rule that cannot matter."""
        full_days = self.days.values == ALL_DAYS
        full_weekdays = self.weekdays.values == ALL_WEEKDAYS
        if self.day_and and full_days:
            return DayRule(
                FieldValue(ALL_DAYS, True), self.months, FieldValue(self.weekdays.values, False), True
            )
        if self.day_and and full_weekdays:
            return DayRule(
                FieldValue(self.days.values, False), self.months, FieldValue(ALL_WEEKDAYS, True), True
            )
        if not self.day_and and (full_days or full_weekdays):
            return DayRule(FieldValue(ALL_DAYS, True), self.months, FieldValue(ALL_WEEKDAYS, False), True)
        return self


def _mask(values: frozenset[int], low: int) -> int:
    mask = 0
    for value in values:
        mask |= 1 << (value - low)
    return mask


def _cron_weekdays(weekdays: FieldValue) -> str:
    """Cron's day-of-week field (0 = Sunday) for weekdays counted from Monday = 0."""
    cron_days = {(day + 1) % 7 for day in weekdays.values}
    if weekdays.values == ALL_WEEKDAYS and not weekdays.star:
        return "*"
    return render_field(cron_days, weekdays.star, 0, 6, star_high=7, fold=lambda day: day % 7)


def _canonical(minute: FieldValue, hour: FieldValue, rule: DayRule) -> str:
    minutes = render_minute(minute.values, minute.star)
    hours = render_field(hour.values, hour.star, 0, 23)
    if rule.months == ALL_MONTHS and rule.days.values == ALL_DAYS and rule.day_and:
        days = "" if rule.weekdays.values == ALL_WEEKDAYS else render_days(rule.weekdays.values) + " "
        return f"{days}{hours}:{minutes}"
    cron_minutes = render_field(minute.values, minute.star, 0, 59)
    if rule.days.values == ALL_DAYS and rule.day_and:
        days = "*"
    else:
        days = render_field(rule.days.values, rule.days.star, 1, 31)
    months = "*" if rule.months == ALL_MONTHS else render_plain(rule.months, 12)
    return f"{cron_minutes} {hours} {days} {months} {_cron_weekdays(rule.weekdays)}"


def build(source: str, minute: FieldValue, hour: FieldValue, rule: DayRule) -> Schedule:
    """The ``Schedule`` for read fields; its runs per day may be 0 (the caller rejects that)."""
    rule = rule.normalized()
    hours = tuple(sorted(hour.values))
    minutes = tuple(sorted(minute.values))
    minute_mask = _mask(minute.values, 0)
    slot_mask = 0
    for value in hours:
        slot_mask |= minute_mask << (60 * value)
    weekday_mask = _mask(rule.weekdays.values, 0)
    dom_mask = _mask(rule.days.values, 1)
    month_mask = _mask(rule.months, 1)
    share = Fraction(matching_days(weekday_mask, dom_mask, month_mask, rule.day_and), CYCLE_DAYS)
    return Schedule(
        canonical=_canonical(minute, hour, rule),
        fixed=not minute.star and not hour.star,
        minute_mask=minute_mask,
        hour_mask=_mask(hour.values, 0),
        weekday_mask=weekday_mask,
        dom_mask=dom_mask,
        month_mask=month_mask,
        day_and=rule.day_and,
        runs_per_day=share * len(hours) * len(minutes),
        source=source,
        hours=hours,
        minutes=minutes,
        slot_mask=slot_mask,
    )
