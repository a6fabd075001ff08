"""Reading schedule expressions: ``parse`` for one, ``parse_many`` for a job's several.

The order of tries: the empty string, a preset, common mistakes worth a pointed hint (12-hour
times, words, cron @macros), a five-field cron line, then ``[days] hours:minutes``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from functools import lru_cache

from tickwork.schedule.build import DayRule, build
from tickwork.schedule.cron import parse_cron
from tickwork.schedule.describe import hour_name
from tickwork.schedule.errors import SCHEDULE_FORMS, ScheduleError
from tickwork.schedule.fields import HOUR, MINUTE, read_field
from tickwork.schedule.frequency import busiest_day, runs_per_day
from tickwork.schedule.model import Schedule, ScheduleSet
from tickwork.schedule.render import DAY_NAMES

#: Documented aliases; the canonical form of each is that of its expansion.
PRESETS = {
    "5m": "*:*/5",
    "10m": "*:*/10",
    "15m": "*:*/15",
    "30m": "*:*/30",
    "1h": "*:00",
    "2h": "*/2:00",
    "4h": "*/4:00",
    "6h": "*/6:00",
    "12h": "*/12:00",
    "daily": "0:00",
    "weekly": "sun 0:00",
}
DAYS_ALLOWED = "mon tue wed thu fri sat sun, ranges like mon-fri, weekdays and weekends"
_DAY_GROUPS = {"weekdays": range(5), "weekends": range(5, 7)}
_TOKEN = re.compile(r"\S+")
_TWELVE_HOUR = re.compile(r"(?<![\w:])(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m\.?(?![a-z])", re.IGNORECASE)
_EVERY = re.compile(r"every\s+(?:(\d+)\s*)?(minute|min|hour|hr|day)s?\b", re.IGNORECASE)
_MACROS = {
    "@hourly": "1h",
    "@daily": "daily",
    "@midnight": "daily",
    "@weekly": "weekly",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
_WORDS = {"hourly": "1h", "midnight": "0:00", "noon": "12:00", "monthly": "0 0 1 * *", "yearly": "0 0 1 1 *"}


@lru_cache(maxsize=1 << 16)  # distinct schedule strings in use; repeats are the norm
def parse(expression: str) -> Schedule:
    """Parse one schedule expression, or raise ``ScheduleError`` saying where and why.

    Cached: the spawner parses the same strings over and over, and a ``Schedule`` is immutable.
    """
    if not isinstance(expression, str):
        raise TypeError(f"a schedule expression is a str, not {type(expression).__name__}")
    text = expression.strip()
    if not text:
        raise ScheduleError(expression, "schedule", 0, f"the schedule is empty; write {SCHEDULE_FORMS}")
    preset = PRESETS.get(text.lower())
    if preset is not None:
        return replace(parse(preset), source=expression)
    _reject_common_mistakes(expression, text)
    tokens = [(match.start(), match.group()) for match in _TOKEN.finditer(expression)]
    if len(tokens) == 5:
        return parse_cron(expression, tokens)
    if len(tokens) == 1:
        return _parse_clock(expression, None, tokens[0])
    if len(tokens) == 2:
        return _parse_clock(expression, tokens[0], tokens[1])
    raise _wrong_shape(expression, tokens)


def parse_many(expressions: str | Iterable[str]) -> ScheduleSet:
    """The union of several expressions; a string may also hold several separated by ``|``.

    ``|`` is how ``ScheduleSet.canonical`` joins its members, so that text parses back.
    """
    items = (expressions,) if isinstance(expressions, str) else tuple(expressions)
    return _parse_many(items)


@lru_cache(maxsize=1 << 16)  # one per distinct job schedule set, like parse
def _parse_many(expressions: tuple[str, ...]) -> ScheduleSet:
    schedules: dict[str, Schedule] = {}
    for expression in expressions:
        offset = 0
        for piece in expression.split("|"):
            try:
                if "|" in expression and not piece.strip():
                    raise ScheduleError(piece, "schedule", 0, "there is no schedule between two | separators")
                schedule = parse(piece)
            except ScheduleError as error:
                if piece == expression:
                    raise
                raise error.shifted(expression, offset) from None
            schedules.setdefault(schedule.canonical, schedule)
            offset += len(piece) + 1
    if not schedules:
        raise ScheduleError("", "schedule", 0, f"no schedule given; write {SCHEDULE_FORMS}")
    members = tuple(schedules.values())
    source = " | ".join(expressions)
    if len(members) == 1:
        (only,) = members
        return ScheduleSet(members, only.runs_per_day, only.runs_on_active_day, source)
    return ScheduleSet(members, runs_per_day(members), busiest_day(members), source)


# --- [days] hours:minutes -----------------------------------------------------------------------


def _parse_clock(expression: str, days: tuple[int, str] | None, clock: tuple[int, str]) -> Schedule:
    offset, text = clock
    if ":" not in text:
        raise _not_a_clock(expression, days, clock)
    hours_text, _, minutes_text = text.partition(":")
    if ":" in minutes_text:
        second_colon = offset + len(hours_text) + 1 + minutes_text.index(":")
        raise ScheduleError(
            expression,
            "schedule",
            second_colon,
            "seconds are not supported; write H:MM, e.g. 9:00",
            SCHEDULE_FORMS,
        )
    hour = read_field(hours_text, HOUR, expression, offset)
    minute = read_field(minutes_text, MINUTE, expression, offset + len(hours_text) + 1)
    weekdays = frozenset(range(7)) if days is None else _parse_days(expression, *days)
    return build(expression, minute, hour, DayRule.every_day(weekdays))


def _parse_days(expression: str, offset: int, text: str) -> frozenset[int]:
    """``mon-fri``, ``sat,sun``, ``weekdays``... as weekday numbers, Monday = 0."""
    chosen: set[int] = set()
    position = offset
    for part in text.lower().split(","):
        if part in _DAY_GROUPS:
            chosen.update(_DAY_GROUPS[part])
        elif "-" in part:
            first_name, last_name = part.split("-", 1)
            first = _day(expression, first_name, position)
            last = _day(expression, last_name, position + len(first_name) + 1)
            if last < first:
                raise ScheduleError(
                    expression,
                    "days",
                    position,
                    f"the range {part} runs backwards (days go mon to sun); write "
                    f"{last_name}-{first_name}, or {_wrapped(first_name, last_name)} to wrap around",
                    DAYS_ALLOWED,
                    len(part),
                )
            chosen.update(range(first, last + 1))
        else:
            chosen.add(_day(expression, part, position))
        position += len(part) + 1
    return frozenset(chosen)


def _wrapped(first: str, last: str) -> str:
    """A backwards day range written the right way round: fri-mon is fri-sun,mon."""
    head = "sun" if first == "sun" else f"{first}-sun"
    tail = "mon" if last == "mon" else f"mon-{last}"
    return f"{head},{tail}"


def _day(expression: str, name: str, position: int) -> int:
    if name in DAY_NAMES:
        return DAY_NAMES.index(name)
    if not name:
        reason = "a day is missing (an empty list part or range end)"
    elif name[:3] in DAY_NAMES:
        reason = f'unknown day "{name}"; days are three letters: did you mean "{name[:3]}"?'
    else:
        reason = f'unknown day "{name}"'
    raise ScheduleError(expression, "days", position, reason, DAYS_ALLOWED, max(1, len(name)))


# --- pointed hints for common mistakes ------------------------------------------------------------


def _reject_common_mistakes(expression: str, text: str) -> None:
    """Catch the usual ways people write times for humans, and say how to write them for us."""
    start = expression.index(text)
    twelve = _TWELVE_HOUR.search(expression)
    if twelve:
        hour, minute = int(twelve.group(1)), int(twelve.group(2) or 0)
        afternoon = twelve.group(3).lower() == "p"
        hint = "schedules use the 24-hour clock without AM/PM"
        if 1 <= hour <= 12 and minute < 60:
            hint += f', so write {hour % 12 + (12 if afternoon else 0)}:{minute:02d} for "{twelve.group(0)}"'
        raise ScheduleError(
            expression, "schedule", twelve.start(), f"{hint}", SCHEDULE_FORMS, len(twelve.group(0))
        )
    first_word = text.split()[0].lower()
    if first_word.startswith("@"):
        suggestion = _MACROS.get(first_word)
        reason = f"cron's {first_word} is not supported" + (f"; write {suggestion}" if suggestion else "")
        raise ScheduleError(expression, "schedule", start, reason, SCHEDULE_FORMS, len(first_word))
    if first_word in _WORDS and len(text.split()) == 1:
        reason = f'"{text}" is not a schedule; write {_WORDS[first_word]}'
        raise ScheduleError(expression, "schedule", start, reason, SCHEDULE_FORMS, len(text))
    if first_word in ("every", "each", "at", "on"):
        raise ScheduleError(expression, "schedule", start, _in_words(text), SCHEDULE_FORMS, len(text))


def _in_words(text: str) -> str:
    """A suggestion for a schedule written in English ("every 5 minutes")."""
    every = _EVERY.match(text)
    head = "schedules are not written in words"
    if every is None:
        return f"{head}; write {SCHEDULE_FORMS}"
    count = int(every.group(1) or 1)
    unit = every.group(2).lower()
    if unit.startswith("min"):
        if count == 1:
            return f"{head}; write *:* for every minute"
        preset = f" (or the preset {count}m)" if f"{count}m" in PRESETS else ""
        return f"{head}; write *:*/{count} for every {count} minutes{preset}"
    if unit.startswith("h"):
        if count == 1:
            return f"{head}; write *:00 (or the preset 1h) for every hour"
        preset = f" (or the preset {count}h)" if f"{count}h" in PRESETS else ""
        return f"{head}; write */{count}:00 for every {count} hours{preset}"
    return f"{head}; write daily (at midnight) or a time such as 9:00 for every day"


def _not_a_clock(expression: str, days: tuple[int, str] | None, clock: tuple[int, str]) -> ScheduleError:
    offset, text = clock
    if days is not None and ":" in days[1]:
        return ScheduleError(
            expression,
            "schedule",
            days[0],
            f"put the days before the time: {text} {days[1]}",
            length=offset + len(text) - days[0],
        )
    if days is None and text.isdigit():
        value = int(text)
        if value <= 23:
            hint = (
                f"write {value}:00 for {hour_name(value)} every day, "
                f"or *:{value:02d} for minute {value} past each hour"
            )
        else:
            hint = "write H:MM, e.g. 9:00"
        return ScheduleError(
            expression, "schedule", offset, f"a bare number is not a schedule; {hint}", length=len(text)
        )
    if days is None and all(
        part in DAY_NAMES or part in _DAY_GROUPS or "-" in part for part in text.lower().split(",")
    ):
        return ScheduleError(
            expression, "schedule", offset + len(text), f"the days need a time after them, e.g. {text} 9:00"
        )
    where = "the time" if days is not None else "the schedule"
    return ScheduleError(
        expression,
        "schedule",
        offset,
        f'{where} "{text}" has no colon; write {SCHEDULE_FORMS}',
        length=len(text),
    )


def _wrong_shape(expression: str, tokens: list[tuple[int, str]]) -> ScheduleError:
    count = len(tokens)
    whole = len(expression.strip())
    start = tokens[0][0]
    if count in (6, 7):
        return ScheduleError(
            expression,
            "schedule",
            start,
            f"this cron line has {count} fields; only the 5 standard ones (minute hour day-of-month month "
            "day-of-week) are supported, without seconds or years",
            length=whole,
        )
    if count in (3, 4) and ":" in tokens[-1][1]:
        days = ",".join(text for _, text in tokens[:-1])
        return ScheduleError(
            expression,
            "days",
            tokens[1][0],
            f"separate days with commas, not spaces: {days} {tokens[-1][1]}",
            DAYS_ALLOWED,
        )
    return ScheduleError(
        expression, "schedule", start, f"expected {SCHEDULE_FORMS}, but found {count} parts", length=whole
    )
