"""Tickwork's schedule language: Eastern wall-clock schedules and their DST rules (DESIGN.md §4).

    >>> s = parse("mon-fri 8-19:*/15")
    >>> s.canonical, s.describe()
    ('mon-fri 8-19:*/15', 'every 15 minutes from 8:00 AM to 7:45 PM, Monday to Friday, Eastern')

Modules, one idea each: ``parser`` (strings in), ``fields`` and ``cron`` (field syntax),
``build`` and ``render`` (model and canonical text), ``model`` (``Schedule``/``ScheduleSet``),
``eastern`` (the zone), ``fire`` (DST rules over dates), ``minute`` (per-tick ``MinuteInfo``),
``frequency`` (runs per day), ``describe`` (English), ``errors``.
"""

from __future__ import annotations

from tickwork.schedule.eastern import EASTERN
from tickwork.schedule.errors import ScheduleError
from tickwork.schedule.minute import MinuteInfo
from tickwork.schedule.model import Schedule, ScheduleSet
from tickwork.schedule.parser import PRESETS, parse, parse_many

__all__ = [
    "EASTERN",
    "PRESETS",
    "MinuteInfo",
    "Schedule",
    "ScheduleError",
    "ScheduleSet",
    "parse",
    "parse_many",
]
