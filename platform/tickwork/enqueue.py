"""Enqueue many RQ jobs fast: one Lua call per batch writes them as RQ's own enqueue would.

The spawner queues one job per (app, job, account, slot) every minute, up to hundreds of
thousands at a time. RQ's ``Queue.enqueue_many`` spends most of its time in the Python client
(building a ``Job`` object per job, a fresh ``zlib`` stream per job, ~20 hash fields per job);
``enqueue_jobs`` writes the same RQ jobs with a fraction of that work.

Redis layout (rq 3.0.0 names; the prefixes are read from ``rq.Job`` and ``rq.Queue``)
---------------------------------------------------------------------------------------

For each new job id ``<id>`` of a batch, in one ``EVALSHA`` of a script registered once:

- ``rq:job:<id>``: a hash with exactly these fields, as RQ's ``Job.to_dict`` writes them

  ==============  =================================================================
  ``status``      ``queued``
  ``origin``      the queue name
  ``created_at``  the batch's UTC time in RQ's format (``2026-11-23T13:00:01.123456Z``)
  ``enqueued_at`` the same time
  ``timeout``     the job's timeout in seconds (``-1``: none)
  ``result_ttl``  ``0`` by default: RQ deletes the job as soon as it succeeds
  ``failure_ttl`` ``86400`` by default: a failed job stays in RQ's failed registry a day
  ``data``        ``zlib`` stream of RQ's default serializer's (pickle, highest protocol)
                  ``(func_name, None, (), kwargs)``: what ``Job.data`` holds for a job
                  created with a function path, no instance and no positional args
  ``description`` RQ's call string (``tickwork.runner.execute()``, as ``Job.create``
                  makes it) unless the job gives its own; none for ``description=""``
  ==============  =================================================================

- ``rq:queue:<queue>``: a list; the new ids are ``RPUSH``-ed in input order, as
  ``Queue.enqueue_many`` pushes them;
- ``rq:queues``: a set; ``SADD rq:queue:<queue>`` once per batch, as ``enqueue_many`` does.

Nothing else: no expiry (RQ sets none on a queued job without ``ttl``), no registry (a queued
job is in no registry; RQ's worker moves it through its registries itself).

Left out, because RQ reads a missing field exactly as the empty value it would have written
(``Job.restore`` tests each with ``obj.get(...)``): ``started_at``, ``ended_at``,
``last_heartbeat``, ``worker_name``, ``group_id`` and the three ``*_callback_name`` fields
(all ``''`` at enqueue time). Every other field RQ may write
(``ttl``, ``meta``, retries, dependencies, callbacks, webhooks, rate limits...) is only
written for features these jobs do not use.

Why this is still RQ, not a home-made queue
-------------------------------------------

The jobs live in RQ's keys, in RQ's format, and nothing but RQ ever touches them after this
function returns: ``rq.Job.fetch`` loads them, ``Queue.count``/``job_ids``, ``rq info`` and
rq-dashboard list them, and RQ's own ``Worker``/``SimpleWorker`` dequeue, run, retry, fail
and delete them through RQ's own code paths (the tests check all of these). This module
only replaces the *client-side* code that writes a new queued job, in the way RQ's own
``enqueue(..., unique=True)`` does (``rq.scripts.UNIQUE_ENQUEUE_SCRIPT``: EXISTS the job
hash, else HSET it and RPUSH its id, atomically), batched. The ``data`` blob is built by
RQ's serializer and is a standard zlib stream that ``zlib.decompress`` (what RQ calls) reads.

Duplicates
----------

A job whose hash already exists (queued, running, failed within ``failure_ttl``, or a
repeat of an id earlier in the same call) is skipped and reported: the check and the write
are one atomic script run per batch, so concurrent spawner replicas never queue an id twice
while its hash exists. Once a job succeeded with ``result_ttl=0`` its hash is gone and the
id could be queued again: the runner's unique execution key in the database covers that.

Speed and memory
----------------

Client-side CPU is the bottleneck (RQ-FACTS 5), so the per-job work is a few bytes
operations: everything shared by a batch is sent once (key prefix, queue, time, TTLs); a job
adds four script arguments (id, data, timeout, description), written straight in Redis's
protocol; ``data`` and the description are built once per distinct kwargs (``{}`` gives one
blob for the whole call), and a miss compresses with a 512-byte window (``zlib.compress``
allocates a 256 KB state per call, ~60 us: the largest single cost of RQ's own enqueue).
Batches are written on one pooled connection without waiting for each reply, so Redis runs
batch n while this process builds batch n+1. A batch of 1,000 keeps Redis busy ~5 ms.

Redis stores a hash compactly (listpack, ziplist before 7.0) only while every value is at
most ``hash-max-listpack-value`` bytes (64 by default); past that the same hash costs about
twice as much memory and Redis CPU. So keep ``data`` and the description at most 64 bytes:
with ``tickwork.runner.execute`` the pickle takes 45 of ``data``'s, which leaves room for
``{}`` or a tiny kwarg, not for a 36-character run key (the job id already is that key:
``rq.get_current_job().id``). Measured per queued job (hash plus list entry, 100,000 jobs):
~490 bytes on Redis 7.0 (~430 with ``description=""``), against ~620 for ``enqueue_many``;
~880 with ``{"run": <36 chars>}`` (hashtable), against ~1,830 for ``enqueue_many``.
"""

from __future__ import annotations

import weakref
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError, RedisError
from rq import Queue
from rq.job import Job, validate_job_id
from rq.serializers import DefaultSerializer
from rq.utils import get_call_string, now, utcformat

DEFAULT_FUNC = "tickwork.runner.execute"

# EVALSHA's arguments before the per-job ones (EVALSHA, sha, numkeys, 2 keys, 5 shared ARGV),
# and how many each job adds.
_FIXED_ARGS = 10
_PER_JOB = 4
# Batches written to Redis before reading the first one's reply.
_IN_FLIGHT = 2
# Kwargs blobs remembered per call: identical kwargs are serialized and compressed once.
_CACHE_LIMIT = 4096
# Up to this pickle size a 512-byte window loses nothing: it already covers the whole input.
_SMALL_WINDOW_LIMIT = 512

ENQUEUE_SCRIPT = """
-- KEYS[1] = queue key (rq:queue:<name>), KEYS[2] = set of queue keys (rq:queues)
-- ARGV[1] = job key prefix (rq:job:), ARGV[2] = origin (queue name), ARGV[3] = enqueue time,
-- ARGV[4] = result_ttl, ARGV[5] = failure_ttl,
-- then 4 per job: id, data, timeout, description ('' for none).
-- Returns the 1-based positions of the jobs skipped because their hash already exists.
local queue = KEYS[1]
local prefix, origin, now = ARGV[1], ARGV[2], ARGV[3]
local result_ttl, failure_ttl = ARGV[4], ARGV[5]
local skipped, ids = {}, {}
local position = 0
redis.call('SADD', KEYS[2], queue)
for i = 6, #ARGV, 4 do
    position = position + 1
    local id = ARGV[i]
    local key = prefix .. id
    if redis.call('EXISTS', key) == 1 then
        skipped[#skipped + 1] = position
    else
        local description = ARGV[i + 3]
        if description == '' then
            redis.call('HSET', key, 'status', 'queued', 'origin', origin, 'created_at', now,
                'enqueued_at', now, 'timeout', ARGV[i + 2], 'result_ttl', result_ttl,
                'failure_ttl', failure_ttl, 'data', ARGV[i + 1])
        else
            redis.call('HSET', key, 'status', 'queued', 'origin', origin, 'created_at', now,
                'enqueued_at', now, 'timeout', ARGV[i + 2], 'result_ttl', result_ttl,
                'failure_ttl', failure_ttl, 'data', ARGV[i + 1], 'description', description)
        end
        ids[#ids + 1] = id
        if #ids == 1000 then
            redis.call('RPUSH', queue, unpack(ids))
            ids = {}
        end
    end
end
if #ids > 0 then
    redis.call('RPUSH', queue, unpack(ids))
end
return skipped
"""


@dataclass(frozen=True, slots=True)
class QueuedJob:
    """One RQ job to queue: ``func(**kwargs)`` under the deterministic ``job_id``."""

    job_id: str
    kwargs: dict[str, Any]
    timeout: int  # seconds; -1 for none (RQ refuses 0)
    description: str | None = None  # None: RQ's call string, "func(key=value)"; "": none stored

    def __post_init__(self) -> None:
        try:
            validate_job_id(self.job_id)  # RQ's own check: [A-Za-z0-9_-]+
        except ValueError as error:
            raise ValueError(f"{error}: {self.job_id!r}") from None
        if not isinstance(self.timeout, int) or isinstance(self.timeout, bool):
            raise TypeError(f"timeout must be an int number of seconds: {self.timeout!r}")
        if self.timeout == 0 or self.timeout < -1:
            raise ValueError(f"timeout must be positive, or -1 for none: {self.timeout}")
        if not isinstance(self.kwargs, dict):
            raise TypeError(f"kwargs must be a dict: {type(self.kwargs).__name__}")


@dataclass
class EnqueueResult:
    enqueued: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # ids whose job hash already existed


_scripts: weakref.WeakKeyDictionary[redis.Redis, Script] = weakref.WeakKeyDictionary()


def _script(connection: redis.Redis) -> Script:
    """The script registered (and loaded into Redis) once per client."""
    script = _scripts.get(connection)
    if script is None:
        script = connection.register_script(ENQUEUE_SCRIPT)
        script.sha = connection.script_load(ENQUEUE_SCRIPT)
        _scripts[connection] = script
    return script


def job_data(func: str, kwargs: dict[str, Any]) -> bytes:
    """The ``data`` field of an RQ job calling ``func(**kwargs)``: a zlib stream of RQ's pickle."""
    raw: bytes = DefaultSerializer.dumps((func, None, (), kwargs))
    return _compress(raw)


def _compress(raw: bytes) -> bytes:
    if len(raw) > _SMALL_WINDOW_LIMIT:
        return zlib.compress(raw)
    compressor = zlib.compressobj(6, zlib.DEFLATED, 9, 1)
    return compressor.compress(raw) + compressor.flush()


def _data_encoder(func: str) -> Callable[[dict[str, Any]], bytes]:
    """``job_data(func, kwargs)``, compressing each distinct pickle once."""
    dumps = DefaultSerializer.dumps
    cache: dict[bytes, bytes] = {}

    def encode(kwargs: dict[str, Any]) -> bytes:
        raw: bytes = dumps((func, None, (), kwargs))
        data = cache.get(raw)
        if data is None:
            data = _compress(raw)
            if len(cache) < _CACHE_LIMIT:
                cache[raw] = data
        return data

    return encode


def _bulk(value: bytes) -> bytes:
    """One RESP bulk string."""
    return b"$%d\r\n%b\r\n" % (len(value), value)


class _Pipe:
    """EVALSHA calls written on one pooled connection without waiting for each reply.

    While Redis runs batch n, this process builds batch n+1: client and server work overlap
    (what a redis-py pipeline cannot do: it sends everything, then waits).
    """

    def __init__(self, connection: redis.Redis, script: Script, result: EnqueueResult) -> None:
        self.client = connection
        self.script = script
        self.result = result
        self.pool = connection.connection_pool
        self.conn: Any = None
        self.pending: deque[tuple[list[str], list[bytes]]] = deque()
        self.reloads = 0

    def __enter__(self) -> _Pipe:
        self.conn = self.pool.get_connection()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, *rest: object) -> None:
        try:
            if error is not None and self.pending:
                if isinstance(error, RedisError):
                    self.conn.disconnect()  # replies are left unread: never hand it back as it is
                else:
                    try:
                        self.receive()  # the batches already sent stay queued: read their replies
                    except BaseException:
                        self.conn.disconnect()
        finally:
            self.pool.release(self.conn)

    def send(self, ids: list[str], packed: list[bytes]) -> None:
        self.conn.send_packed_command(packed, check_health=not self.pending)
        self.pending.append((ids, packed))

    def receive(self, keep: int = 0) -> None:
        """Read replies until at most ``keep`` batches are still unanswered."""
        while len(self.pending) > keep:
            ids, packed = self.pending.popleft()
            try:
                skipped = self.conn.read_response()
            except NoScriptError:  # the script was flushed from Redis (SCRIPT FLUSH, restart)
                self._reload_and_resend([(ids, packed)])
                continue
            self._record(ids, skipped)

    def _reload_and_resend(self, failed: list[tuple[list[str], list[bytes]]]) -> None:
        while self.pending:  # sent before the reload: read them all first
            ids, packed = self.pending.popleft()
            try:
                self._record(ids, self.conn.read_response())
            except NoScriptError:
                failed.append((ids, packed))
        self.reloads += 1
        if self.reloads > 3:
            raise RuntimeError("the enqueue script keeps disappearing from Redis")
        self.conn.send_command("SCRIPT", "LOAD", self.script.script)
        self.conn.read_response()
        for ids, packed in failed:
            self.send(ids, packed)

    def _record(self, ids: list[str], skipped: list[int]) -> None:
        if not skipped:
            self.result.enqueued.extend(ids)
            return
        positions = {position - 1 for position in skipped}
        self.result.duplicates.extend(ids[p] for p in sorted(positions))
        self.result.enqueued.extend(job_id for p, job_id in enumerate(ids) if p not in positions)


def enqueue_jobs(
    connection: redis.Redis,
    queue_name: str,
    jobs: Iterable[QueuedJob],
    *,
    func: str = DEFAULT_FUNC,
    batch_size: int = 1000,
    result_ttl: int = 0,
    failure_ttl: int = 86400,
) -> EnqueueResult:
    """Queue ``jobs`` on RQ queue ``queue_name`` in input order, skipping ids whose job hash exists.

    Each batch of ``batch_size`` jobs is one atomic script run. If a batch fails (Redis error,
    unpicklable kwargs), the error propagates and earlier batches stay queued; calling again
    with the same jobs is safe: those come back as duplicates.
    """
    if not queue_name:
        raise ValueError("queue name must not be empty")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1: {batch_size}")
    script = _script(connection)
    name = queue_name.encode()
    command = b"".join(
        map(
            _bulk,
            (
                b"EVALSHA",
                script.sha.encode(),
                b"2",
                Queue.redis_queue_namespace_prefix.encode() + name,
                Queue.redis_queues_keys.encode(),
                Job.redis_job_namespace_prefix.encode(),
                name,
            ),
        )
    )
    ttls = _bulk(b"%d" % result_ttl) + _bulk(b"%d" % failure_ttl)
    encode = _data_encoder(func)
    empty = encode({})
    tails: dict[tuple[bytes, int, str | None], bytes] = {}
    result = EnqueueResult()

    def packed(ids: list[str], parts: list[bytes]) -> list[bytes]:
        enqueued_at = _bulk(utcformat(now()).encode())
        head = b"*%d\r\n%b%b%b" % (_FIXED_ARGS + _PER_JOB * len(ids), command, enqueued_at, ttls)
        return [head, b"".join(parts)]

    with _Pipe(connection, script, result) as pipe:
        ids: list[str] = []
        parts: list[bytes] = []
        for job in jobs:
            job_id = job.job_id
            kwargs = job.kwargs
            data = encode(kwargs) if kwargs else empty
            key = (data, job.timeout, job.description)
            tail = tails.get(key)
            if tail is None:  # data, timeout and description: mostly shared by many jobs
                description = job.description
                if description is None:  # what RQ stores: the call string, e.g. 'f(x=1)'
                    description = get_call_string(func, (), kwargs, max_length=75) or ""
                tail = _bulk(data) + _bulk(b"%d" % job.timeout) + _bulk(description.encode())
                if len(tails) < _CACHE_LIMIT:
                    tails[key] = tail
            parts.append(b"$%d\r\n%b\r\n%b" % (len(job_id), job_id.encode(), tail))
            ids.append(job_id)
            if len(ids) == batch_size:
                pipe.send(ids, packed(ids, parts))
                pipe.receive(keep=_IN_FLIGHT - 1)
                ids, parts = [], []
        if ids:
            pipe.send(ids, packed(ids, parts))
        pipe.receive()
    return result


__all__ = ["DEFAULT_FUNC", "ENQUEUE_SCRIPT", "EnqueueResult", "QueuedJob", "enqueue_jobs", "job_data"]
