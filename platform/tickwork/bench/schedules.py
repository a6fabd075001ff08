"""How fast the spawner can ask "which of these schedules is due this minute?".

Ours: each schedule's precompiled ``is_due`` against one ``MinuteInfo`` shared by the tick.
Baseline: the straightforward way, asking each schedule for its next run after the previous
minute and comparing (what a scheduler without a compiled form does).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from tickwork.bench.timing import Comparison, best_of
from tickwork.schedule import MinuteInfo, Schedule, parse

# A realistic mix: mostly hourly and daily jobs, some business-hours and every-N-minutes ones.
SHAPES = (
    "{m}:{mm:02d}",
    "*:{mm:02d}",
    "*:*/{step}",
    "mon-fri {h}-{h2}:{mm:02d}",
    "mon-fri 8-19:*/{step}",
    "{h},{h2}:30",
    "*:*",
    "sat,sun {h}:{mm:02d}",
)


def sample_schedules(count: int, seed: int = 7) -> list[Schedule]:
    rng = random.Random(seed)
    schedules = []
    for _ in range(count):
        h = rng.randrange(0, 20)
        text = rng.choice(SHAPES).format(
            m=rng.randrange(0, 24), mm=rng.randrange(0, 60), step=rng.choice((5, 10, 15, 30)), h=h, h2=h + 3
        )
        schedules.append(parse(text))
    return schedules


def compare(schedule_count: int = 100_000, baseline_count: int = 1_000, minutes: int = 5) -> Comparison:
    schedules = sample_schedules(schedule_count)
    start = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    instants = [start + timedelta(minutes=i) for i in range(minutes)]

    def ours() -> None:
        for instant in instants:
            info = MinuteInfo.at(instant)
            [s for s in schedules if s.is_due(info)]

    baseline_schedules = schedules[:baseline_count]

    def baseline() -> None:
        for instant in instants:
            before = instant - timedelta(minutes=1)
            [s for s in baseline_schedules if s.next_runs(before, 1)[0] == instant]

    ours_seconds = best_of(3, ours) / (schedule_count * minutes)
    baseline_seconds = best_of(3, baseline) / (baseline_count * minutes)
    return Comparison(
        name=f"due check ({schedule_count:,} schedules per tick)",
        unit="schedule",
        ours_seconds=ours_seconds,
        baseline_seconds=baseline_seconds,
        baseline_name="next-run lookup per schedule",
    )
