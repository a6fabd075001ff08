"""Executions recorded as ``queued`` whose RQ job is gone: queued again.

A manual, API or follow-up run, and every retry, is recorded ``queued`` in the database and
then queued in Redis: two stores, two steps. When the second step fails (Redis unreachable at
that moment, or restarted without the job) the execution would wait for ever with nothing to
run it. The spawner looks every tick: an execution still ``queued`` whose RQ job is missing,
or failed in RQ's own code (the runner raised before it could claim it), at two sweeps in a
row (a minute apart, so one being queued right now is left alone) is queued again under the
job id of its next attempt. Queuing one that a worker is claiming at that instant is harmless:
the claim is a conditional update, and the losing delivery is recorded as a duplicate.
"""

from __future__ import annotations

import logging

from redis import Redis
from rq import Queue
from sqlalchemy import literal_column, select
from sqlalchemy.orm import Session

from tickwork.models import Execution
from tickwork.queues import enqueue_execution, execution_job_id

log = logging.getLogger(__name__)

SWEEP_LIMIT = 10_000  # executions looked at per sweep; the rest wait for the next tick
LOST = frozenset({b"failed", b"stopped", b"canceled"})  # RQ job states that will never run it


class UnqueuedExecutions:
    """The sweep, with the executions it found unqueued last time."""

    def __init__(self) -> None:
        self.seen: set[int] = set()

    def sweep(self, session: Session, redis: Redis, queue_name: str) -> int:
        """Queue again the executions unqueued at this sweep and the last; how many."""
        rows = session.execute(
            # A literal, so the partial index on queued executions serves it (see Execution).
            select(Execution.id, Execution.attempts)
            .where(Execution.status == literal_column("'queued'"))
            .order_by(Execution.id)
            .limit(SWEEP_LIMIT)
        ).all()
        session.rollback()  # a read: no transaction stays open
        if not rows:
            self.seen = set()
            return 0
        queue = Queue(queue_name, connection=redis)
        prefix = queue.job_class.redis_job_namespace_prefix
        job_ids = {execution_id: execution_job_id(execution_id, attempts) for execution_id, attempts in rows}
        pipe = redis.pipeline(transaction=False)
        for job_id in job_ids.values():
            pipe.hget(f"{prefix}{job_id}", "status")
        states = dict(zip(job_ids, pipe.execute(), strict=True))
        unqueued = {execution_id for execution_id, state in states.items() if state is None or state in LOST}
        again = unqueued & self.seen
        for execution_id in sorted(again):
            job_id = job_ids[execution_id]
            if states[execution_id] is not None:  # failed in RQ: out of its registries first
                queue.failed_job_registry.remove(job_id, delete_job=True)
            enqueue_execution(redis, execution_id, job_id)
        self.seen = unqueued - again
        if again:
            log.warning("queued %d recorded execution(s) whose RQ job was missing or failed", len(again))
        return len(again)
