"""How long the spawner takes to find a tick's due jobs among every installed schedule.

Ours: ``JobIndex.due(MinuteInfo.at(slot))``, the spawner's own code: one ``MinuteInfo`` per
tick, each distinct schedule tested once, its jobs taken whole when it is due. The index is
built in memory (no database), as ``load_index`` would build it from the schedule rows.

Baselines, in the same run over the same jobs and minutes:

- per-job check: each job's own ``ScheduleSet.is_due`` (no grouping by schedule), over all
  of them;
- per-job next-run lookup: ``next_runs(minute - 1, 1) == minute`` for each job (what a
  scheduler without a compiled form does), timed on a sample and scaled to all the jobs.

The minutes are consecutive and by default span the spring-forward change (2:00 to 3:00 AM
Eastern on 8 March 2026), so one tick is the gap's catch-up minute, the heaviest of a year.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tickwork.bench.schedules import SHAPES
from tickwork.bench.timing import best_of
from tickwork.schedule import MinuteInfo, ScheduleSet, parse_many
from tickwork.spawner.index import JobIndex, ScheduledJob

# 6:30 to 7:29 UTC on 8 March 2026: 1:30 to 1:59 EST, then 3:00 to 3:29 EDT.
DST_START = datetime(2026, 3, 8, 6, 30, tzinfo=UTC)
MINUTES = 60
REPEATS = 2
NEXT_RUN_SAMPLE = 500
NEXT_RUN_MINUTES = 3
GOAL_MS = 50.0

# Schedules many jobs share, as catalog apps and copied templates do.
POPULAR = (
    "daily",
    "1h",
    "9:00",
    "8:00",
    "mon-fri 9:00",
    "*:*/5",
    "*:*/15",
    "*:00",
    "0:00",
    "mon-fri 8-17:00",
    "sat,sun 10:00",
    "2:30",
)
POPULAR_SHARE = 0.3  # of the jobs use one of the popular schedules
MULTI_SHARE = 0.05  # of the jobs list two schedules, drawn from a pool of distinct pairs
MULTI_POOL = 200  # building a set of several expressions costs milliseconds (frequency counts)
JOBS_PER_APP = 4


def _expression(rng: random.Random) -> str:
    h = rng.randrange(0, 20)
    return rng.choice(SHAPES).format(
        m=rng.randrange(0, 24), mm=rng.randrange(0, 60), step=rng.choice((5, 10, 15, 30)), h=h, h2=h + 3
    )


def sample_index(count: int, seed: int = 11) -> JobIndex:
    """``count`` scheduled jobs of ``count / 4`` apps, grouped as ``load_index`` groups them."""
    rng = random.Random(seed)
    grouped: dict[ScheduleSet, list[ScheduledJob]] = {}
    # parse_many keeps only 1,024 sets cached, and a set of several expressions costs ms to build.
    parsed: dict[tuple[str, ...], ScheduleSet] = {}
    changed = datetime(2026, 1, 1, tzinfo=UTC)
    pairs = [[_expression(rng), _expression(rng)] for _ in range(MULTI_POOL)]
    for number in range(count):
        draw = rng.random()
        if draw < POPULAR_SHARE:
            expressions = [rng.choice(POPULAR)]
        elif draw < POPULAR_SHARE + MULTI_SHARE:
            expressions = rng.choice(pairs)
        else:
            expressions = [_expression(rng)]
        key = tuple(expressions)
        schedule = parsed.get(key) or parsed.setdefault(key, parse_many(expressions))
        app_id, job = divmod(number, JOBS_PER_APP)
        enabled = rng.random() >= 0.01  # a few apps switched off platform-wide
        grouped.setdefault(schedule, []).append(
            ScheduledJob(app_id + 1, f"job_{job}", schedule, "latest", enabled, changed)
        )
    return JobIndex(fingerprint=("bench",), by_schedule=grouped, count=count)


def minutes_from(start: datetime, count: int) -> list[datetime]:
    return [start + timedelta(minutes=i) for i in range(count)]


def time_ticks(
    index: JobIndex, slots: list[datetime], repeats: int = REPEATS
) -> tuple[list[float], list[int]]:
    """Each tick's best time in seconds over ``repeats`` passes, and each tick's due count."""
    best = [float("inf")] * len(slots)
    due_counts = [0] * len(slots)
    for _ in range(repeats):
        for position, slot in enumerate(slots):
            started = time.perf_counter()
            due = index.due(MinuteInfo.at(slot))
            best[position] = min(best[position], time.perf_counter() - started)
            due_counts[position] = len(due)
    return best, due_counts


def per_job_due_counts(jobs: list[ScheduledJob], slots: list[datetime]) -> list[int]:
    """The baseline: every job's own schedule asked, one job at a time."""
    counts = []
    for slot in slots:
        minute = MinuteInfo.at(slot)
        counts.append(len([job for job in jobs if job.enabled and job.schedule.is_due(minute)]))
    return counts


def per_job_next_run(jobs: list[ScheduledJob], slots: list[datetime]) -> int:
    due = 0
    for slot in slots:
        before = slot - timedelta(minutes=1)
        due += len([job for job in jobs if job.enabled and job.schedule.next_runs(before, 1)[0] == slot])
    return due


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def run(schedules: int = 100_000, minutes: int = MINUTES, start: datetime = DST_START) -> dict[str, Any]:
    if schedules < 1 or minutes < 1:
        raise ValueError("schedules and minutes must be at least 1")
    index = sample_index(schedules)
    jobs = index.jobs()
    slots = minutes_from(start, minutes)

    tick_seconds, due_counts = time_ticks(index, slots)
    per_tick = sum(tick_seconds) / minutes
    info_seconds = best_of(REPEATS, lambda: [MinuteInfo.at(slot) for slot in slots]) / minutes

    baseline_counts: list[int] = []

    def per_job() -> None:
        baseline_counts[:] = per_job_due_counts(jobs, slots)

    per_job_tick = best_of(REPEATS, per_job) / minutes
    if baseline_counts != due_counts:
        raise RuntimeError("the grouped due set and the per-job due set disagree")

    sample = random.Random(3).sample(jobs, min(NEXT_RUN_SAMPLE, len(jobs)))
    sample_minutes = slots[: min(minutes, NEXT_RUN_MINUTES)]
    next_run_seconds = best_of(1, lambda: per_job_next_run(sample, sample_minutes))
    next_run_tick = next_run_seconds / len(sample_minutes) * len(jobs) / len(sample)

    return {
        "bench": "tick",
        "schedules": schedules,
        "distinct_schedules": len(index.by_schedule),
        "minutes": minutes,
        "start": start.isoformat(),
        "ms_per_tick": _ms(per_tick),
        "ms_worst_tick": _ms(max(tick_seconds)),
        "ms_minute_info": _ms(info_seconds),
        "due_per_tick": round(sum(due_counts) / minutes, 1),
        "due_worst_tick": max(due_counts),
        "goal_ms": GOAL_MS,
        "meets_goal": max(tick_seconds) * 1000 <= GOAL_MS,
        "baseline": {
            "per_job_is_due_ms_per_tick": _ms(per_job_tick),
            "per_job_next_run_ms_per_tick": _ms(next_run_tick),
            "next_run_sample_jobs": len(sample),
            "next_run_sample_minutes": len(sample_minutes),
            "next_run_scaled": True,
        },
        "ratio_vs_baseline": round(per_job_tick / per_tick, 2) if per_tick else float("inf"),
        "ratio_vs_next_run": round(next_run_tick / per_tick, 2) if per_tick else float("inf"),
    }
