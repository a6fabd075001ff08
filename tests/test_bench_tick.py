from __future__ import annotations

import json
from datetime import UTC, datetime

from click.testing import CliRunner

from tickwork.bench.tick import run, sample_index
from tickwork.cli import main
from tickwork.schedule import MinuteInfo

GAP_MINUTE = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 3:00 AM EDT, right after the skipped hour


def test_tick_benchmark_reports_the_due_set_time_and_its_baselines() -> None:
    result = run(schedules=2000, minutes=4, start=datetime(2026, 3, 8, 6, 58, tzinfo=UTC))
    assert {"bench", "schedules", "ms_per_tick", "baseline", "ratio_vs_baseline"} <= set(result)
    assert result["bench"] == "tick" and result["schedules"] == 2000 and result["minutes"] == 4
    assert 0 < result["distinct_schedules"] <= 2000
    assert result["ms_per_tick"] > 0 and result["ms_worst_tick"] >= result["ms_per_tick"]
    assert result["due_per_tick"] > 0 and result["due_worst_tick"] >= result["due_per_tick"]
    assert isinstance(result["meets_goal"], bool)
    baseline = result["baseline"]
    assert baseline["per_job_is_due_ms_per_tick"] > 0 and baseline["per_job_next_run_ms_per_tick"] > 0
    assert baseline["next_run_scaled"] is True and 0 < baseline["next_run_sample_jobs"] <= 2000
    assert result["ratio_vs_baseline"] > 0 and result["ratio_vs_next_run"] > 0
    json.dumps(result)


def test_the_sample_index_is_a_mix_with_schedules_shared_by_many_jobs() -> None:
    index = sample_index(3000)
    assert index.count == len(index.jobs()) == 3000
    assert len({(job.app_id, job.job) for job in index.jobs()}) == 3000
    sizes = sorted((len(jobs) for jobs in index.by_schedule.values()), reverse=True)
    assert sizes[0] > 50 and len(sizes) > 300  # popular schedules, and a long tail of distinct ones
    assert any(len(schedule.schedules) == 2 for schedule in index.by_schedule)


def test_the_gap_minute_runs_what_the_per_job_check_runs() -> None:
    index = sample_index(2000)
    minute = MinuteInfo.at(GAP_MINUTE)
    grouped = {(job.app_id, job.job) for job in index.due(minute)}
    one_by_one = {(j.app_id, j.job) for j in index.jobs() if j.enabled and j.schedule.is_due(minute)}
    assert grouped == one_by_one and grouped


def test_bench_tick_prints_one_json_object() -> None:
    result = CliRunner().invoke(main, ["bench", "tick", "--schedules", "500", "--minutes", "2", "--json"])
    assert result.exit_code == 0, result.output
    (line,) = result.output.strip().splitlines()
    assert json.loads(line)["bench"] == "tick"
