"""What one UTC minute looks like on Eastern wall clocks, worked out once per spawner tick.

``Schedule.is_due`` must be a handful of bit tests, so everything that needs the time zone
(the local reading, whether it is the fall-back hour's second pass, which hours the spring
gap just skipped) is computed here, once, and shared by every schedule checked that tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from tickwork.schedule.eastern import MINUTE, to_local


@dataclass(frozen=True, slots=True)
class MinuteInfo:
    """One UTC minute read in Eastern time, with the bits ``is_due`` tests."""

    utc: datetime
    local_date: date
    hour: int
    minute: int
    weekday: int  # Monday = 0
    day: int
    month: int
    repeated: bool  # the second pass of a wall time on the fall-back day (fold=1)
    gap_hour_mask: int  # bit h for each whole local hour skipped just before this minute
    minute_bit: int
    hour_bit: int
    weekday_bit: int
    day_bit: int
    month_bit: int

    @classmethod
    def at(cls, utc_minute: datetime) -> MinuteInfo:
        """Describe an aware, whole minute (seconds and microseconds zero)."""
        if utc_minute.tzinfo is None:
            raise ValueError("MinuteInfo.at needs an aware datetime")
        if utc_minute.second or utc_minute.microsecond:
            raise ValueError(f"MinuteInfo.at needs a whole minute, got {utc_minute.isoformat()}")
        utc = utc_minute.astimezone(UTC)
        local = to_local(utc)
        before = to_local(utc - MINUTE)
        return cls(
            utc=utc,
            local_date=local.date(),
            hour=local.hour,
            minute=local.minute,
            weekday=local.weekday(),
            day=local.day,
            month=local.month,
            repeated=local.fold == 1,
            gap_hour_mask=_skipped_hours(before.replace(tzinfo=None), local.replace(tzinfo=None)),
            minute_bit=1 << local.minute,
            hour_bit=1 << local.hour,
            weekday_bit=1 << local.weekday(),
            day_bit=1 << (local.day - 1),
            month_bit=1 << (local.month - 1),
        )


def _skipped_hours(before: datetime, now: datetime) -> int:
    """Bits for the local hours the clock jumped over between two consecutive real minutes."""
    jump = now - before
    if jump <= MINUTE:
        return 0
    skipped = jump - MINUTE
    assert skipped.total_seconds() % 3600 == 0 and now.minute == 0, f"Eastern gap is not whole hours: {now}"
    assert before.date() == now.date(), f"Eastern gap crosses midnight: {now}"
    mask = 0
    for hour in range(before.hour + 1, now.hour):
        mask |= 1 << hour
    return mask
