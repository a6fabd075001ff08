"""When a schedule fires: the DST rules applied to whole Eastern dates.

Rule 1 (fixed-time: hour and minute fields both start with a digit): each local (date, H:MM)
slot runs once; a slot in the spring gap runs when the gap ends (3:00 EDT), and a slot in the
fall-back hour runs at its first (EDT) pass. Rule 2 (any other schedule): run at every real
minute whose Eastern reading matches, so gap slots never run and fall-back slots run twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from tickwork.schedule.eastern import (
    WallKind,
    after_gap,
    day_bounds,
    is_plain_day,
    to_local,
    to_utc,
    wall_kind,
)

if TYPE_CHECKING:
    from tickwork.schedule.model import Schedule

GIVE_UP = timedelta(days=50 * 366)  # a schedule with no run for 50 years never runs
_DAY = timedelta(days=1)


def runs_on(schedule: Schedule, local_date: date) -> bool:
    """Whether the schedule's day rule (weekday, day of month, month) matches an Eastern date."""
    month_bit = 1 << (local_date.month - 1)
    if not schedule.month_mask & month_bit:
        return False
    dom_ok = schedule.dom_mask >> (local_date.day - 1) & 1
    weekday_ok = schedule.weekday_mask >> local_date.weekday() & 1
    return bool(dom_ok and weekday_ok) if schedule.day_and else bool(dom_ok or weekday_ok)


def _slot_instants(schedule: Schedule, local_date: date, plain: bool, midnight: datetime) -> set[datetime]:
    """One schedule's fire instants on a date it runs on, by DST rule 1 or 2."""
    if plain:
        # No clock change today: every reading happens once, a fixed distance from midnight.
        return {
            midnight + timedelta(minutes=60 * hour + minute)
            for hour in schedule.hours
            for minute in schedule.minutes
        }
    instants: set[datetime] = set()
    for hour in schedule.hours:
        for minute in schedule.minutes:
            wall = datetime.combine(local_date, time(hour, minute))
            kind = wall_kind(wall)
            if kind is WallKind.NORMAL:
                instants.add(to_utc(wall))
            elif kind is WallKind.REPEATED:
                instants.add(to_utc(wall, fold=0))
                if not schedule.fixed:
                    instants.add(to_utc(wall, fold=1))
            elif schedule.fixed:
                instants.add(after_gap(wall))
    return instants


def fire_times_on(schedules: Sequence[Schedule], local_date: date) -> list[datetime]:
    """The distinct aware UTC instants any of the schedules fires at on an Eastern date, sorted."""
    active = [schedule for schedule in schedules if runs_on(schedule, local_date)]
    if not active:
        return []
    plain = is_plain_day(local_date)
    midnight, _ = day_bounds(local_date)
    instants: set[datetime] = set()
    for schedule in active:
        instants |= _slot_instants(schedule, local_date, plain, midnight)
    return sorted(instants)


def next_runs(schedules: Sequence[Schedule], after: datetime, count: int) -> list[datetime]:
    """The next ``count`` distinct fire instants (aware UTC) strictly after the aware ``after``.

    Walks Eastern dates from the date of ``after``: no run on an earlier date can come later
    than ``after``. Months no schedule runs in are skipped whole. Stops early only when 50
    years pass without a run, or at the end of the calendar.
    """
    if after.tzinfo is None:
        raise ValueError("next_runs needs an aware datetime for `after`")
    if count < 0:
        raise ValueError("count cannot be negative")
    months = 0
    for schedule in schedules:
        months |= schedule.month_mask
    runs: list[datetime] = []
    day = to_local(after).date()
    last_found = day
    try:
        while len(runs) < count and day - last_found <= GIVE_UP:
            if not months >> (day.month - 1) & 1:
                day = (day.replace(day=1) + timedelta(days=31)).replace(day=1)
                continue
            for instant in fire_times_on(schedules, day):
                if instant > after:
                    runs.append(instant)
                    last_found = day
                    if len(runs) == count:
                        break
            day += _DAY
    except OverflowError:
        pass  # ran past year 9999
    return runs
