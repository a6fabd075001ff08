"""Recovering executions whose worker died: none may stay ``running`` for ever.

A worker process killed mid-job (SIGKILL, out of memory, a crash in C code) cannot record
its own end. Two places notice: the worker supervisor, the moment one of its processes
dies, and the spawner, every tick, for executions running past their deadline plus a grace
period (a whole worker host may have gone). Either way the execution is retried if its
retries allow, otherwise failed (or timed out, when the supervisor killed a job that ignored
its timeout), with the reason in its error. An execution that ends here also gives up its
overlap mark, so the job's next slot is not skipped as "overlap" because of a dead run.

Past its deadline is not proof of death: a worker waiting out a database outage to record a
run's outcome is alive and will record it. So each worker supervisor keeps a short-lived
Redis key per run its processes hold (``ALIVE_KEY``, refreshed every ``ALIVE_REFRESH``
seconds, gone ``ALIVE_TTL`` seconds after the supervisor stops refreshing it), and the
spawner leaves overdue runs with a live key to their worker. A whole host lost stops the
refreshes, and its runs are recovered as before.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from redis import Redis
from sqlalchemy import literal_column, select, update
from sqlalchemy.orm import Session

from tickwork import clock
from tickwork.models import Execution, JobSchedule

DEADLINE_GRACE = timedelta(seconds=90)
ALIVE_KEY = "tickwork:alive:{execution_id}"  # a worker holds this run (see the module's docstring)
ALIVE_TTL = 60  # seconds
ALIVE_REFRESH = 15.0  # seconds
WORKER_DIED = "the worker running this execution stopped before it finished (killed or crashed)"
FINAL_STATUSES = ("failed", "timed_out")

# Delete the overlap mark only if this execution still holds it (as the runner releases it).
_RELEASE_OVERLAP = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def recover(
    session: Session,
    redis: Redis,
    execution_ids: list[int],
    reason: str,
    backoff: tuple[int, ...],
    final_status: str = "failed",
) -> int:
    """Retry each of these executions that is still ``running``, or end it with ``final_status``
    when no retries are left; returns how many."""
    # The runner imports this module's callers.
    from tickwork.runner import OVERLAP_KEY, schedule_retry

    if final_status not in FINAL_STATUSES:
        raise ValueError(f"final_status is one of {FINAL_STATUSES}; got {final_status!r}")

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
        new_status = "queued" if retry else final_status
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
            try:
                schedule_retry(redis, execution_id, execution.attempts, backoff)
            except Exception:
                # No retry was queued (Redis is away): back to running, so the spawner's
                # overdue check recovers it later instead of it waiting for ever as queued.
                session.execute(
                    update(Execution)
                    .where(Execution.id == execution_id, Execution.status == "queued")
                    .values(status="running")
                    .execution_options(synchronize_session=False)
                )
                session.commit()
                raise
        else:  # a retry keeps the mark: it is the same execution, and takes the mark over
            key = OVERLAP_KEY.format(app=execution.app_id, job=execution.job, account=execution.account_id)
            redis.eval(_RELEASE_OVERLAP, 1, key, str(execution_id))
        recovered += 1
    return recovered


def mark_alive(redis: Redis, execution_ids: list[int]) -> None:
    """Say these runs are held by a live worker, for the next ``ALIVE_TTL`` seconds."""
    if not execution_ids:
        return
    # A sped-up test clock shortens it, to a second at least (the supervisor looks 5 times a second).
    ttl_ms = max(1000, int(clock.real_seconds(ALIVE_TTL) * 1000))
    pipeline = redis.pipeline(transaction=False)
    for execution_id in execution_ids:
        pipeline.set(ALIVE_KEY.format(execution_id=execution_id), 1, px=ttl_ms)
    pipeline.execute()


def held_by_live_workers(redis: Redis, execution_ids: list[int]) -> set[int]:
    """Those of these runs a live worker still holds."""
    if not execution_ids:
        return set()
    flags = redis.mget([ALIVE_KEY.format(execution_id=execution_id) for execution_id in execution_ids])
    return {execution_id for execution_id, flag in zip(execution_ids, flags, strict=True) if flag}


def overdue(session: Session, redis: Redis | None = None, now: datetime | None = None) -> list[int]:
    """Executions still ``running`` well past their job's timeout (and, given ``redis``, held
    by no live worker)."""
    now = now or clock.now()
    rows = session.execute(
        select(Execution.id, Execution.started_at, JobSchedule.timeout)
        .join(JobSchedule, (JobSchedule.app_id == Execution.app_id) & (JobSchedule.job == Execution.job))
        # A literal, not a bound parameter: a generic plan of a prepared statement (psycopg
        # prepares a query run five times) can use the partial index on running rows only so.
        .where(Execution.status == literal_column("'running'"))
    )
    late = [
        execution_id
        for execution_id, started_at, timeout in rows
        if started_at is not None and started_at + timedelta(seconds=timeout) + DEADLINE_GRACE < now
    ]
    if redis is None or not late:
        return late
    alive = held_by_live_workers(redis, late)
    return [execution_id for execution_id in late if execution_id not in alive]
