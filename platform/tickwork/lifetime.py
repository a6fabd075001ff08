"""Child processes that do not outlive the process that started them.

Linux can send a process a signal when its parent dies (``PR_SET_PDEATHSIG``). The worker
supervisor asks for SIGKILL for its worker processes; ``tickwork run`` asks for SIGTERM (a
clean stop) for the processes it starts, which run in sessions of their own so that a
terminal's Ctrl-C reaches ``tickwork run`` alone and it stops them in order: the embedded
Redis last, once nothing uses it. Elsewhere than Linux the request is skipped.
"""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int, signum: int = signal.SIGKILL) -> None:
    """In a child: ask to get ``signum`` when ``parent`` dies (exit at once if it already has)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signum)
    except OSError:  # not Linux: orphans end when their work ends
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def ends_with_this_process(signum: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn`` for ``subprocess.Popen``: the child gets ``signum`` when this process
    (strictly: the thread that starts it) ends."""
    parent = os.getpid()
    return lambda: die_with_parent(parent, signum)
