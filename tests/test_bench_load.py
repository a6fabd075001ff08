"""``tickwork bench load`` end to end in miniature: real spawners and workers on a sped-up clock.

Marked ``faults`` (it runs real processes for about a minute): ``make test-faults`` runs it.
"""

from __future__ import annotations

import pytest

from tickwork.bench.load import describe, expected_runs, run

pytestmark = pytest.mark.faults


def test_a_short_load_run_runs_every_slot_once_and_reports_it() -> None:
    result = run(accounts=60, workers=2, spawners=2, speed=120.0, hours=1.0)
    runs = result["executions"]
    assert runs["expected"] > 0
    assert (runs["missing"], runs["duplicates"]) == (0, 0), describe(result)
    assert runs["in_day"] == runs["expected"]
    assert result["slots"]["ticked"] + result["slots"]["catch_up_slots"] >= 60 - 1
    assert result["credits"]["reconciles"] and result["credits"]["charged"] > 0
    assert result["redis"]["aof_bytes_after"] > 0 and result["db"]["growth_bytes"] > 0
    assert "dispatch lag" in describe(result)


def test_the_expected_count_is_the_schedules_times_the_installations() -> None:
    from datetime import UTC, datetime, timedelta

    from tickwork.bench.load import DAY
    from tickwork.schedule.eastern import EASTERN

    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=EASTERN).astimezone(UTC)
    day = expected_runs(600, start, start + timedelta(days=1))
    assert day["bench-load-morning"] == 600  # 9:00, every account
    assert sum(count for slug, count in day.items() if slug != "bench-load-morning") == 600 * 3
