"""One spawner tick: from "it is minute S" to every due RQ job enqueued and the tick recorded.

Steps:
1. skip the slot if it, or a later one, is already recorded as done;
2. find the due jobs from the compiled index (apps switched off platform-wide are left out);
3. work out what was missed since the last completed slot and apply each job's catch-up
   policy (latest / all, capped at 48 slots and 24 hours / none);
4. fan out to every installation that is on, of an active account (for a missed slot,
   only installations and apps already on at that slot: switching on never replays);
5. enqueue one RQ job per (app, job, account, slot), deterministic ids, in pipelined
   batches; an id already queued is not queued again;
6. record the tick; the slot becomes the last completed one.

A tick interrupted anywhere is safe to run again: step 5 and the executions' unique slot
keys make every slot run at most once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis import Redis
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tickwork import clock
from tickwork.enqueue import QueuedJob, enqueue_jobs
from tickwork.executions import ScheduledRun
from tickwork.models import Account, Installation, SpawnerTick
from tickwork.queues import QUEUE_NAME, RUNNER_FUNCTION
from tickwork.schedule import MinuteInfo
from tickwork.schedule.eastern import to_local
from tickwork.spawner.index import JobIndex, ScheduledJob, load_index
from tickwork.spawner.stranded import StrandedJobs
from tickwork.spawner.unqueued import UnqueuedExecutions

MINUTE = timedelta(minutes=1)
CATCH_UP_WINDOW = timedelta(hours=24)
CATCH_UP_MAX_SLOTS = 48


@dataclass
class TickReport:
    slot: datetime
    done_already: bool = False
    due: int = 0
    enqueued: int = 0
    duplicates: int = 0
    catch_up_slots: int = 0
    duration_ms: int = 0
    lag_ms: int = 0


@dataclass(frozen=True)
class Subscriber:
    """An installation that is on, of an active account."""

    account_id: int
    on_since: datetime


def floor_minute(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(second=0, microsecond=0)


def last_completed_slot(session: Session) -> datetime | None:
    return session.scalar(select(func.max(SpawnerTick.slot)))


def runs_between(job: ScheduledJob, start: datetime, end: datetime) -> list[datetime]:
    """The job's fire instants strictly between ``start`` and ``end`` (UTC), in order."""
    day = to_local(start).date()
    last_day = to_local(end).date()
    runs: list[datetime] = []
    while day <= last_day:
        runs.extend(t for t in job.schedule.fire_times_on(day) if start < t < end)
        day += timedelta(days=1)
    return runs


def missed_runs(job: ScheduledJob, last: datetime, slot: datetime) -> tuple[list[datetime], int]:
    """The missed slots to run for ``job`` under its catch-up policy, and how many it drops."""
    if job.catch_up == "none":
        return [], 0
    window_start = max(last, slot - CATCH_UP_WINDOW - MINUTE)
    missed = runs_between(job, window_start, slot)
    if not missed:
        return [], 0
    keep = 1 if job.catch_up == "latest" else CATCH_UP_MAX_SLOTS
    return missed[-keep:], len(missed) - min(keep, len(missed))


class Spawner:
    """Runs ticks; keeps the compiled job index between them."""

    def __init__(
        self, sessions: sessionmaker[Session], redis: Redis, owner: str, queue: str = QUEUE_NAME
    ) -> None:
        self.sessions = sessions
        self.redis = redis
        self.owner = owner
        self.queue = queue
        self.index: JobIndex | None = None
        self.stranded = StrandedJobs()
        self.unqueued = UnqueuedExecutions()

    def tick(self, slot: datetime) -> TickReport:
        started_at = clock.now()
        slot = floor_minute(slot)
        report = TickReport(slot=slot, lag_ms=max(0, int((started_at - slot).total_seconds() * 1000)))
        with self.sessions() as session:
            last = last_completed_slot(session)
            if last is not None and last >= slot:
                report.done_already = True
                return report
            self.index = index = load_index(session, self.index)
            runs = self._runs(session, index, slot, last, report)
            result = enqueue_jobs(
                self.redis,
                self.queue,
                (QueuedJob(job_id=run.key, kwargs=run.job_kwargs(), timeout=-1) for run in runs),
                func=RUNNER_FUNCTION,
            )
            report.enqueued = len(result.enqueued)
            report.duplicates = len(result.duplicates)
            finished_at = clock.now()
            report.duration_ms = int((finished_at - started_at).total_seconds() * 1000)
            session.add(
                SpawnerTick(
                    slot=slot, owner=self.owner, started_at=started_at, finished_at=finished_at,
                    due=report.due, enqueued=report.enqueued, catch_up_slots=report.catch_up_slots,
                    duration_ms=report.duration_ms, lag_ms=report.lag_ms,
                )
            )  # fmt: skip
            try:
                session.commit()
            except IntegrityError:  # another replica finished the same slot first: fine
                session.rollback()
        return report

    def _runs(
        self, session: Session, index: JobIndex, slot: datetime, last: datetime | None, report: TickReport
    ) -> list[ScheduledRun]:
        due_now = index.due(MinuteInfo.at(slot))
        report.due = len(due_now)
        catch_up: list[tuple[ScheduledJob, list[datetime], int]] = []
        if last is not None and slot - last > MINUTE:
            for job in index.jobs():
                if not job.enabled:
                    continue
                missed, dropped = missed_runs(job, last, slot)
                if missed:
                    catch_up.append((job, missed, dropped))
                    report.catch_up_slots += len(missed)
        app_ids = {job.app_id for job in due_now} | {job.app_id for job, _, _ in catch_up}
        subscribers = _subscribers(session, app_ids)

        runs: list[ScheduledRun] = []
        for job in due_now:
            runs.extend(
                ScheduledRun(job.app_id, job.job, sub.account_id, slot, "schedule")
                for sub in subscribers.get(job.app_id, ())
            )
        for job, missed, dropped in catch_up:
            for position, missed_slot in enumerate(missed):
                skipped = dropped if position == 0 else 0
                runs.extend(
                    ScheduledRun(job.app_id, job.job, sub.account_id, missed_slot, "catch_up", skipped)
                    for sub in subscribers.get(job.app_id, ())
                    if sub.on_since <= missed_slot and job.enabled_changed_at <= missed_slot
                )
        return runs


def _subscribers(session: Session, app_ids: Iterable[int]) -> dict[int, list[Subscriber]]:
    ids = sorted(set(app_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Installation.app_id, Installation.account_id, Installation.status_changed_at)
        .join(Account, Account.id == Installation.account_id)
        .where(Installation.app_id.in_(ids), Installation.schedule_status == "on", Account.status == "active")
    )
    grouped: dict[int, list[Subscriber]] = defaultdict(list)
    for app_id, account_id, on_since in rows:
        grouped[app_id].append(Subscriber(account_id, on_since))
    return grouped
