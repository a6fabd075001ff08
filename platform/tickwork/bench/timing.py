"""Timing helpers shared by the benchmarks: best-of-N wall time of a callable."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Comparison:
    """One benchmark's result: per-operation times of ours and the baseline, and their ratio."""

    name: str
    unit: str
    ours_seconds: float
    baseline_seconds: float
    baseline_name: str

    @property
    def speedup(self) -> float:
        return self.baseline_seconds / self.ours_seconds if self.ours_seconds else float("inf")

    def line(self) -> str:
        return (
            f"{self.name}: {self.speedup:,.1f}x faster than {self.baseline_name} "
            f"({_human(self.ours_seconds)} vs {_human(self.baseline_seconds)} per {self.unit})"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "unit": self.unit,
            "ours_seconds": self.ours_seconds,
            "baseline": self.baseline_name,
            "baseline_seconds": self.baseline_seconds,
            "speedup": round(self.speedup, 2),
        }


def best_of(repeats: int, operation: Callable[[], object]) -> float:
    """The shortest of ``repeats`` runs, in seconds: the least disturbed by a noisy machine."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        operation()
        best = min(best, time.perf_counter() - started)
    return best


def _human(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.2f} us"
    return f"{seconds * 1e9:.0f} ns"
