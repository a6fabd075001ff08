"""Workers: RQ worker processes under a small supervisor.

Isolation without a fork per job. RQ's forking Worker buys isolation by forking for every
job (about 70 jobs/s a process here). Tickwork gets the isolation that matters at several
times that speed by splitting it into its parts:

- module state: each execution runs its app's code in a fresh module namespace
  (``isolated_job_function``), so nothing one account's run leaves in globals is seen by
  another's;
- a timeout: SIGALRM raises ``JobTimeout`` inside the job; a job stuck where signals cannot
  reach is SIGKILLed by the supervisor, which watches every process's deadline, once it is
  past it by the hard-kill grace (``TICKWORK_HARD_KILL_GRACE`` seconds, default 10); the
  execution is then retried or recorded as timed out;
- a crash or a leak: each process is an RQ worker (``TickworkWorker``, a ``SimpleWorker``)
  that is replaced after ``max_jobs`` executions, or at once when it dies; the execution it
  was running is retried or failed (``tickwork.recovery``), never left ``running``.

RQ's bookkeeping, in two round trips a job. RQ's ``SimpleWorker`` loop makes ~27 Redis round
trips per job (heartbeats, states, an execution record, registries, a result, counters),
kept for results and monitoring that Tickwork keeps in its database. ``TickworkWorker``
runs the jobs that call ``tickwork.runner.execute`` and use no other RQ feature with one Lua
call to take a job (pop it, fetch its hash, mark it started, add it to RQ's started registry
and mark the worker busy, atomically, so a job is never popped without being registered;
asked again after a lost reply, it hands over the job it took) and one to finish it
(delete the job, leave the registry, count it on the worker and release the run's overlap
mark). RQ's keys and formats throughout: ``rq info`` shows the queue, the
workers (busy or idle, jobs finished and failed) and the started registry; RQ's maintenance
(abandoned jobs, the scheduler, suspension, stop commands) works unchanged. Any other job,
and a job whose runner raises, takes RQ's own code path.

The supervisor forks ``processes`` such workers and restarts any that exits early. In
``--burst`` mode each worker exits once the queue is empty and the supervisor with them.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

import redis
from redis.commands.core import Script
from rq import Queue, SimpleWorker
from rq.defaults import DEFAULT_WORKER_TTL
from rq.exceptions import DequeueTimeout
from rq.job import Job
from rq.suspension import WORKERS_SUSPENDED
from rq.utils import current_timestamp, now, utcformat
from rq.worker.base import StopRequested, WorkerStatus

from tickwork import clock, db, lifetime, queues, recovery, runner
from tickwork.errors import ConfigError
from tickwork.settings import get_settings

log = logging.getLogger(__name__)

HARD_KILL_GRACE_SECONDS = 10.0  # past its deadline by this much, a process is killed
HARD_KILL_GRACE_ENV = "TICKWORK_HARD_KILL_GRACE"
# Deadlines are CLOCK_MONOTONIC readings: shared by every process on the host, and immune to
# wall-clock jumps, which must never make the watchdog kill (or spare) a job.
POLL_SECONDS = 0.2
BEAT_TIMEOUT_SECONDS = 1.0  # the alive marks' Redis calls, at most (the watchdog waits meanwhile)
BEAT_RETRY_SECONDS = 2.0  # after a failed one
TAKE_RECORD_PREFIX = "tickwork:take:"  # + worker name: the job its last take took (see _TAKE)


class RunSlots:
    """What each worker process holds, in memory it shares with its supervisor: the execution
    it runs, the job's deadline and until when the run counts as held (``runner._current_hook``).
    Written by the process (the execution id first, cleared first), read by the supervisor."""

    FIELDS = 3

    def __init__(self, context: Any, processes: int) -> None:
        self.array: Any = context.Array("d", processes * self.FIELDS, lock=False)

    def report(
        self, index: int, execution_id: int | None, deadline: float | None, held: float | None
    ) -> None:
        base = index * self.FIELDS
        self.array[base] = float(execution_id or 0)
        self.array[base + 1] = float(deadline or 0)
        self.array[base + 2] = float(held or 0)

    def execution(self, index: int) -> int:
        return int(self.array[index * self.FIELDS])

    def deadline(self, index: int) -> float:
        return float(self.array[index * self.FIELDS + 1])

    def held_until(self, index: int) -> float:
        return float(self.array[index * self.FIELDS + 2])


@dataclass
class Child:
    index: int
    process: BaseProcess
    finished: bool = False
    killed_for_timeout: bool = False


def hard_kill_grace(env: Mapping[str, str] = os.environ) -> float:
    """The seconds past its deadline after which a job's process is killed (TICKWORK_HARD_KILL_GRACE)."""
    text = env.get(HARD_KILL_GRACE_ENV, "").strip()
    if not text:
        return HARD_KILL_GRACE_SECONDS
    try:
        grace = float(text)
    except ValueError:
        grace = -1.0
    if not 0 <= grace <= 3600:  # also refuses nan
        raise ConfigError(f"{HARD_KILL_GRACE_ENV} must be seconds from 0 to 3600, like 10; got {text!r}")
    return grace


def _child_main(index: int, slots: RunSlots, burst: bool, max_jobs: int, parent: int) -> None:
    lifetime.die_with_parent(parent)  # SIGKILL if the supervisor dies: no orphan keeps running
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides; SIGTERM is a warm stop
    db.dispose_engines()  # connections inherited from the parent must not be shared
    queues.reset_connections()

    def report(execution_id: int | None, deadline: float | None, held: float | None) -> None:
        slots.report(index, execution_id, deadline, held)

    runner.set_current_hook(report)
    connection = queues.connection()
    worker = TickworkWorker(
        [queues.job_queue(connection)],
        connection=connection,
        name=f"tickwork.{socket.gethostname()}.{os.getpid()}",
    )
    worker.work(burst=burst, max_jobs=max_jobs, with_scheduler=True, logging_level="WARNING")


# Take the next job: pop it (or, with ARGV[6] set, claim a job RQ moved to the intermediate
# queue), fetch its hash, mark it started, register it in RQ's started registry and mark the
# worker busy. Returns false when the queue is empty, {'suspended'} when `rq suspend` is on,
# else the job id followed by its hash's fields and values.
#
# Each take carries a nonce, and the script notes which job it took under that nonce (KEYS[6]).
# A reply can be lost after the script ran: Redis stopping (it exits without sending the replies
# of its last commands, while its append-only file keeps their effects) or the connection
# dropping. The worker then calls again with the same nonce and is handed the same job, instead
# of leaving it registered as started by nobody until RQ's clean-up fails it many minutes later.
_TAKE = """
-- KEYS: queue, started registry, worker, suspension flag, intermediate queue, take record
-- ARGV: job key prefix, registry score, now, worker name, worker key ttl, claimed id or '',
--       execution token, take nonce
local last = redis.call('HMGET', KEYS[6], 'nonce', 'id')
if last[1] == ARGV[8] then  -- this take ran already and its reply was lost: the same job,
    -- unless RQ's clean-up failed it meanwhile (an outage longer than its registry score)
    if not redis.call('ZSCORE', KEYS[2], last[2] .. ':' .. ARGV[7]) then return false end
    local fields = redis.call('HGETALL', ARGV[1] .. last[2])
    if #fields == 0 then return false end
    table.insert(fields, 1, last[2])
    return fields
end
if ARGV[6] == '' and redis.call('EXISTS', KEYS[4]) == 1 then return {'suspended'} end
while true do
    local id
    if ARGV[6] ~= '' then
        id = ARGV[6]
        redis.call('LREM', KEYS[5], 1, id)
    else
        id = redis.call('LPOP', KEYS[1])
    end
    if not id then
        redis.call('HSET', KEYS[3], 'state', 'idle', 'last_heartbeat', ARGV[3])
        redis.call('EXPIRE', KEYS[3], ARGV[5])
        return false
    end
    local key = ARGV[1] .. id
    local fields = redis.call('HGETALL', key)
    if #fields > 0 then
        redis.call('HSET', key, 'status', 'started', 'started_at', ARGV[3], 'last_heartbeat', ARGV[3],
            'worker_name', ARGV[4])
        redis.call('PERSIST', key)
        redis.call('ZADD', KEYS[2], ARGV[2], id .. ':' .. ARGV[7])
        redis.call('HSET', KEYS[3], 'state', 'busy', 'last_heartbeat', ARGV[3])
        redis.call('EXPIRE', KEYS[3], ARGV[5])
        redis.call('HSET', KEYS[6], 'nonce', ARGV[8], 'id', id)
        redis.call('EXPIRE', KEYS[6], 86400)
        table.insert(fields, 1, id)
        return fields
    end
    if ARGV[6] ~= '' then return false end  -- the claimed job is gone
end
"""

# A job done: delete it (result_ttl 0: nothing of it stays), leave the started registry, count
# it on the worker and give up the run's overlap mark if the run still holds it.
_DONE = """
-- KEYS: job, started registry, worker, overlap mark (or any key when there is none)
-- ARGV: registry member, now, working seconds, worker key ttl, mark holder or ''
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], 'state', 'idle', 'last_heartbeat', ARGV[2])
redis.call('HINCRBY', KEYS[3], 'successful_job_count', 1)
redis.call('HINCRBYFLOAT', KEYS[3], 'total_working_time', ARGV[3])
redis.call('EXPIRE', KEYS[3], ARGV[4])
if ARGV[5] ~= '' and redis.call('GET', KEYS[4]) == ARGV[5] then redis.call('DEL', KEYS[4]) end
return 1
"""

# Fields a job may carry and still take the lean path (any other non-empty field is an RQ
# feature: dependencies, callbacks, retries, repeats, groups, meta, webhooks...).
_LEAN_FIELDS = frozenset(
    {
        "status", "origin", "created_at", "enqueued_at", "started_at", "ended_at", "last_heartbeat",
        "worker_name", "timeout", "result_ttl", "failure_ttl", "data", "description",
    }
)  # fmt: skip


class TickworkWorker(SimpleWorker):
    """An RQ ``SimpleWorker`` whose bookkeeping for a Tickwork run is two Lua calls (see above)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._take = Script(self.connection, _TAKE.encode())
        self._done = Script(self.connection, _DONE.encode())
        self._token = f"tw{os.getpid()}"
        self._take_record = f"{TAKE_RECORD_PREFIX}{self.name}"
        self._takes = 0  # with a random prefix, each take's nonce (see _TAKE)
        self._nonce_prefix = f"{self._token}.{os.urandom(4).hex()}"
        self._heartbeat_ttl = self.worker_ttl + 60

    # --- the loop --------------------------------------------------------------------------

    def work(  # type: ignore[override]
        self,
        burst: bool = False,
        logging_level: str | None = "WARNING",
        max_jobs: int | None = None,
        with_scheduler: bool = False,
        **kwargs: Any,
    ) -> bool:
        """RQ's ``work`` loop with one Lua call to take each job (see ``_TAKE``)."""
        if len(self.queues) != 1 or kwargs:
            return bool(
                super().work(
                    burst=burst, logging_level=logging_level, max_jobs=max_jobs,
                    with_scheduler=with_scheduler, **kwargs,
                )
            )  # fmt: skip
        self.bootstrap(logging_level)
        if with_scheduler:
            self._start_scheduler(burst, logging_level)
        self._install_signal_handlers()
        queue = self.queues[0]
        completed = 0
        try:
            while not self._stop_requested:
                if self.should_run_maintenance_tasks:
                    self.run_maintenance_tasks()
                taken = self._take_job(queue, burst)
                if taken is None:
                    if burst:
                        break
                    continue
                job, raw = taken
                self.execute_job(job, queue, raw)
                completed += 1
                if max_jobs is not None and completed >= max_jobs:
                    break
        except StopRequested:
            pass
        except redis.exceptions.TimeoutError:
            self.log.error("Worker %s: Redis connection timeout, quitting...", self.name)
        finally:
            self._forget_take()
            self.teardown()
        return bool(completed)

    def _take_job(self, queue: Queue, burst: bool) -> tuple[Job, dict[str, bytes]] | None:
        """The next job, taken (see ``_TAKE``); None when the queue is empty (or wait, unless burst)."""
        # Busy while taking: a SIGTERM now waits for the job instead of dropping it popped.
        self._state = WorkerStatus.BUSY
        reply = self._run_take(queue, "")
        if reply == [b"suspended"]:
            self._state = WorkerStatus.IDLE
            self.check_for_suspension(burst)  # RQ's: waits, or stops a burst worker
            return None
        if not reply and not burst:
            self._state = WorkerStatus.IDLE
            if self._stop_requested:
                return None
            try:  # RQ's blocking dequeue (into its intermediate queue), then claim that job
                found = self.queue_class.lmove(self.connection, queue.key, self.dequeue_timeout)
            except DequeueTimeout:
                return None
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
                # Had Redis moved a job before the reply was lost, the spawner's sweep of RQ's
                # intermediate queue puts it back (tickwork.spawner.stranded).
                self.log.error("Worker %s: could not reach Redis (%s) waiting for a job", self.name, error)
                time.sleep(1.0)
                return None
            self._state = WorkerStatus.BUSY
            if found is None:
                return None
            reply = self._run_take(queue, found[1].decode() if isinstance(found[1], bytes) else str(found[1]))
        if not reply:
            self._state = WorkerStatus.IDLE
            return None
        job_id = reply[0].decode()
        raw = dict(zip(reply[1::2], reply[2::2], strict=True))
        job = self.job_class(job_id, connection=self.connection, serializer=self.serializer)
        job.restore(raw)
        return job, {key.decode(): value for key, value in raw.items()}

    def _forget_take(self) -> None:
        try:
            self.connection.delete(self._take_record)
        except redis.exceptions.RedisError:
            pass  # it expires in a day

    def _run_take(self, queue: Queue, claimed: str) -> Any:
        """``_TAKE``; while Redis is unreachable, tried again with RQ's backoff (as RQ's dequeue),
        under the same nonce, so a take whose reply was lost hands over the job it took."""
        self._takes += 1
        nonce = f"{self._nonce_prefix}.{self._takes}"
        wait = 1.0
        while True:
            try:
                return self._call_take(queue, claimed, nonce)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
                self.log.error(
                    "Worker %s: could not reach Redis (%s); trying again in %d s", self.name, error, wait
                )
                time.sleep(wait)
                wait = min(wait * self.exponential_backoff_factor, self.max_connection_wait_time)

    def _call_take(self, queue: Queue, claimed: str, nonce: str) -> Any:
        stamp = utcformat(now())
        return self._take(
            keys=[
                queue.key,
                queue.started_job_registry.key,
                self.key,
                WORKERS_SUSPENDED,
                f"{queue.key}:intermediate",
                self._take_record,
            ],
            args=[
                self.job_class.redis_job_namespace_prefix,
                current_timestamp() + DEFAULT_WORKER_TTL,  # as SimpleWorker for a job without timeout
                stamp,
                self.name,
                self._heartbeat_ttl,
                claimed,
                self._token,
                nonce,
            ],
        )

    # --- one job ---------------------------------------------------------------------------

    def execute_job(self, job: Job, queue: Queue, raw: dict[str, bytes] | None = None) -> None:
        """Run a taken job: the lean path for a plain Tickwork run, RQ's own for anything else."""
        if raw is None or not _lean(job, raw):
            if raw is not None:  # taken by _TAKE: RQ's path registers it its own way
                self.connection.zrem(queue.started_job_registry.key, f"{job.id}:{self._token}")
            super().execute_job(job, queue)
            self._state = WorkerStatus.IDLE
            return
        started = time.monotonic()
        marks: list[tuple[str, int]] = []
        try:
            try:
                runner.execute_job(job, self.name, marks)
            except Exception:
                self._failed(job, queue, marks)
                return
            mark, holder = marks[-1] if marks else (job.key, 0)
            self._finish_job(job, queue, started, mark, holder)
            for mark, holder in marks[:-1]:
                runner.release_mark(self.connection, mark, holder)
        finally:
            self._state = WorkerStatus.IDLE

    def _finish_job(self, job: Job, queue: Queue, started: float, mark: str, holder: int) -> None:
        """``_DONE``. If Redis is away the run is recorded all the same; RQ's maintenance fails
        the job left started (and the overlap mark expires)."""
        try:
            self._done(
                keys=[job.key, queue.started_job_registry.key, self.key, mark],
                args=[
                    f"{job.id}:{self._token}",
                    utcformat(now()),
                    round(time.monotonic() - started, 6),
                    self._heartbeat_ttl,
                    holder or "",
                ],
            )
        except redis.exceptions.ConnectionError as error:
            self.log.error("Worker %s: Redis did not record the end of job %s: %s", self.name, job.id, error)

    def _failed(self, job: Job, queue: Queue, marks: list[tuple[str, int]]) -> None:
        """The runner itself raised (its database away for minutes, a bug): RQ's failure path."""
        exc_string = traceback.format_exc()
        self.log.error("Worker %s: job %s raised in the runner:\n%s", self.name, job.id, exc_string)
        try:
            for mark, holder in marks:
                runner.release_mark(self.connection, mark, holder)
            self.connection.zrem(queue.started_job_registry.key, f"{job.id}:{self._token}")
            job.ended_at = now()
            self.handle_job_failure(job, queue, exc_string=exc_string)  # the failed registry, a day
        except Exception:
            self.log.exception("Worker %s: could not record the failure of job %s", self.name, job.id)


def _lean(job: Job, raw: dict[str, bytes]) -> bool:
    """A plain Tickwork run: the runner's function, no result kept, no other RQ feature."""
    if raw.get("result_ttl") != b"0":
        return False
    if any(value for field, value in raw.items() if field not in _LEAN_FIELDS):
        return False
    try:
        return job.func_name == queues.RUNNER_FUNCTION and not job.args and job.instance is None
    except Exception:  # undeserializable: RQ's own path reports it
        return False


class Supervisor:
    def __init__(self, processes: int, burst: bool, max_jobs: int = queues.MAX_JOBS_PER_PROCESS) -> None:
        self.processes = processes
        self.burst = burst
        self.max_jobs = max_jobs
        self.context = multiprocessing.get_context("fork")
        self.slots = RunSlots(self.context, processes)
        self.children: dict[int, Child] = {}
        self.stopping = False
        self.grace = hard_kill_grace()
        self.next_beat = 0.0  # time.monotonic() of the next heartbeat
        self.marked: set[int] = set()  # the runs it named
        self.beat_redis: redis.Redis | None = None
        self.beat_failing = False

    def _start(self, index: int) -> None:
        self.slots.report(index, None, None, None)
        process = self.context.Process(
            target=_child_main,
            args=(index, self.slots, self.burst, self.max_jobs, os.getpid()),
            name=f"tickwork-worker-{index}",
        )
        process.start()
        self.children[index] = Child(index, process)

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True
        for child in self.children.values():
            if child.process.is_alive() and child.process.pid:
                os.kill(child.process.pid, signal.SIGTERM)  # RQ: finish the current job, then exit

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for index in range(self.processes):
            self._start(index)
        while True:
            for child in list(self.children.values()):
                self._watch(child)
            if all(child.finished for child in self.children.values()):
                return
            self._beat()
            time.sleep(POLL_SECONDS)

    def _beat(self) -> None:
        """Say which runs this host's processes hold (``recovery.mark_alive``), so the spawner
        leaves a run that is past its deadline but alive (its outcome waiting for the
        database) to its worker: every ``ALIVE_REFRESH`` seconds, and as a run starts."""
        now = time.monotonic()
        held = {
            self.slots.execution(child.index)
            for child in self.children.values()
            if not child.finished
            and child.process.is_alive()
            and self.slots.execution(child.index)
            and self.slots.held_until(child.index) > now
        }
        if now < self.next_beat and held <= self.marked:
            return
        try:
            recovery.mark_alive(self._beat_client(), sorted(held))
        except redis.exceptions.RedisError as error:
            if not self.beat_failing:
                log.warning("cannot mark this worker's runs alive in Redis (%s); trying again", error)
            self.beat_failing = True
            self.next_beat = now + BEAT_RETRY_SECONDS
            return
        self.beat_failing = False
        self.marked = held
        self.next_beat = now + clock.real_seconds(recovery.ALIVE_REFRESH)

    def _beat_client(self) -> redis.Redis:
        """The supervisor's own Redis client, quick to give up: the watchdog waits while it tries."""
        if self.beat_redis is None:
            self.beat_redis = redis.Redis.from_url(
                queues.redis_url(),
                socket_connect_timeout=BEAT_TIMEOUT_SECONDS,
                socket_timeout=BEAT_TIMEOUT_SECONDS,
            )
        return self.beat_redis

    def _watch(self, child: Child) -> None:
        if child.finished:
            return
        index = child.index
        if child.process.is_alive():
            execution_id = self.slots.execution(index)
            deadline = self.slots.deadline(index)
            if (
                execution_id
                and deadline
                and time.monotonic() > deadline + self.grace
                and child.process.pid
                and not child.killed_for_timeout
            ):
                log.warning(
                    "execution %s ignored its timeout; killing worker process %s",
                    execution_id,
                    child.process.pid,
                )
                child.killed_for_timeout = True
                os.kill(child.process.pid, signal.SIGKILL)
            return
        child.process.join()
        # Read only now: the process may have started another execution since the last look.
        execution_id = self.slots.execution(index)
        if execution_id:
            self._recover(execution_id, child.process.exitcode, child.killed_for_timeout)
        clean_exit = child.process.exitcode == 0
        # In burst mode a clean exit means the queue ran dry, or the process did its max_jobs
        # and must be replaced to finish the queue.
        if self.stopping or (self.burst and clean_exit and self._queue_empty()):
            child.finished = True
        else:
            if not clean_exit:
                log.warning(
                    "worker process %s exited with %s; replacing it",
                    child.process.pid,
                    child.process.exitcode,
                )
            self._start(index)

    def _queue_empty(self) -> bool:
        try:
            return int(queues.job_queue(queues.connection()).count) == 0
        except Exception:  # Redis unreachable: let the worker process find out and report it
            log.exception("cannot read the queue length")
            return False

    def _recover(self, execution_id: int, exitcode: int | None, killed_for_timeout: bool) -> None:
        if killed_for_timeout:
            reason = (
                f"the job ran past its timeout and did not stop (signals blocked, or stuck in C code); "
                f"its worker process was killed {self.grace:g} s after the deadline"
            )
        else:
            reason = recovery.WORKER_DIED
            if exitcode == -signal.SIGKILL:
                reason += " [SIGKILL]"
        try:
            with db.session_factory()() as session:
                recovery.recover(
                    session,
                    queues.connection(),
                    [execution_id],
                    reason,
                    get_settings().retry_backoff_seconds,
                    final_status="timed_out" if killed_for_timeout else "failed",
                )
        except Exception:  # the database or Redis is away: the spawner recovers it later
            log.exception("could not recover execution %s; the spawner will once it is overdue", execution_id)


def run_workers(processes: int = 1, burst: bool = False, max_jobs: int = queues.MAX_JOBS_PER_PROCESS) -> None:
    Supervisor(processes, burst, max_jobs).run()
