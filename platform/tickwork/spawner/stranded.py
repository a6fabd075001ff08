"""Jobs a worker took off the queue and never started: put back on the queue.

RQ moves a job id from the queue to an intermediate list (``<queue>:intermediate``) as a
worker takes it, then records it as started. A worker that dies between the two (Redis
restarting under it, a SIGKILL) leaves the id there: it is in no queue and no registry, and
RQ's own clean-up, minutes later, marks it failed. For a scheduled run that is a lost slot.

The spawner looks at that list every tick: an id that is still there, not started, at two
ticks in a row (a minute apart) is pushed back onto the queue. Putting back a job that a live
worker was about to start is harmless: the runner records each slot under its unique key, so
the second delivery is recorded as a duplicate and not run.
"""

from __future__ import annotations

import logging

from redis import Redis
from rq import Queue

log = logging.getLogger(__name__)


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
            # Only whoever removes it puts it back; a job whose hash is gone is only removed.
            job_key = f"{queue.job_class.redis_job_namespace_prefix}{job_id}"
            if redis.lrem(key, 1, job_id) and redis.exists(job_key):
                redis.rpush(queue.key, job_id)
                requeued += 1
        self.seen = stranded - again
        if requeued:
            log.warning("put %d job(s) a worker took but never started back on the queue", requeued)
        return requeued
