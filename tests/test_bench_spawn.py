from __future__ import annotations

import json

import redis

from tickwork.bench.spawn import run


def test_spawn_benchmark_reports_ours_and_rqs_rates_and_memory(redis_url: str) -> None:
    result = run(accounts=2000, redis_url=redis_url)
    assert set(result) == {
        "bench",
        "jobs",
        "seconds",
        "jobs_per_s",
        "baseline",
        "ratio_vs_enqueue_many",
        "redis_bytes_per_queued_job",
    }
    assert result["bench"] == "spawn" and result["jobs"] == 2000
    assert set(result["baseline"]) == {"enqueue_many_jobs_per_s", "enqueue_jobs_per_s", "sample_jobs"}
    assert result["baseline"]["sample_jobs"] == 2000
    for value in (result["seconds"], result["jobs_per_s"], result["ratio_vs_enqueue_many"]):
        assert isinstance(value, int | float) and value > 0
    assert all(value > 0 for value in result["baseline"].values())
    assert result["redis_bytes_per_queued_job"] > 0
    json.dumps(result)
    assert redis.Redis.from_url(redis_url).dbsize() == 0  # it cleans up after itself
