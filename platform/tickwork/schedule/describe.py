"""Schedules in plain English: short for the common shapes, explicit for odd ones.

``9:00`` is "every day at 9:00 AM"; ``mon-fri 8-19:*/15`` is "every 15 minutes from 8:00 AM to
7:45 PM, Monday to Friday". Whatever the shape, the words name every hour and minute the
schedule runs at, so an odd set falls back to lists rather than to a vague summary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from tickwork.schedule.render import runs

if TYPE_CHECKING:
    from tickwork.schedule.model import Schedule

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_LISTED_TIMES = 4  # up to this many runs a day are spelled out one by one


def describe(schedule: Schedule) -> str:
    """English for one schedule, without the trailing ", Eastern"."""
    times, listed = _time_phrase(list(schedule.hours), list(schedule.minutes))
    days, months = _day_phrase(schedule)
    weekdays = _bits(schedule.weekday_mask, 0)
    if listed and not months and days.endswith(" only") and len(weekdays) == 1:
        return f"every {WEEKDAYS[weekdays[0]]} {times}"  # "every Sunday at midnight"
    if listed and not days:
        times = f"every day {times}"
    if not days:
        return f"{times} {months}" if months else times
    return f"{times}, {days}, {months}" if months else f"{times}, {days}"


# --- words for numbers, times and lists -------------------------------------------------------


def join(items: Sequence[str], conjunction: str = "and") -> str:
    """Items as English: a; a and b; a, b and c."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def clock(hour: int, minute: int) -> str:
    """A wall time: "9:05 AM", "midnight", "noon"."""
    if minute == 0 and hour in (0, 12):
        return "midnight" if hour == 0 else "noon"
    return f"{(hour + 11) % 12 + 1}:{minute:02d} {'AM' if hour < 12 else 'PM'}"


def hour_name(hour: int) -> str:
    """An hour on its own: "8 AM", "midnight", "noon"."""
    if hour in (0, 12):
        return "midnight" if hour == 0 else "noon"
    return f"{(hour + 11) % 12 + 1} {'AM' if hour < 12 else 'PM'}"


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _every(count: int, unit: str) -> str:
    return f"every {unit}" if count == 1 else f"every {count} {unit}s"


def _step(values: Sequence[int]) -> int | None:
    """The common difference of 3+ sorted values in arithmetic progression, else None."""
    if len(values) < 3:
        return None
    steps = {b - a for a, b in zip(values, values[1:], strict=False)}
    return steps.pop() if len(steps) == 1 else None


def _consecutive(values: Sequence[int]) -> bool:
    return all(b - a == 1 for a, b in zip(values, values[1:], strict=False))


def _spread(minutes: Sequence[int]) -> int | None:
    """The spacing of minutes evenly spread over the hour, carrying on into the next (0,15,30,45)."""
    if len(minutes) < 2:
        return None
    spacing = minutes[1] - minutes[0]
    even = all(b - a == spacing for a, b in zip(minutes, minutes[1:], strict=False))
    return spacing if even and minutes[-1] + spacing == minutes[0] + 60 else None


def _ranges(values: Sequence[int], namer: Callable[[int], str] = str) -> list[str]:
    """Values as words, runs of 3+ consecutive ones as "X to Y"."""
    words: list[str] = []
    for run in runs(values):
        if len(run) >= 3:
            words.append(f"{namer(run[0])} to {namer(run[-1])}")
        else:
            words.extend(namer(value) for value in run)
    return words


# --- the time of day --------------------------------------------------------------------------


def _time_phrase(hours: list[int], minutes: list[int]) -> tuple[str, bool]:
    """The time-of-day words, and whether they are a list of times ("at 9:00 AM and 5:30 PM")."""
    if len(hours) * len(minutes) <= _LISTED_TIMES:
        return "at " + join([clock(hour, minute) for hour in hours for minute in minutes]), True
    every_hour = len(hours) == 24
    spread = _spread(minutes)
    if every_hour and len(minutes) == 60:
        return "every minute", False
    if spread and every_hour:
        if minutes[0] == 0:
            return _every(spread, "minute"), False
        return (
            f"{_every(spread, 'minute')}, at {join([str(m) for m in minutes])} minutes past the hour",
            False,
        )
    if spread and _consecutive(hours):
        start, end = clock(hours[0], minutes[0]), clock(hours[-1], minutes[-1])
        return f"{_every(spread, 'minute')} from {start} to {end}", False
    if len(minutes) == 1:
        (minute,) = minutes
        if every_hour:
            return (
                "every hour, on the hour" if minute == 0 else f"every hour at {_minutes_past(minute)}"
            ), False
        step = _step(hours)
        if step:
            ends = [hour_name(h) if minute == 0 else clock(h, minute) for h in (hours[0], hours[-1])]
            return f"{_every(step, 'hour')} from {ends[0]} to {ends[1]}", False
    return _minutes_and_hours(hours, minutes), False


def _minutes_past(minute: int) -> str:
    return "1 minute past the hour" if minute == 1 else f"{minute} minutes past the hour"


def _minutes_and_hours(hours: list[int], minutes: list[int]) -> str:
    """The explicit fallback: "at minutes 5, 20 and 47 past 8 AM, 1 PM and 6 PM"."""
    spread = _spread(minutes)
    step = _step(hours) if len(hours) > _LISTED_TIMES or _consecutive(hours) else None
    if len(hours) == 24:
        hour_words = "every hour"
    elif step:
        each = "every hour" if step == 1 else f"every {_ordinal(step)} hour"
        hour_words = f"{each} from {hour_name(hours[0])} to {hour_name(hours[-1])}"
    else:
        hour_words = ""
    if spread and minutes[0] == 0:
        if hour_words:
            return f"{_every(spread, 'minute')} during {hour_words}"
        plural = "hours" if len(hours) > 1 else "hour"
        return f"{_every(spread, 'minute')} during the {join(_ranges(hours, hour_name))} {plural}"
    minute_words = ("at minute " if len(minutes) == 1 else "at minutes ") + join(_ranges(minutes))
    return f"{minute_words} past {hour_words or join(_ranges(hours, hour_name))}"


# --- the days ---------------------------------------------------------------------------------


def _bits(mask: int, first: int) -> list[int]:
    return [first + bit for bit in range(mask.bit_length()) if mask >> bit & 1]


def _weekday_words(weekdays: list[int], conjunction: str = "and") -> str:
    return join(_ranges(weekdays, lambda day: WEEKDAYS[day]), conjunction)


def _day_phrase(schedule: Schedule) -> tuple[str, str]:
    """(words for the days of week/month, words for the months); empty strings when unrestricted."""
    weekdays = _bits(schedule.weekday_mask, 0)
    days = _bits(schedule.dom_mask, 1)
    months = _bits(schedule.month_mask, 1)
    month_names = "" if len(months) == 12 else join(_ranges(months, lambda month: MONTHS[month - 1]))
    month_words = f"in {month_names}" if month_names else ""
    some_weekdays = len(weekdays) < 7
    some_days = len(days) < 31
    if schedule.day_and and some_days:
        # "on the 29th of February": the months belong to the day of month.
        in_months = _month_days(days, month_names or "the month")
        if some_weekdays:
            return f"{in_months} when it falls on a {_weekday_words(weekdays, 'or')}", ""
        return in_months, ""
    if not schedule.day_and:
        return f"{_month_days(days, 'the month')} and every {_weekday_words(weekdays)}", month_words
    if some_weekdays:
        if len(weekdays) == 1:
            return f"{WEEKDAYS[weekdays[0]]}s only", month_words
        return _weekday_words(weekdays), month_words
    return "", month_words


def _month_days(days: list[int], months: str) -> str:
    """Days of the month in words: on the 1st and 15th of the month; on the 29th of February."""
    step = _step(days)
    if step and step > 1 and len(days) > _LISTED_TIMES:
        first, last = _ordinal(days[0]), _ordinal(days[-1])
        return f"on every {_ordinal(step)} day from the {first} to the {last} of {months}"
    return f"on the {join(_ranges(days, _ordinal))} of {months}"
