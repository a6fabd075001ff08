"""The parsed schedule: immutable, hashable, and cheap to test against a minute.

A ``Schedule`` is one expression; a ``ScheduleSet`` is the union of a job's expressions and
answers the same questions. Both are built by ``parse``/``parse_many``; after that the rest
of Tickwork works with these objects, never with schedule strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction

from tickwork.schedule import describe as _describe
from tickwork.schedule import fire
from tickwork.schedule.minute import MinuteInfo


@dataclass(frozen=True, slots=True)
class Schedule:
    """One schedule expression, reduced to bit masks over the Eastern calendar.

    Bits: minute 0-59, hour 0-23, weekday 0-6 (Monday = 0), day of month 1-31 as bits 0-30,
    month 1-12 as bits 0-11. ``day_and`` is cron's rule: days must match both day fields
    (True) or either (False). ``fixed`` picks DST rule 1 (fixed-time) over rule 2 (real time).
    """

    canonical: str
    fixed: bool
    minute_mask: int
    hour_mask: int
    weekday_mask: int
    dom_mask: int
    month_mask: int
    day_and: bool
    runs_per_day: Fraction
    source: str = field(default="", compare=False)
    hours: tuple[int, ...] = field(default=(), repr=False, compare=False)
    minutes: tuple[int, ...] = field(default=(), repr=False, compare=False)
    slot_mask: int = field(default=0, repr=False, compare=False)  # bit 60*h+m for each H:MM slot

    @property
    def runs_on_active_day(self) -> int:
        """Nominal runs on a day the schedule matches: |hours| x |minutes|."""
        return len(self.hours) * len(self.minutes)

    def describe(self) -> str:
        """The schedule in plain English, ending with ", Eastern"."""
        return _describe.describe(self) + ", Eastern"

    def next_runs(self, after: datetime, count: int) -> list[datetime]:
        """The next ``count`` fire instants (aware UTC) strictly after the aware ``after``."""
        return fire.next_runs((self,), after, count)

    def fire_times_on(self, local_date: date) -> list[datetime]:
        """The aware UTC instants this schedule fires at on an Eastern date, sorted."""
        return fire.fire_times_on((self,), local_date)

    def is_due(self, m: MinuteInfo) -> bool:
        """Whether the schedule fires at the minute ``m`` describes: a few bit tests, no loops.

        The spawner calls this for every schedule on every tick, so it stays branch-light.
        """
        if not self.month_mask & m.month_bit:
            return False
        if self.day_and:
            if not (self.dom_mask & m.day_bit and self.weekday_mask & m.weekday_bit):
                return False
        elif not (self.dom_mask & m.day_bit or self.weekday_mask & m.weekday_bit):
            return False
        if self.hour_mask & m.hour_bit and self.minute_mask & m.minute_bit:
            return not (self.fixed and m.repeated)
        # Fixed-time slots that fell in the spring gap run together at its first real minute.
        return self.fixed and bool(self.hour_mask & m.gap_hour_mask)


@dataclass(frozen=True, slots=True)
class ScheduleSet:
    """The union of several schedules (a job may list several): runs when any of them does."""

    schedules: tuple[Schedule, ...]
    runs_per_day: Fraction
    runs_on_active_day: int  # the most distinct runs on any single date
    source: str = field(default="", compare=False)

    @property
    def canonical(self) -> str:
        return " | ".join(schedule.canonical for schedule in self.schedules)

    @property
    def fixed(self) -> bool:
        """True when every member is fixed-time (DST rule 1)."""
        return all(schedule.fixed for schedule in self.schedules)

    def describe(self) -> str:
        """Each member's English joined by "; and ", ending with ", Eastern"."""
        parts = [_describe.describe(schedule) for schedule in self.schedules]
        if len(parts) == 1:
            return parts[0] + ", Eastern"
        return "; ".join(parts[:-1]) + "; and " + parts[-1] + ", Eastern"

    def next_runs(self, after: datetime, count: int) -> list[datetime]:
        """The next ``count`` instants (aware UTC) any member fires at, each once, after ``after``."""
        return fire.next_runs(self.schedules, after, count)

    def fire_times_on(self, local_date: date) -> list[datetime]:
        """The distinct aware UTC instants any member fires at on an Eastern date, sorted."""
        return fire.fire_times_on(self.schedules, local_date)

    def is_due(self, m: MinuteInfo) -> bool:
        """Whether any member fires at the minute ``m`` describes."""
        for schedule in self.schedules:
            if schedule.is_due(m):
                return True
        return False
