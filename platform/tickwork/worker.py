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
- a crash or a leak: each process is an RQ ``SimpleWorker`` that is replaced after
  ``max_jobs`` executions, or at once when it dies; the execution it was running is
  retried or failed (``tickwork.recovery``), never left ``running``.

The supervisor forks ``processes`` such workers and restarts any that exits early. In
``--burst`` mode each worker exits once the queue is empty and the supervisor with them.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

from rq import SimpleWorker

from tickwork import db, queues, recovery, runner
from tickwork.errors import ConfigError
from tickwork.settings import get_settings

log = logging.getLogger(__name__)

HARD_KILL_GRACE_SECONDS = 10.0  # past its deadline by this much, a process is killed
HARD_KILL_GRACE_ENV = "TICKWORK_HARD_KILL_GRACE"
# Deadlines are CLOCK_MONOTONIC readings: shared by every process on the host, and immune to
# wall-clock jumps, which must never make the watchdog kill (or spare) a job.
POLL_SECONDS = 0.2
PR_SET_PDEATHSIG = 1


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


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process if the supervisor dies, so no orphan keeps running."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: orphans end when their queue work ends
        return
    if os.getppid() != parent:  # the supervisor died before the request took effect
        os._exit(1)


def _child_main(index: int, slots: Any, burst: bool, max_jobs: int, parent: int) -> None:
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor decides; SIGTERM is a warm stop
    db.dispose_engines()  # connections inherited from the parent must not be shared
    queues.reset_connections()

    def mark(execution_id: int | None, deadline: float | None) -> None:
        slots[2 * index] = float(execution_id or 0)
        slots[2 * index + 1] = float(deadline or 0)

    runner.set_current_hook(mark)
    connection = queues.connection()
    worker = SimpleWorker(
        [queues.job_queue(connection)],
        connection=connection,
        name=f"tickwork.{socket.gethostname()}.{os.getpid()}",
    )
    worker.work(burst=burst, max_jobs=max_jobs, with_scheduler=True, logging_level="WARNING")


class Supervisor:
    def __init__(self, processes: int, burst: bool, max_jobs: int = queues.MAX_JOBS_PER_PROCESS) -> None:
        self.processes = processes
        self.burst = burst
        self.max_jobs = max_jobs
        self.context = multiprocessing.get_context("fork")
        self.slots: Any = self.context.Array("d", processes * 2, lock=False)
        self.children: dict[int, Child] = {}
        self.stopping = False
        self.grace = hard_kill_grace()

    def _start(self, index: int) -> None:
        self.slots[2 * index] = 0.0
        self.slots[2 * index + 1] = 0.0
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
            time.sleep(POLL_SECONDS)

    def _watch(self, child: Child) -> None:
        if child.finished:
            return
        index = child.index
        if child.process.is_alive():
            execution_id = int(self.slots[2 * index])
            deadline = self.slots[2 * index + 1]
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
        execution_id = int(self.slots[2 * index])
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
