"""The baselines' job: a module-level function RQ imports by name, doing nothing."""

from __future__ import annotations


def noop() -> None:
    """A trivial job: RQ's own overhead is all there is to time."""
    return None
