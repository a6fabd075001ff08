"""Five-field cron lines (minute hour day-of-month month day-of-week), read as cronsim does.

Names (jan..dec, sun..sat), 0 and 7 for Sunday, ``N/step`` and ``*`` inside lists are all
accepted; the L/W/#/? extensions are not. Like Debian cron, the day fields combine with OR
when neither starts with ``*`` and with AND otherwise. A line that can never run (``0 0 30 2 *``)
is rejected here rather than silently never firing.
"""

from __future__ import annotations

from tickwork.schedule.build import DayRule, build
from tickwork.schedule.describe import MONTHS, join
from tickwork.schedule.errors import ScheduleError
from tickwork.schedule.fields import FieldSpec, FieldValue, read_field
from tickwork.schedule.model import Schedule

_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")

MINUTE = FieldSpec("minute (cron)", "minute", 0, 59, "0-59", cron=True)
HOUR = FieldSpec("hour (cron)", "hour", 0, 23, "0-23", cron=True)
DAY_OF_MONTH = FieldSpec("day-of-month", "day of month", 1, 31, "1-31", cron=True)
MONTH = FieldSpec(
    "month",
    "month",
    1,
    12,
    "1-12 or jan-dec",
    cron=True,
    names={n: i + 1 for i, n in enumerate(_MONTH_NAMES)},
)
DAY_OF_WEEK = FieldSpec(
    "day-of-week",
    "day of week",
    0,
    7,
    "0-7 or sun-sat, where 0 and 7 are both Sunday",
    cron=True,
    names={n: i for i, n in enumerate(_DAY_NAMES)},
)
SPECS = (MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK)


def parse_cron(expression: str, tokens: list[tuple[int, str]]) -> Schedule:
    """Read the five ``(offset, text)`` tokens of ``expression`` as a cron line."""
    minute, hour, days, months, cron_weekdays = (
        read_field(text, spec, expression, offset) for (offset, text), spec in zip(tokens, SPECS, strict=True)
    )
    weekdays = FieldValue(frozenset((day - 1) % 7 for day in cron_weekdays.values), cron_weekdays.star)
    rule = DayRule(days, months.values, weekdays, day_and=days.star or cron_weekdays.star)
    schedule = build(expression, minute, hour, rule)
    if schedule.runs_per_day == 0:
        offset, text = tokens[2]
        month_names = [MONTHS[month - 1] for month in sorted(months.values)]
        raise ScheduleError(
            expression,
            DAY_OF_MONTH.name,
            offset,
            f"{join(month_names)} never {'has' if len(month_names) == 1 else 'have'} "
            f"a day {text}, so this schedule would never run",
            DAY_OF_MONTH.allowed,
            len(text),
        )
    return schedule
