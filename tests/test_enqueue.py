"""enqueue_jobs writes real RQ jobs: RQ fetches, lists, runs and deletes them as its own."""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from rq import Queue, SimpleWorker, Worker
from rq.cli import main as rq_main
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry
from rq.serializers import DefaultSerializer
from rq.utils import utcparse

from tests import enqueue_helpers
from tickwork.enqueue import QueuedJob, enqueue_jobs, job_data

QUEUE = "tickwork"
RECORD = "tests.enqueue_helpers.record"


def ids(count: int, start: int = 0) -> list[str]:
    return [f"s-order-digest-daily_summary-{account}-202611231300" for account in range(start, start + count)]


def jobs_for(job_ids: list[str], **kwargs: object) -> list[QueuedJob]:
    return [QueuedJob(job_id, dict(kwargs), 300) for job_id in job_ids]


def test_rq_fetches_them_with_their_function_arguments_timeout_origin_and_status(
    redis_conn: redis.Redis,
) -> None:
    jobs = [
        QueuedJob("a-1", {"run": "s12-daily_summary-7-202611231300", "skipped": 2}, 120),
        QueuedJob("b_2", {}, -1, description="order digest for account 7"),
        QueuedJob("C-3", {"note": "é ünïcode"}, 30, description=""),
    ]
    result = enqueue_jobs(redis_conn, QUEUE, jobs, func=RECORD)
    assert result.enqueued == ["a-1", "b_2", "C-3"] and result.duplicates == []

    first = Job.fetch("a-1", connection=redis_conn)
    assert first.func_name == RECORD
    assert first.args == () and first.kwargs == {"run": "s12-daily_summary-7-202611231300", "skipped": 2}
    assert first.timeout == 120 and first.origin == QUEUE
    assert first.get_status() == JobStatus.QUEUED
    assert first.result_ttl == 0 and first.failure_ttl == 86400 and first.ttl is None
    assert first.enqueued_at is not None and first.created_at == first.enqueued_at
    assert first.description == f"{RECORD}(run='s12-daily_summary-7-202611231300', skipped=2)"

    second = Job.fetch("b_2", connection=redis_conn)
    assert second.timeout == -1 and second.kwargs == {} and second.description == "order digest for account 7"
    third = Job.fetch("C-3", connection=redis_conn)
    assert third.kwargs == {"note": "é ünïcode"} and third.description is None

    queue = Queue(QUEUE, connection=redis_conn)
    assert queue.count == 3 and queue.job_ids == ["a-1", "b_2", "C-3"]
    assert [job.id for job in queue.get_jobs()] == ["a-1", "b_2", "C-3"]
    assert queue in Queue.all(connection=redis_conn)


def test_the_hash_is_what_rq_writes_less_its_empty_fields(redis_conn: redis.Redis) -> None:
    kwargs = {"run": "s12-daily_summary-7-202611231300"}
    queue = Queue(QUEUE, connection=redis_conn)
    queue.enqueue(
        "tickwork.runner.execute",
        kwargs=kwargs,
        job_id="by-rq",
        job_timeout=300,
        result_ttl=0,
        failure_ttl=86400,
    )
    enqueue_jobs(redis_conn, QUEUE, [QueuedJob("by-us", kwargs, 300)])

    theirs: dict[bytes, bytes] = dict(redis_conn.hgetall("rq:job:by-rq"))  # type: ignore[arg-type]
    ours: dict[bytes, bytes] = dict(redis_conn.hgetall("rq:job:by-us"))  # type: ignore[arg-type]
    assert set(ours) <= set(theirs)
    assert all(theirs[name] == b"" for name in set(theirs) - set(ours))
    for name in set(ours) - {b"created_at", b"enqueued_at", b"data"}:
        assert ours[name] == theirs[name], name
    assert zlib.decompress(ours[b"data"]) == zlib.decompress(theirs[b"data"])
    utcparse(ours[b"created_at"].decode())
    assert ours[b"created_at"] == ours[b"enqueued_at"]
    assert redis_conn.lrange("rq:queue:tickwork", 0, -1) == [b"by-rq", b"by-us"]
    assert redis_conn.smembers("rq:queues") == {b"rq:queue:tickwork"}
    assert redis_conn.ttl("rq:job:by-us") == -1


def test_job_data_is_rqs_pickle_in_a_zlib_stream() -> None:
    kwargs = {"run": "x" * 1000, "n": 3}
    for func, arguments in (("tickwork.runner.execute", {}), (RECORD, kwargs)):
        expected = DefaultSerializer.dumps((func, None, (), arguments))
        assert zlib.decompress(job_data(func, arguments)) == expected
    assert len(job_data("tickwork.runner.execute", {})) <= 64


def _keys_naming(connection: redis.Redis, job_ids: list[str]) -> list[Any]:
    """Every key that is, or holds, one of ``job_ids``."""
    wanted = {job_id.encode() for job_id in job_ids}
    found: list[Any] = []
    for key in connection.keys():
        kind = connection.type(key)
        members: set[Any] = set()
        if kind == b"list":
            members = set(connection.lrange(key, 0, -1))
        elif kind == b"zset":
            members = set(connection.zrange(key, 0, -1))
        elif kind == b"set":
            members = set(connection.smembers(key))
        if members & wanted or any(job_id in key for job_id in wanted):
            found.append(key)
    return found


def test_simple_worker_runs_them_in_order_and_result_ttl_0_leaves_nothing(redis_conn: redis.Redis) -> None:
    job_ids = ids(5)
    jobs = [QueuedJob(job_id, {"n": n} if n % 2 else {}, 60) for n, job_id in enumerate(job_ids)]
    assert enqueue_jobs(redis_conn, QUEUE, jobs, func=RECORD, batch_size=2).enqueued == job_ids

    queue = Queue(QUEUE, connection=redis_conn)
    assert SimpleWorker([queue], connection=redis_conn).work(burst=True)

    assert enqueue_helpers.calls(redis_conn) == [(job.job_id, job.kwargs) for job in jobs]
    assert queue.count == 0
    assert _keys_naming(redis_conn, job_ids) == []


def test_forking_worker_runs_them_too(redis_conn: redis.Redis) -> None:
    job_ids = ids(2)
    enqueue_jobs(redis_conn, QUEUE, jobs_for(job_ids, flag=True), func=RECORD)
    assert Worker([Queue(QUEUE, connection=redis_conn)], connection=redis_conn).work(burst=True)
    assert enqueue_helpers.calls(redis_conn) == [(job_id, {"flag": True}) for job_id in job_ids]
    assert _keys_naming(redis_conn, job_ids) == []


def test_a_failed_job_stays_failed_for_failure_ttl_and_is_not_queued_again(redis_conn: redis.Redis) -> None:
    job_ids = ids(1)
    enqueue_jobs(redis_conn, QUEUE, jobs_for(job_ids), func="tests.enqueue_helpers.fail", failure_ttl=600)
    queue = Queue(QUEUE, connection=redis_conn)
    SimpleWorker([queue], connection=redis_conn).work(burst=True)

    job = Job.fetch(job_ids[0], connection=redis_conn)
    assert job.get_status() == JobStatus.FAILED
    assert job_ids[0] in FailedJobRegistry(QUEUE, connection=redis_conn).get_job_ids()
    assert 0 < redis_conn.ttl(job.key) <= 600

    again = enqueue_jobs(redis_conn, QUEUE, jobs_for(job_ids), func="tests.enqueue_helpers.fail")
    assert again.enqueued == [] and again.duplicates == job_ids and queue.count == 0


def test_rq_info_counts_them(redis_conn: redis.Redis, redis_url: str) -> None:
    enqueue_jobs(redis_conn, QUEUE, jobs_for(ids(3)))
    result = CliRunner().invoke(rq_main, ["info", "--url", redis_url, "--only-queues"])
    assert result.exit_code == 0, result.output
    assert "tickwork" in result.output and "3 jobs total" in result.output


def test_a_duplicate_in_the_same_batch_is_queued_once(redis_conn: redis.Redis) -> None:
    job_ids = ids(3)
    jobs = jobs_for([job_ids[0], job_ids[1], job_ids[0], job_ids[2], job_ids[1]])
    result = enqueue_jobs(redis_conn, QUEUE, jobs)
    assert result.enqueued == job_ids and result.duplicates == [job_ids[0], job_ids[1]]
    assert Queue(QUEUE, connection=redis_conn).job_ids == job_ids


def test_duplicates_across_batches_and_calls_are_skipped(redis_conn: redis.Redis) -> None:
    job_ids = ids(10)
    first = enqueue_jobs(redis_conn, QUEUE, jobs_for(job_ids[:6] + job_ids[:2]), batch_size=3)
    assert first.enqueued == job_ids[:6] and first.duplicates == job_ids[:2]

    second = enqueue_jobs(redis_conn, QUEUE, jobs_for(job_ids), batch_size=4)
    assert second.enqueued == job_ids[6:] and second.duplicates == job_ids[:6]
    assert Queue(QUEUE, connection=redis_conn).job_ids == job_ids


def test_two_concurrent_callers_never_queue_an_id_twice(redis_conn: redis.Redis) -> None:
    shared = ids(1500, start=1500)
    inputs = [ids(1500) + shared, shared + ids(1500, start=3000)]
    barrier = threading.Barrier(2)
    results = {}

    def spawn(number: int) -> None:
        barrier.wait()
        results[number] = enqueue_jobs(redis_conn, QUEUE, jobs_for(inputs[number]), batch_size=100)

    threads = [threading.Thread(target=spawn, args=(number,)) for number in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    queued = Queue(QUEUE, connection=redis_conn).job_ids
    assert len(queued) == len(set(queued)) == 4500
    assert set(results[0].enqueued).isdisjoint(results[1].enqueued)
    assert set(results[0].enqueued) | set(results[1].enqueued) == set(queued)
    assert sorted(results[0].duplicates + results[1].duplicates) == sorted(shared)


@pytest.mark.parametrize("bad", ["", "a:b", "a b", "é", "a/b", "a\n", "rq:job:x"])
def test_an_invalid_id_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        QueuedJob(bad, {}, 60)


@pytest.mark.parametrize("timeout", [0, -2])
def test_an_invalid_timeout_is_rejected(timeout: int) -> None:
    with pytest.raises(ValueError):
        QueuedJob("ok", {}, timeout)


def test_bad_arguments_are_rejected(redis_conn: redis.Redis) -> None:
    with pytest.raises(TypeError):
        QueuedJob(123, {}, 60)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        QueuedJob("ok", {}, 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        enqueue_jobs(redis_conn, QUEUE, [], batch_size=0)
    with pytest.raises(ValueError):
        enqueue_jobs(redis_conn, "", [])
    empty = enqueue_jobs(redis_conn, QUEUE, [])
    assert empty.enqueued == [] and empty.duplicates == []


def test_a_failing_batch_leaves_the_earlier_ones_queued_and_the_client_usable(
    redis_conn: redis.Redis,
) -> None:
    job_ids = ids(5)
    jobs = jobs_for(job_ids[:4]) + [QueuedJob(job_ids[4], {"f": lambda: None}, 60)]
    with pytest.raises(Exception, match="pickle"):
        enqueue_jobs(redis_conn, QUEUE, jobs, batch_size=2)
    assert redis_conn.ping()
    assert Queue(QUEUE, connection=redis_conn).job_ids == job_ids[:4]
    retried = enqueue_jobs(redis_conn, QUEUE, jobs_for(job_ids), batch_size=2)
    assert retried.enqueued == job_ids[4:] and retried.duplicates == job_ids[:4]


def test_it_recovers_when_redis_forgets_the_script(redis_conn: redis.Redis) -> None:
    enqueue_jobs(redis_conn, QUEUE, jobs_for(ids(1)))
    redis_conn.script_flush()
    job_ids = ids(9, start=1)

    def flushing_midway() -> Iterator[QueuedJob]:
        for number, job in enumerate(jobs_for(job_ids)):
            if number == 4:  # two batches of two are already written
                redis_conn.script_flush()
            yield job

    result = enqueue_jobs(redis_conn, QUEUE, flushing_midway(), batch_size=2)
    assert result.enqueued == job_ids and result.duplicates == []
    assert Queue(QUEUE, connection=redis_conn).job_ids == ids(10)


def test_a_queued_job_costs_at_most_600_bytes_of_redis_memory(redis_conn: redis.Redis) -> None:
    count = 20_000
    jobs = jobs_for(ids(count))
    redis_conn.set("warm-up", 1)  # the first write allocates the database's tables
    before = int(redis_conn.info("memory")["used_memory"])
    enqueue_jobs(redis_conn, QUEUE, jobs)
    after = int(redis_conn.info("memory")["used_memory"])
    per_job = (after - before) / count
    key = f"rq:job:{jobs[123].job_id}"
    hash_bytes = redis_conn.memory_usage(key)
    list_bytes = redis_conn.memory_usage("rq:queue:tickwork", samples=0)
    assert hash_bytes is not None and list_bytes is not None
    assert redis_conn.object("encoding", key) in (b"listpack", b"ziplist")  # compact: every value <= 64 B
    assert per_job <= 600, per_job
    assert hash_bytes + list_bytes / count <= 600
