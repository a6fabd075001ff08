from __future__ import annotations

from click.testing import CliRunner

from tickwork.bench.schedules import compare, sample_schedules
from tickwork.cli import main


def test_schedule_benchmark_compares_against_its_baseline_on_the_same_schedules() -> None:
    result = compare(schedule_count=300, baseline_count=30, minutes=2)
    assert result.ours_seconds > 0 and result.baseline_seconds > 0
    assert "faster than next-run lookup" in result.line()
    assert result.as_dict()["speedup"] == round(result.speedup, 2)


def test_sample_schedules_are_a_reproducible_mix() -> None:
    first = [s.canonical for s in sample_schedules(50)]
    assert first == [s.canonical for s in sample_schedules(50)]
    assert len(set(first)) > 20


def test_bench_rejects_an_unknown_benchmark() -> None:
    result = CliRunner().invoke(main, ["bench", "nope"])
    assert result.exit_code == 2 and "Traceback" not in result.output
