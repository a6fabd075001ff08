"""Per-execution deadlines inside a worker process.

A job past its timeout gets ``JobTimeout`` raised in it by SIGALRM. ``JobTimeout`` derives
from BaseException so a job's own ``except Exception`` cannot swallow it. A job stuck where
signals cannot reach (inside a C call) is killed from outside by the worker supervisor,
which watches each process's deadline.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class JobTimeout(BaseException):
    """The execution ran past its timeout."""


@contextmanager
def deadline(seconds: float) -> Iterator[float]:
    """Raise JobTimeout in the block after ``seconds``; yields the monotonic deadline."""
    ends_at = time.monotonic() + seconds

    def on_alarm(_signum: int, _frame: FrameType | None) -> None:
        raise JobTimeout(f"the job ran past its timeout of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield ends_at
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
