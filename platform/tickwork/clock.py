"""The one clock: every wall-clock decision in Tickwork reads ``now()``.

Nothing else calls ``datetime.now()`` or ``time.time()`` for a decision, so tests and the
spawner's ``--simulate`` mode can move time by swapping the source with ``frozen_at`` / ``set_source``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime


def _system_now() -> datetime:
    return datetime.now(UTC)


_source: Callable[[], datetime] = _system_now


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
