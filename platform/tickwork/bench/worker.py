"""Executions per second of one worker process, against RQ's own workers on the same Redis.

Ours: Tickwork's real path. A catalog app with one trivial job is published and installed for
``ACCOUNTS`` accounts (each with an owner); the job's scheduled runs are queued as the
spawner queues them (``tickwork.enqueue.enqueue_jobs``, the slot key as job id, no
arguments); then one worker process runs ``tickwork.worker._child_main``, the code each of
the supervisor's processes runs (an RQ ``SimpleWorker`` calling ``runner.execute``), in burst
mode. Every execution is recorded, checked, metered and run from a fresh module namespace
under its timeout, exactly as in production.

Baselines, in the same run on the same Redis: RQ's forking ``Worker`` and its
``SimpleWorker``, in burst mode, running ``tickwork.bench.trivial.noop`` (a bare module-level
function) for the same number of jobs, queued the same way.

Fairness. The machine may be shared (other test runs, two cores), so absolute rates move a
lot from minute to minute; only ratios measured side by side mean anything:

- every worker runs in a fresh process (``python -m tickwork.bench.worker KIND``) with the same
  environment, the same Redis (flushed and filled the same way before each) and no pinning
  unless asked;
- the jobs are split into ``rounds`` (default 5); each round runs the three kinds one after
  the other, in an order rotated every round, so a burst of load elsewhere hits all three
  alike; each round's ratios are taken within the round, and the report gives the median
  of the rounds (rates and ratios), with every round's figures under ``rounds``;
- each worker process warms up first: its first ``warmup`` jobs (10%, at least 5) are run but
  not timed; the rest are timed from the first timed job's start to the last job's end (RQ's
  ``execute_job``, ours ``TickworkWorker.execute_job``), so interpreter start-up, imports,
  worker registration and RQ's teardown (up to a second joining its pub/sub thread) are left
  out for all three alike; ``work_seconds`` is the whole ``work()`` call. For ours the span
  from the first execution's ``started_at`` to the last one's ``finished_at`` in the database
  is reported too (``db_span_executions_per_s``, warm-up included).

Unless given a database and a Redis, it uses a SQLite file in a temporary directory (what
``make run`` uses) and an embedded redis-server. A given Redis database is FLUSHed; a given
database is migrated and keeps the benchmark's rows (an app ``bench-trivial`` and accounts
named ``bench-...``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from rq.registry import FailedJobRegistry, StartedJobRegistry
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from billing import MICRO_PER_CREDIT
from billing.ledger import Posting, post
from tickwork import clock, migrate
from tickwork.app_versions import publish
from tickwork.bundles import load_bundle
from tickwork.db import make_engine
from tickwork.embedded_redis import EmbeddedRedis
from tickwork.enqueue import QueuedJob, enqueue_jobs
from tickwork.executions import ScheduledRun
from tickwork.models import Account, App, Execution, Installation, User
from tickwork.queues import QUEUE_NAME, RUNNER_FUNCTION
from tickwork.settings import with_driver

APP_SLUG = "bench-trivial"
JOB = "noop"
ACCOUNTS = 100
FIRST_SLOT = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
TRIVIAL_FUNCTION = "tickwork.bench.trivial.noop"
KINDS = ("tickwork", "rq_simpleworker", "rq_worker")
CHILD_TIMEOUT_SECONDS = 900
TIMING = (
    "per worker process, after a warm-up of 10% of its jobs, from the first timed job's start to the "
    "last job's end (execute_job); rounds interleaved, medians of the rounds' rates and ratios"
)

MANIFEST = """\
name = "Bench trivial"
description = "One job that does nothing: what the runner itself costs per execution."

[[jobs]]
name = "noop"
schedule = "*:*"
credits = 1
"""

CODE = '''\
"""A job that does nothing."""


def noop(ctx, **params):
    return None
'''


# --- setup ------------------------------------------------------------------------------------


def _publish_app(session: Session, root: Path) -> App:
    """The trivial app as a catalog app with a published version (without syncing a catalog)."""
    folder = root / "apps" / APP_SLUG
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.toml").write_text(MANIFEST)
    (folder / "jobs.py").write_text(CODE)
    bundle = load_bundle(folder)
    app = session.scalar(select(App).where(App.slug == APP_SLUG))
    if app is None:
        app = App(slug=APP_SLUG, kind="catalog", name=bundle.name, description=bundle.description)
        session.add(app)
        session.flush()
    publish(session, app, bundle, created_by="tickwork bench worker")
    session.flush()
    return app


def _accounts(session: Session, app: App, count: int) -> list[int]:
    """``count`` new active accounts, each with an owner and the app installed (on)."""
    tag = uuid.uuid4().hex[:8]  # a given database may hold an earlier run's accounts
    accounts = [Account(slug=f"bench-{tag}-{n}", name=f"Bench account {n}") for n in range(count)]
    session.add_all(accounts)
    session.flush()
    for account in accounts:
        post(
            session,
            Posting(
                key=f"bench-grant:{account.slug}", account_id=account.id, kind="grant",
                amount=10**6 * MICRO_PER_CREDIT, at=clock.now(),
            ),
        )  # fmt: skip
        session.add(
            User(email=f"owner-{account.slug}@bench.invalid", account_id=account.id, role="owner", phone=None)
        )
        session.add(
            Installation(
                account_id=account.id,
                app_id=app.id,
                schedule_status="on",
                status_changed_at=datetime(2025, 1, 1, tzinfo=UTC),
            )
        )
    session.flush()
    return [account.id for account in accounts]


def scheduled_runs(app_id: int, account_ids: list[int], jobs: int) -> list[ScheduledRun]:
    """``jobs`` scheduled runs: every account at the first slot, then the next slot, and so on."""
    return [
        ScheduledRun(
            app_id=app_id,
            job=JOB,
            account_id=account_ids[n % len(account_ids)],
            slot=FIRST_SLOT + timedelta(minutes=n // len(account_ids)),
            source="schedule",
        )
        for n in range(jobs)
    ]


def _enqueue(client: redis.Redis, queued: list[QueuedJob], function: str) -> None:
    client.flushdb()
    result = enqueue_jobs(client, QUEUE_NAME, queued, func=function)
    if len(result.enqueued) != len(queued):
        raise RuntimeError(f"queued {len(result.enqueued)} of {len(queued)} jobs")


# --- the worker processes ---------------------------------------------------------------------


def _pin(pid: int, cpu: int) -> None:
    """Keep a process on one CPU (RQ-FACTS 6: where a process lands moves results by up to 60%)."""
    try:
        if cpu in os.sched_getaffinity(0):
            os.sched_setaffinity(pid, {cpu})
    except (AttributeError, OSError):
        pass


def _worker_cpu() -> int | None:
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return cpus[-1] if len(cpus) >= 2 else None


def _run_child(kind: str, jobs: int, warmup: int, env: dict[str, str], cpu: int | None) -> dict[str, Any]:
    command = [sys.executable, "-m", "tickwork.bench.worker", kind, str(jobs), str(warmup)]
    if cpu is not None:
        command += ["--cpu", str(cpu)]
    completed = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the {kind} worker failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def _time_jobs(worker_class: type[Any], warmup: int) -> dict[str, Any]:
    """Note when the worker's first timed job starts and its last one ends (``execute_job``).

    The first ``warmup`` jobs run untimed: the span starts with job ``warmup + 1``.
    """
    span: dict[str, Any] = {"first": None, "last": None, "jobs": 0, "timed": 0}
    original = worker_class.execute_job

    def execute_job(self: Any, *args: Any, **kwargs: Any) -> Any:
        timed = span["jobs"] >= warmup
        if timed and span["first"] is None:
            span["first"] = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            span["jobs"] += 1
            if timed:
                span["last"] = time.perf_counter()
                span["timed"] += 1

    setattr(worker_class, "execute_job", execute_job)  # noqa: B010  (a method patched on the class)
    return span


def child_main(kind: str, jobs: int, warmup: int = 0, cpu: int | None = None) -> dict[str, Any]:
    """Run one burst worker of ``kind`` in this process; how long its timed jobs took."""
    if cpu is not None:
        _pin(0, cpu)
    from rq import Queue, SimpleWorker, Worker

    started = time.perf_counter()
    if kind == "tickwork":
        import multiprocessing

        from tickwork import worker

        span = _time_jobs(worker.TickworkWorker, warmup)
        # What the supervisor passes each worker process it starts (the bench process is its parent).
        slots = worker.RunSlots(multiprocessing.get_context("fork"), 1)
        started = time.perf_counter()
        worker._child_main(index=0, slots=slots, burst=True, max_jobs=max(jobs, 1), parent=os.getppid())
    else:
        import tickwork.bench.trivial  # noqa: F401  (imported up front, as ours imports the runner)

        worker_class = Worker if kind == "rq_worker" else SimpleWorker
        span = _time_jobs(worker_class, warmup)
        connection = redis.Redis.from_url(os.environ["REDIS_URL"])
        rq_worker = worker_class([Queue(QUEUE_NAME, connection=connection)], connection=connection)
        started = time.perf_counter()
        rq_worker.work(burst=True, logging_level="WARNING")
    work_seconds = time.perf_counter() - started
    seconds = span["last"] - span["first"] if span["timed"] else 0.0
    return {
        "kind": kind,
        "jobs": span["jobs"],
        "timed_jobs": span["timed"],
        "seconds": seconds,
        "work_seconds": work_seconds,
    }


# --- the benchmark ----------------------------------------------------------------------------


def _per_second(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else float("inf")


def _check_executions(
    sessions: sessionmaker[Session], app_id: int, account_ids: list[int], jobs: int
) -> float:
    """Every run recorded and succeeded; the span from the first start to the last finish."""
    mine = (Execution.app_id == app_id, Execution.account_id.in_(account_ids))
    with sessions() as session:
        rows = session.execute(select(Execution.status, func.count()).where(*mine).group_by(Execution.status))
        statuses = {status: count for status, count in rows}
        first, last = session.execute(
            select(func.min(Execution.started_at), func.max(Execution.finished_at)).where(*mine)
        ).one()
    if statuses != {"succeeded": jobs} or first is None or last is None:
        raise RuntimeError(f"expected {jobs} succeeded executions, found {statuses}")
    seconds: float = (last - first).total_seconds()
    return seconds


def _check_drained(client: redis.Redis, kind: str) -> None:
    """Every job ran and succeeded: no job, registry entry or execution left (result_ttl 0)."""
    failed = FailedJobRegistry(QUEUE_NAME, connection=client).count
    started = StartedJobRegistry(QUEUE_NAME, connection=client).count
    queued = client.llen(f"rq:queue:{QUEUE_NAME}")
    left = len(client.keys("rq:job:*")) + len(client.keys("rq:execution*")) + len(client.keys("rq:results:*"))
    if failed or started or queued or left:
        raise RuntimeError(
            f"the {kind} worker left {queued} queued, {started} started, {failed} failed, {left} job keys"
        )


def _split(jobs: int, rounds: int) -> list[int]:
    """``jobs`` in ``rounds`` near-equal parts."""
    return [jobs // rounds + (1 if n < jobs % rounds else 0) for n in range(rounds)]


def _warmup(jobs: int) -> int:
    """Untimed jobs at the start of each worker process: 10%, at least 5, leaving some timed."""
    return min(max(jobs // 10, 5), jobs // 2)


def _round_figures(jobs: int, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    rates = {kind: _per_second(result["timed_jobs"], result["seconds"]) for kind, result in results.items()}
    return {
        "jobs": jobs,
        "order": list(results),
        "executions_per_s": rates["tickwork"],
        "rq_worker_jobs_per_s": rates["rq_worker"],
        "rq_simpleworker_jobs_per_s": rates["rq_simpleworker"],
        "ratio_vs_rq_worker": round(rates["tickwork"] / rates["rq_worker"], 2),
        "ratio_vs_rq_simpleworker": round(rates["tickwork"] / rates["rq_simpleworker"], 2),
        "work_seconds": {kind: round(result["work_seconds"], 3) for kind, result in results.items()},
    }


def measure(
    jobs: int,
    redis_url: str,
    database_url: str,
    root: Path,
    pin: bool = False,
    rounds: int = 5,
) -> dict[str, Any]:
    rounds = max(1, min(rounds, jobs))
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine)
        sessions = sessionmaker(engine, expire_on_commit=False)
        with sessions() as session:
            app = _publish_app(session, root)
            account_ids = _accounts(session, app, min(ACCOUNTS, jobs))
            session.commit()
            app_id = app.id
        runs = scheduled_runs(app_id, account_ids, jobs)  # every round takes the next slots
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "TICKWORK_HOME": str(root / "home"),
        }
        env.setdefault("SECRET_KEY", "tickwork-bench-secret-key-not-for-production")
        cpu = _worker_cpu() if pin else None
        client = redis.Redis.from_url(redis_url)
        figures: list[dict[str, Any]] = []
        done = 0
        try:
            for number, count in enumerate(_split(jobs, rounds)):
                batch = runs[done : done + count]
                done += count
                warmup = _warmup(count)
                order = KINDS[number % len(KINDS) :] + KINDS[: number % len(KINDS)]
                results: dict[str, dict[str, Any]] = {}
                for kind in order:
                    if kind == "tickwork":
                        queued = [QueuedJob(run.key, run.job_kwargs(), -1) for run in batch]
                        _enqueue(client, queued, RUNNER_FUNCTION)
                    else:
                        queued = [QueuedJob(f"b{n}", {}, -1) for n in range(count)]
                        _enqueue(client, queued, TRIVIAL_FUNCTION)
                    results[kind] = _run_child(kind, count, warmup, env, cpu)
                    _check_drained(client, kind)
                    if results[kind]["jobs"] != count:
                        raise RuntimeError(f"the {kind} worker ran {results[kind]['jobs']} of {count} jobs")
                figures.append(_round_figures(count, results))
            client.flushdb()
        finally:
            client.close()
        span = _check_executions(sessions, app_id, account_ids, jobs)
    finally:
        engine.dispose()

    def median_of(name: str) -> float:
        return round(statistics.median(figure[name] for figure in figures), 2)

    return {
        "bench": "worker",
        "jobs": jobs,
        "accounts": len(account_ids),
        "rounds": figures,
        "executions_per_s": median_of("executions_per_s"),
        "db_span_executions_per_s": _per_second(jobs, span),
        "succeeded": jobs,
        "baseline": {
            "rq_worker_jobs_per_s": median_of("rq_worker_jobs_per_s"),
            "rq_simpleworker_jobs_per_s": median_of("rq_simpleworker_jobs_per_s"),
        },
        "ratio_vs_rq_worker": median_of("ratio_vs_rq_worker"),
        "ratio_vs_rq_simpleworker": median_of("ratio_vs_rq_simpleworker"),
        "ratio_vs_rq_worker_range": [
            min(figure["ratio_vs_rq_worker"] for figure in figures),
            max(figure["ratio_vs_rq_worker"] for figure in figures),
        ],
        "timing": TIMING,
        "database": database_url.split(":", 1)[0],
        "pinned_cpu": cpu,
    }


def run(
    jobs: int = 2000,
    redis_url: str | None = None,
    database_url: str | None = None,
    pin: bool = False,
    rounds: int = 5,
) -> dict[str, Any]:
    """The worker benchmark; an embedded Redis and a temporary SQLite file unless given.

    ``jobs`` per kind in all, split into ``rounds``. ``pin`` puts the worker processes on the
    last CPU (and an embedded Redis on the first): steadier figures on a quiet machine, worse
    ones when other work needs those CPUs.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1: {jobs}")
    with tempfile.TemporaryDirectory(prefix="tickwork-bench-worker-") as directory:
        root = Path(directory)
        url = with_driver(database_url) if database_url else f"sqlite:///{root / 'bench.db'}"
        if redis_url is not None:
            return measure(jobs, redis_url, url, root, pin, rounds)
        with EmbeddedRedis(root / "redis", appendonly=False) as server:
            if pin and server.process is not None and _worker_cpu() is not None:
                _pin(server.process.pid, 0)  # Redis on one CPU, the worker on another
            return measure(jobs, server.url, url, root, pin, rounds)


def main(argv: list[str]) -> None:
    kind, jobs, warmup = argv[0], int(argv[1]), int(argv[2])
    if kind not in KINDS:
        raise SystemExit(f"unknown worker kind {kind!r}; one of {', '.join(KINDS)}")
    cpu = int(argv[4]) if len(argv) > 4 and argv[3] == "--cpu" else None
    print(json.dumps(child_main(kind, jobs, warmup, cpu)))


if __name__ == "__main__":
    main(sys.argv[1:])
