"""Jobs a worker took off the queue and never started: put back on the queue.

RQ moves a job id from the queue to an intermediate list (``<queue>:intermediate``) as a
worker takes it, then records it as started. A worker that dies between the two (Redis
restarting under it, a SIGKILL) leaves the id there: it is in no queue and no registry, and
RQ's own clean-up, minutes later, marks it failed. For a scheduled run that is a lost slot.

The spawner looks at that list every tick: an id that is still there, not started, at two
ticks in a row (a minute apart) is pushed back onto the queue. Putting back a job that a live
worker was about to start is harmless: the runner records each slot under its unique key, so
the second delivery is recorded as a duplicate and not run.

A scheduled job can also end in RQ's failed registry without its run ever being recorded: a
worker killed after taking it but before recording it (RQ's clean-up fails it as abandoned
minutes later), or a runner that gave up waiting for the database. Such a slot would be lost;
the spawner queues it again (RQ's own requeue) when no execution holds its slot key, at most
``MAX_REQUEUES`` times a day, so a job that cannot be recorded does not loop for ever.
"""

from __future__ import annotations

import logging

from redis import Redis
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from sqlalchemy import select
from sqlalchemy.orm import Session

from tickwork.executions import SLOT_KEY
from tickwork.models import Execution

log = logging.getLogger(__name__)

MAX_REQUEUES = 3  # times a day one failed slot job is queued again
FAILED_SCAN = 1000  # failed jobs looked at per sweep
REQUEUED_KEY = "tickwork:requeued:{job_id}"

# Only whoever removes the id puts it back (a job whose hash is gone is only removed), in one
# script: a reply lost between a separate LREM and RPUSH would lose the job for good.
_PUT_BACK = """
-- KEYS: intermediate queue, job hash, queue; ARGV: job id
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 and redis.call('EXISTS', KEYS[2]) == 1 then
    redis.call('RPUSH', KEYS[3], ARGV[1])
    return 1
end
return 0
"""


class StrandedJobs:
    """The sweep, with the ids it saw stranded last time."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def sweep(self, redis: Redis, queue_name: str) -> int:
        """Requeue the ids stranded since the last sweep; how many."""
        queue = Queue(queue_name, connection=redis)
        key = queue.intermediate_queue_key
        ids = {raw.decode() if isinstance(raw, bytes) else str(raw) for raw in redis.lrange(key, 0, -1)}
        if not ids:
            self.seen = set()
            return 0
        started = set(queue.started_job_registry.get_job_ids())
        stranded = {job_id for job_id in ids if job_id not in started}
        again = stranded & self.seen
        requeued = 0
        for job_id in sorted(again):
            job_key = f"{queue.job_class.redis_job_namespace_prefix}{job_id}"
            requeued += int(redis.eval(_PUT_BACK, 3, key, job_key, queue.key, job_id))
        self.seen = stranded - again
        if requeued:
            log.warning("put %d job(s) a worker took but never started back on the queue", requeued)
        return requeued


def requeue_failed_slots(session: Session, redis: Redis, queue_name: str) -> int:
    """Queue again the scheduled jobs in RQ's failed registry whose slot no execution holds; how many."""
    registry = Queue(queue_name, connection=redis).failed_job_registry
    ids = [
        raw.decode() if isinstance(raw, bytes) else str(raw)
        for raw in redis.zrange(registry.key, 0, FAILED_SCAN - 1)
    ]
    slots = [job_id for job_id in ids if SLOT_KEY.match(job_id)]
    if not slots:
        return 0
    recorded = set(session.scalars(select(Execution.slot_key).where(Execution.slot_key.in_(slots))))
    session.rollback()  # a read: no transaction stays open
    requeued = 0
    for job_id in slots:
        if job_id in recorded:
            continue  # it ran, or is running: recovery settles the execution, not this
        counter = REQUEUED_KEY.format(job_id=job_id)
        times = int(redis.incr(counter))
        redis.expire(counter, 86400)
        if times > MAX_REQUEUES:
            if times == MAX_REQUEUES + 1:
                log.error("scheduled job %s failed unrecorded %d times; left failed", job_id, times)
            continue
        try:
            registry.requeue(job_id)
        except (InvalidJobOperation, NoSuchJobError):
            continue  # someone else requeued it, or it expired, in the meantime
        requeued += 1
    if requeued:
        log.warning("queued %d scheduled job(s) again that failed before their run was recorded", requeued)
    return requeued
