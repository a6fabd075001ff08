"""Eastern time, the only zone schedules speak, and the conversions between it and UTC.

Everything else in the package asks this module what a local wall-clock reading means:
whether it exists (the spring gap), happens twice (the fall-back hour) or is ordinary.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/New_York")

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


class WallKind(Enum):
    """What a naive Eastern wall-clock reading corresponds to in real time."""

    NORMAL = "normal"  # exactly one instant
    GAP = "gap"  # no instant: skipped when clocks spring forward
    REPEATED = "repeated"  # two instants: the fall-back hour


def to_local(instant: datetime) -> datetime:
    """An aware instant as an aware Eastern datetime (``fold=1`` marks a repeated reading's second pass)."""
    if instant.tzinfo is None:
        raise ValueError("expected an aware datetime, got a naive one")
    return instant.astimezone(EASTERN)


def wall_kind(wall: datetime) -> WallKind:
    """Classify a naive Eastern wall time (PEP 495: fold=0 and fold=1 disagree only in a gap or a fold)."""
    first = wall.replace(tzinfo=EASTERN, fold=0).utcoffset()
    second = wall.replace(tzinfo=EASTERN, fold=1).utcoffset()
    assert first is not None and second is not None
    if first == second:
        return WallKind.NORMAL
    # In a gap fold=0 keeps the earlier (smaller) offset; in a fold it keeps the earlier, larger one.
    return WallKind.GAP if first < second else WallKind.REPEATED


def to_utc(wall: datetime, fold: int = 0) -> datetime:
    """A naive Eastern wall time as an aware UTC instant (``fold`` picks a repeated reading's pass)."""
    return wall.replace(tzinfo=EASTERN, fold=fold).astimezone(UTC)


def after_gap(wall: datetime) -> datetime:
    """The UTC instant at which the spring gap holding ``wall`` ends (3:00 EDT in Eastern).

    Eastern's gaps are whole hours starting on the hour, so the first real reading after
    the gap is the first whole hour that exists.
    """
    hour = wall.replace(minute=0, second=0, microsecond=0)
    while wall_kind(hour) is WallKind.GAP:
        hour += HOUR
    assert wall_kind(hour - MINUTE) is WallKind.GAP, f"Eastern gap before {hour} is not whole hours"
    return to_utc(hour)


def day_bounds(local_date: date) -> tuple[datetime, datetime]:
    """The UTC instants of an Eastern date's midnight and of the next date's midnight."""
    start = to_utc(datetime.combine(local_date, time()))
    end = to_utc(datetime.combine(local_date + timedelta(days=1), time()))
    return start, end


def is_plain_day(local_date: date) -> bool:
    """True when no clock change happens on this Eastern date (every reading occurs once)."""
    start, end = day_bounds(local_date)
    return (
        end - start == timedelta(days=1) and to_local(start).utcoffset() == to_local(end - MINUTE).utcoffset()
    )
