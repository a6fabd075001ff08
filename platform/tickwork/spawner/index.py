"""The spawner's in-memory index of every scheduled job, compiled once and reused each tick.

Reading and compiling every schedule row each minute would cost far more than deciding
what is due. The index is rebuilt only when the schedules change, which a cheap
fingerprint query (row count, newest id, newest app switch) detects.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tickwork.models import App, JobSchedule
from tickwork.schedule import MinuteInfo, ScheduleSet, parse_many


@dataclass(frozen=True)
class ScheduledJob:
    """One job of one app, as the spawner needs it."""

    app_id: int
    job: str
    schedule: ScheduleSet
    catch_up: str
    enabled: bool
    enabled_changed_at: datetime


@dataclass
class JobIndex:
    """Every scheduled job, grouped by schedule so each distinct schedule is tested once."""

    fingerprint: tuple[Any, ...] = ()
    by_schedule: dict[ScheduleSet, list[ScheduledJob]] = field(default_factory=dict)
    count: int = 0

    def due(self, minute: MinuteInfo) -> list[ScheduledJob]:
        """The jobs due at ``minute``, skipping apps switched off platform-wide."""
        due: list[ScheduledJob] = []
        for schedule, jobs in self.by_schedule.items():
            if schedule.is_due(minute):
                due.extend(job for job in jobs if job.enabled)
        return due

    def jobs(self) -> list[ScheduledJob]:
        return [job for jobs in self.by_schedule.values() for job in jobs]


def fingerprint(session: Session) -> tuple[Any, ...]:
    schedules = session.execute(select(func.count(JobSchedule.id), func.max(JobSchedule.id))).one()
    apps = session.execute(select(func.max(App.enabled_changed_at), func.max(App.updated_at))).one()
    return (*schedules, *apps)


def load_index(session: Session, previous: JobIndex | None = None) -> JobIndex:
    """The current index: ``previous`` itself when nothing changed since it was built."""
    current = fingerprint(session)
    if previous is not None and previous.fingerprint == current:
        return previous
    rows = session.execute(
        select(
            JobSchedule.app_id,
            JobSchedule.job,
            JobSchedule.expressions,
            JobSchedule.catch_up,
            App.enabled,
            App.enabled_changed_at,
        )
        .join(App, App.id == JobSchedule.app_id)
        .where(App.active_version_id.is_not(None))
    )
    grouped: dict[ScheduleSet, list[ScheduledJob]] = defaultdict(list)
    count = 0
    for app_id, job, expressions, catch_up, enabled, enabled_changed_at in rows:
        schedule = parse_many(list(expressions))
        grouped[schedule].append(
            ScheduledJob(app_id, job, schedule, catch_up, bool(enabled), enabled_changed_at)
        )
        count += 1
    return JobIndex(fingerprint=current, by_schedule=dict(grouped), count=count)
