"""The one clock: every wall-clock decision in Tickwork reads ``now()``.

Nothing else calls ``datetime.now()`` or ``time.time()`` for a decision, so tests and the
spawner's ``--simulate`` mode can move time by swapping the source with ``frozen_at`` / ``set_source``.

Test-only seam for other processes: when ``TICKWORK_CLOCK_OFFSET_FILE`` names a file, this
process's clock is the system clock shifted (and optionally sped up) as that file says, read
again whenever the file changes (``write_offset_file`` writes it). Fault tests use it to jump
a running spawner's clock, and ``tickwork bench load`` to run a day in minutes. Unset (always,
in production) the clock is the system clock and nothing is read. See docs/decisions.md.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path


def _system_now() -> datetime:
    return datetime.now(UTC)


OFFSET_FILE_ENV = "TICKWORK_CLOCK_OFFSET_FILE"


class OffsetFileClock:
    """The system clock as a file says: ``OFFSET [SPEED ANCHOR]``, numbers separated by spaces.

    ``OFFSET`` seconds are added to the system clock; with ``SPEED`` and ``ANCHOR`` (a system
    time, epoch seconds) the clock reads ``ANCHOR + OFFSET`` at ``ANCHOR`` and then runs
    ``SPEED`` times as fast. A missing or empty file means no offset. The file is re-read
    when its identity (inode, size, mtime) changes, so one ``stat`` per reading.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self.offset, self.speed, self.anchor = 0.0, 1.0, 0.0

    def _refresh(self) -> None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self._stamp, self.offset, self.speed, self.anchor = None, 0.0, 1.0, 0.0
            return
        stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if stamp == self._stamp:
            return
        numbers = [float(part) for part in self.path.read_text().split()]
        if len(numbers) not in (0, 1, 3) or (len(numbers) == 3 and numbers[1] <= 0):
            raise RuntimeError(f"{self.path}: expected OFFSET or OFFSET SPEED ANCHOR, got {numbers}")
        offset, speed, anchor = numbers + [0.0, 1.0, 0.0][len(numbers) :]
        self._stamp, self.offset, self.speed, self.anchor = stamp, offset, speed, anchor

    def now(self) -> datetime:
        self._refresh()
        real = time.time()
        return datetime.fromtimestamp(self.anchor + self.offset + (real - self.anchor) * self.speed, UTC)


def write_offset_file(path: Path, offset: float, speed: float = 1.0, anchor: float | None = None) -> None:
    """Set the clock of every process reading ``path`` (atomically: a new file renamed over it)."""
    anchor = time.time() if anchor is None else anchor
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    scratch.write_text(f"{offset!r} {speed!r} {anchor!r}\n")
    os.replace(scratch, path)


def set_offset_file(path: Path, instant: datetime, speed: float = 1.0) -> None:
    """Make every process reading ``path`` see ``instant`` now, running ``speed`` times as fast."""
    real = time.time()
    write_offset_file(path, instant.timestamp() - real, speed, anchor=real)


def _initial_source() -> Callable[[], datetime]:
    path = os.environ.get(OFFSET_FILE_ENV, "").strip()
    return OffsetFileClock(Path(path)).now if path else _system_now


_source: Callable[[], datetime] = _initial_source()


def speed() -> float:
    """How many clock seconds pass per real second: 1 except under a sped-up offset file."""
    owner = getattr(_source, "__self__", None)
    if isinstance(owner, OffsetFileClock):
        owner._refresh()
        return owner.speed
    return 1.0


def real_seconds(clock_seconds: float) -> float:
    """Real seconds to wait for ``clock_seconds`` to pass on this clock."""
    return clock_seconds / speed()


def now() -> datetime:
    """The current instant as an aware UTC datetime."""
    value = _source()
    if value.tzinfo is None:
        raise RuntimeError("the clock source returned a naive datetime; it must be aware")
    return value.astimezone(UTC)


def set_source(source: Callable[[], datetime] | None) -> None:
    """Replace the clock (``None`` restores the system clock)."""
    global _source
    _source = source or _system_now


@contextmanager
def frozen_at(instant: datetime) -> Iterator[Callable[[datetime], None]]:
    """Freeze the clock at ``instant`` for the block; the yielded function moves it."""
    if instant.tzinfo is None:
        raise ValueError("frozen_at needs an aware datetime")
    current = [instant.astimezone(UTC)]

    def move_to(new_instant: datetime) -> None:
        if new_instant.tzinfo is None:
            raise ValueError("move_to needs an aware datetime")
        current[0] = new_instant.astimezone(UTC)

    previous = _source
    set_source(lambda: current[0])
    try:
        yield move_to
    finally:
        set_source(previous)
