"""Recovering executions whose worker died: none may stay ``running`` for ever.

A worker process killed mid-job (SIGKILL, out of memory, a crash in C code) cannot record
its own end. Two places notice: the worker supervisor, the moment one of its processes
dies, and the spawner, every tick, for executions running past their deadline plus a grace
period (a whole worker host may have gone). Either way the execution is retried if its
retries allow, otherwise failed, with the reason in its error.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from redis import Redis
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tickwork import clock
from tickwork.models import Execution, JobSchedule

DEADLINE_GRACE = timedelta(seconds=90)
WORKER_DIED = "the worker running this execution stopped before it finished (killed or crashed)"


def recover(
    session: Session, redis: Redis, execution_ids: list[int], reason: str, backoff: tuple[int, ...]
) -> int:
    """Retry or fail each of these executions that is still ``running``; returns how many."""
    from tickwork.runner import schedule_retry  # the runner imports this module's callers

    recovered = 0
    for execution_id in execution_ids:
        execution = session.get(Execution, execution_id)
        if execution is None or execution.status != "running":
            continue
        retries = session.scalar(
            select(JobSchedule.retries).where(
                JobSchedule.app_id == execution.app_id, JobSchedule.job == execution.job
            )
        )
        retry = execution.attempts <= (retries or 0)
        new_status = "queued" if retry else "failed"
        values: dict[str, object] = {"status": new_status, "error": reason}
        if not retry:
            values["finished_at"] = clock.now()
        changed = session.execute(
            update(Execution)
            .where(Execution.id == execution_id, Execution.status == "running")
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        session.commit()
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            continue  # it finished, or someone else recovered it, in the meantime
        if retry:
            schedule_retry(redis, execution_id, execution.attempts, backoff)
        recovered += 1
    return recovered


def overdue(session: Session, now: datetime | None = None) -> list[int]:
    """Executions still ``running`` well past their job's timeout."""
    now = now or clock.now()
    rows = session.execute(
        select(Execution.id, Execution.started_at, JobSchedule.timeout)
        .join(JobSchedule, (JobSchedule.app_id == Execution.app_id) & (JobSchedule.job == Execution.job))
        .where(Execution.status == "running")
    )
    return [
        execution_id
        for execution_id, started_at, timeout in rows
        if started_at is not None and started_at + timedelta(seconds=timeout) + DEADLINE_GRACE < now
    ]
