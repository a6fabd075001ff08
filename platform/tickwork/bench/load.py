"""The load run: a simulated day of the whole platform, real processes, a sped-up clock.

``tickwork bench load`` publishes 61 apps and gives ``accounts`` accounts two installations
each, then starts ``spawners`` spawner processes (``tickwork spawner``, sharing the lock) and
``workers`` worker processes (``tickwork worker``), every one of them reading time from one
clock file (``TICKWORK_CLOCK_OFFSET_FILE``, see ``tickwork.clock``) that runs ``speed`` times
as fast as the wall clock, from a warm-up before the day (15 real seconds: the processes
start) to its end, then until the queue is drained. Nothing is
stubbed: the spawners tick at each (simulated) minute boundary, the workers run the stored
code through the real runner, every execution is recorded and billed.

The workload, per account, in Eastern time on a Tuesday:

- app ``bench-load-MM`` (MM = account number mod 60), job ``every8h``: at minute MM every
  eight hours (``H-23/8:MM``, H = MM mod 8): 3 runs a day; over all accounts the runs are
  spread across the minutes, at about ``accounts / 60`` jobs in one minute of eight;
- app ``bench-load-morning``, job ``daily``: every account at 9:00: the day's burst.

Both have ``catch_up = "all"``, so a tick that overruns its (sped-up) minute delays slots
instead of dropping them; such slots run with source ``catch_up`` and are counted. A tick is
recorded for the minute before the warm-up, as if a spawner had run until then, so minutes
lost to slow process start-up are caught up too.

Reported (see ``report``): the slots ticked, the executions against an independent count
of the runs due (schedules tested minute by minute, times installations), duplicates and
missing slots, **dispatch lag** = ``started_at - scheduled_for`` of each execution, in
simulated seconds and in real seconds (simulated / speed: what a real day would see for
the same backlog), executions per real second, the credits the ledger charged (and that the
ledger and the balances agree), and how much Redis (memory, keys, AOF) and the database
(size on disk, rows) grew over the day.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import Engine, func, insert, select, text, update
from sqlalchemy.orm import Session

from billing import MICRO_PER_CREDIT
from billing.ledger import Posting, post
from billing.models import Balance, LedgerEntry
from tickwork import clock, migrate
from tickwork.app_versions import publish
from tickwork.bundles import load_bundle
from tickwork.db import make_engine
from tickwork.embedded_redis import EmbeddedRedis
from tickwork.models import Account, App, Execution, Installation, SpawnerTick
from tickwork.schedule import MinuteInfo, parse
from tickwork.schedule.eastern import EASTERN
from tickwork.settings import with_driver
from tickwork.spawner.tick import floor_minute

DAY = date(2026, 6, 2)  # a Tuesday, no DST change
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)
MINUTES_APPS = 60
WARM_UP_REAL_SECONDS = 15.0  # the clock starts this long (real) before the day: processes start
GRANT_CREDITS = 1_000_000
JOB_CREDITS = (1, 2)  # every8h, daily
STOP_TIMEOUT_SECONDS = 60
DRAIN_TIMEOUT_SECONDS = 1800

JOB_CODE = '''\
"""A light job: reads its state, writes it back, returns a line."""


def {name}(ctx, **params):
    runs = ctx.state.get("runs", 0) + 1
    ctx.state.set("runs", runs)
    return {{"runs": runs}}
'''


def _manifest(name: str, job: str, schedule: str, credits: int) -> str:
    return (
        f'name = "{name}"\ndescription = "Load run workload."\n\n[[jobs]]\nname = "{job}"\n'
        f'schedule = "{schedule}"\ncredits = {credits}\ntimeout = 300\ncatch_up = "all"\n'
    )


def workload() -> list[tuple[str, str, str, int]]:
    """(app slug, job, schedule, credits) of the load run's apps."""
    apps = [
        (f"bench-load-{minute:02d}", "every8h", f"{minute % 8}-23/8:{minute:02d}", JOB_CREDITS[0])
        for minute in range(MINUTES_APPS)
    ]
    apps.append(("bench-load-morning", "daily", "9:00", JOB_CREDITS[1]))
    return apps


# --- setup ------------------------------------------------------------------------------------


def _publish_apps(session: Session, root: Path) -> dict[str, int]:
    ids: dict[str, int] = {}
    for slug, job, schedule, credits in workload():
        folder = root / "apps" / slug
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "app.toml").write_text(_manifest(slug, job, schedule, credits))
        (folder / "jobs.py").write_text(JOB_CODE.format(name=job))
        bundle = load_bundle(folder)
        app = App(slug=slug, kind="catalog", name=slug, description=bundle.description)
        session.add(app)
        session.flush()
        publish(session, app, bundle, created_by="tickwork bench load")
        ids[slug] = app.id
    # On since long ago: a tick's catch-up never replays a slot from before an app was switched
    # on, and the real clock's "now" is after the simulated day.
    session.execute(update(App).where(App.id.in_(ids.values())).values(enabled_changed_at=LONG_AGO))
    session.commit()
    return ids


def _accounts(engine: Engine, session: Session, apps: dict[str, int], count: int) -> dict[str, int]:
    """``count`` funded accounts, each with its minute app and the morning app installed."""
    long_ago = LONG_AGO
    with engine.begin() as connection:
        connection.execute(
            insert(Account),
            [
                {"slug": f"load-{n}", "name": f"Load account {n}", "created_at": long_ago}
                for n in range(count)
            ],
        )
    ids = dict(session.execute(select(Account.slug, Account.id).where(Account.slug.like("load-%"))).all())
    rows = []
    for n in range(count):
        account_id = ids[f"load-{n}"]
        for slug in (f"bench-load-{n % MINUTES_APPS:02d}", "bench-load-morning"):
            rows.append(
                {"account_id": account_id, "app_id": apps[slug], "schedule_status": "on",
                 "status_changed_at": long_ago, "created_at": long_ago}
            )  # fmt: skip
    with engine.begin() as connection:
        connection.execute(insert(Installation), rows)
    for n in range(count):
        post(
            session,
            Posting(
                key=f"load-grant:{n}", account_id=ids[f"load-{n}"], kind="grant",
                amount=GRANT_CREDITS * MICRO_PER_CREDIT, at=long_ago,
            ),
        )  # fmt: skip
        if n % 1000 == 999:
            session.commit()
    session.commit()
    return ids


def _record_tick(engine: Engine, slot: datetime) -> None:
    with Session(engine) as session:
        session.add(SpawnerTick(slot=slot, owner="tickwork bench load", started_at=slot, finished_at=slot))
        session.commit()


def expected_runs(accounts: int, start: datetime, end: datetime) -> Counter[str]:
    """Runs due per app in [start, end): each schedule tested minute by minute (not the
    spawner's fire-time code), times the app's installations."""
    installs = Counter(f"bench-load-{n % MINUTES_APPS:02d}" for n in range(accounts))
    installs["bench-load-morning"] = accounts
    due: Counter[str] = Counter()
    schedules = [(slug, parse(schedule)) for slug, _job, schedule, _credits in workload()]
    minute = start
    while minute < end:
        info = MinuteInfo.at(minute)
        for slug, schedule in schedules:
            if schedule.is_due(info):
                due[slug] += installs[slug]
        minute += timedelta(minutes=1)
    return due


# --- measuring --------------------------------------------------------------------------------


def _redis_state(client: redis.Redis) -> dict[str, int]:
    memory = client.info("memory")
    persistence = client.info("persistence")
    return {
        "used_memory": int(memory["used_memory"]),
        "peak_memory": int(memory["used_memory_peak"]),
        "keys": int(client.dbsize()),
        "aof_bytes": int(persistence.get("aof_current_size", 0) or 0),
    }


def _database_bytes(engine: Engine, url: str) -> int:
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    path = Path(url.split("///", 1)[1])
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def _rows(session: Session) -> dict[str, int]:
    return {
        "executions": int(session.scalar(select(func.count()).select_from(Execution)) or 0),
        "ledger_entries": int(session.scalar(select(func.count()).select_from(LedgerEntry)) or 0),
        "spawner_ticks": int(session.scalar(select(func.count()).select_from(SpawnerTick)) or 0),
    }


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# --- processes --------------------------------------------------------------------------------


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "tickwork", *command], env=env, stdout=handle, stderr=subprocess.STDOUT
        )


def _stop(processes: list[subprocess.Popen[bytes]]) -> list[int | None]:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    codes: list[int | None] = []
    for process in processes:
        try:
            codes.append(process.wait(timeout=STOP_TIMEOUT_SECONDS))
        except subprocess.TimeoutExpired:
            process.kill()
            codes.append(process.wait())
    return codes


def _pending(session: Session, client: redis.Redis) -> int:
    queued = int(client.llen("rq:queue:tickwork"))
    unfinished = session.scalar(
        select(func.count()).select_from(Execution).where(Execution.status.in_(("queued", "running")))
    )
    return queued + int(unfinished or 0)


# --- the run ----------------------------------------------------------------------------------


def run(
    accounts: int = 10_000,
    workers: int = 4,
    spawners: int = 2,
    speed: float = 60.0,
    hours: float = 24.0,
    database_url: str | None = None,
    redis_url: str | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """The load run; an embedded Redis (append-only on) and a temporary SQLite file unless given.

    A given database is migrated and must hold no accounts yet (the run counts its rows); a
    given Redis database is FLUSHed.
    """
    with tempfile.TemporaryDirectory(prefix="tickwork-bench-load-") as directory:
        root = Path(directory)
        url = with_driver(database_url) if database_url else f"sqlite:///{root / 'load.db'}"
        if redis_url is not None:
            return _measure(root, url, redis_url, accounts, workers, spawners, speed, hours, progress)
        with EmbeddedRedis(root / "redis", appendonly=True) as server:
            return _measure(root, url, server.url, accounts, workers, spawners, speed, hours, progress)


def _measure(
    root: Path,
    url: str,
    redis_url: str,
    accounts: int,
    workers: int,
    spawners: int,
    speed: float,
    hours: float,
    progress: Any,
) -> dict[str, Any]:
    say = progress or (lambda _text: None)
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    engine = make_engine(url)
    migrate.upgrade(engine)
    with Session(engine) as session:
        if session.scalar(select(func.count()).select_from(Account)):
            raise RuntimeError("the load run needs a database without accounts")
        redis_before = _redis_state(client)
        db_before = _database_bytes(engine, url)
        rows_before = _rows(session)
        setup_started = time.monotonic()
        apps = _publish_apps(session, root)
        _accounts(engine, session, apps, accounts)
        balance_before = int(session.scalar(select(func.sum(Balance.balance))) or 0)
        setup_seconds = time.monotonic() - setup_started
    say(f"setup: {accounts:,} accounts and {len(apps)} apps in {setup_seconds:.0f} s")

    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=EASTERN).astimezone(UTC)
    end = start + timedelta(hours=hours)
    clock_file = root / "clock"
    # The clock reads start - warm_up now and runs `speed` times as fast from here on.
    warm_up = timedelta(seconds=max(300.0, WARM_UP_REAL_SECONDS * speed))
    # As if a spawner had run until the warm-up: a first tick with no tick before it has
    # nothing to catch up from, so minutes lost to a slow start would be lost for good.
    _record_tick(engine, floor_minute(start - warm_up) - timedelta(minutes=1))
    clock.set_offset_file(clock_file, start - warm_up, speed)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "TWILIO_", "OPENAI_"))},
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "TICKWORK_HOME": str(root / "home"),
        "APPS_DIR": str(root / "apps"),
        "TICKWORK_CLOCK_OFFSET_FILE": str(clock_file),
    }
    env.setdefault("SECRET_KEY", "tickwork-bench-load-not-a-secret")
    logs = root / "logs"
    logs.mkdir()
    began = time.monotonic()
    worker_processes = [_start(["worker"], env, logs / f"worker-{n}.log") for n in range(workers)]
    spawner_processes = [
        _start(["spawner", "--quiet"], env, logs / f"spawner-{n}.log") for n in range(spawners)
    ]
    peak_memory = 0
    last_slot = end - timedelta(minutes=1)
    said = began
    try:
        with Session(engine) as session:
            while True:
                done = session.scalar(select(func.max(SpawnerTick.slot)))
                session.rollback()
                peak_memory = max(peak_memory, int(client.info("memory")["used_memory"]))
                for process in worker_processes + spawner_processes:
                    if process.poll() is not None:
                        raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
                if done is not None and done >= last_slot:
                    break
                time.sleep(0.5)
                if time.monotonic() - said >= 60:
                    said = time.monotonic()
                    say(f"  ticked up to {done}, {client.llen('rq:queue:tickwork'):,} jobs queued")
        day_seconds = time.monotonic() - began
        _stop(spawner_processes)
        say(f"the day ticked in {day_seconds:.0f} s; draining the queue")
        with Session(engine) as session:
            deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
            while _pending(session, client) and time.monotonic() < deadline:
                session.rollback()
                peak_memory = max(peak_memory, int(client.info("memory")["used_memory"]))
                time.sleep(0.5)
        total_seconds = time.monotonic() - began
    finally:
        worker_codes = _stop(worker_processes)
        _stop(spawner_processes)
    redis_after = _redis_state(client)
    db_after = _database_bytes(engine, url)
    with Session(engine) as session:
        report = _report(session, accounts, start, end, speed)
        rows_after = _rows(session)
        balance_after = int(session.scalar(select(func.sum(Balance.balance))) or 0)
        ledger_charged = int(
            session.scalar(select(func.sum(LedgerEntry.amount)).where(LedgerEntry.kind != "grant")) or 0
        )
    engine.dispose()
    executed = report["executions"]["in_day"]
    report.update(
        {
            "accounts": accounts,
            "workers": workers,
            "spawners": spawners,
            "speed": speed,
            "simulated_hours": hours,
            "database": url.split(":", 1)[0].split("+")[0],
            "setup_seconds": round(setup_seconds, 1),
            "real_seconds": {"day": round(day_seconds, 1), "with_drain": round(total_seconds, 1)},
            "executions_per_s": round(executed / total_seconds, 1) if total_seconds else 0.0,
            "credits": {
                "charged": -ledger_charged / MICRO_PER_CREDIT,
                "balance_change": (balance_after - balance_before) / MICRO_PER_CREDIT,
                "reconciles": balance_after - balance_before == ledger_charged,
            },
            "redis": {
                "used_memory_before": redis_before["used_memory"],
                "used_memory_after": redis_after["used_memory"],
                "used_memory_peak_during": peak_memory,
                "keys_after": redis_after["keys"],
                "aof_bytes_after": redis_after["aof_bytes"],
            },
            "db": {
                "bytes_before": db_before,
                "bytes_after": db_after,
                "growth_bytes": db_after - db_before,
                "rows_added": {name: rows_after[name] - rows_before[name] for name in rows_after},
                "bytes_per_execution": round((db_after - db_before) / executed) if executed else 0,
            },
            "worker_exit_codes": worker_codes,
        }
    )
    return report


def _report(session: Session, accounts: int, start: datetime, end: datetime, speed: float) -> dict[str, Any]:
    ticks = session.execute(
        select(SpawnerTick.duration_ms, SpawnerTick.catch_up_slots, SpawnerTick.enqueued).where(
            SpawnerTick.slot >= start, SpawnerTick.slot < end
        )
    ).all()
    rows = session.execute(
        select(
            Execution.app_id, Execution.slot_key, Execution.status, Execution.source, Execution.skip_reason,
            Execution.scheduled_for, Execution.started_at, Execution.credits_charged,
        ).where(Execution.scheduled_for >= start, Execution.scheduled_for < end)
    ).all()  # fmt: skip
    slugs = dict(session.execute(select(App.id, App.slug)).all())
    expected = expected_runs(accounts, start, end)
    ran = [row for row in rows if row.skip_reason != "duplicate"]
    per_slot = Counter(row.slot_key for row in ran)
    by_app = Counter(slugs[row.app_id] for row in ran)
    lags = [(row.started_at - row.scheduled_for).total_seconds() for row in ran if row.started_at is not None]
    durations = [tick.duration_ms / speed for tick in ticks]  # recorded in clock time
    return {
        "window": {"from": start.isoformat(), "to": end.isoformat()},
        "slots": {
            "ticked": len(ticks),
            "minutes": int((end - start).total_seconds() // 60),
            "jobs_enqueued": sum(tick.enqueued for tick in ticks),
            "catch_up_slots": sum(tick.catch_up_slots for tick in ticks),
            "tick_real_ms_p50": round(_percentile(durations, 0.5), 1),
            "tick_real_ms_p99": round(_percentile(durations, 0.99), 1),
            "tick_real_ms_max": round(max(durations, default=0.0), 1),
        },
        "executions": {
            "expected": sum(expected.values()),
            "in_day": len(ran),
            "missing": sum(max(0, expected[slug] - by_app[slug]) for slug in expected),
            "duplicates": sum(count - 1 for count in per_slot.values() if count > 1),
            "duplicate_deliveries_skipped": len(rows) - len(ran),
            "by_status": dict(Counter(row.status for row in ran)),
            "by_source": dict(Counter(row.source for row in ran)),
        },
        "dispatch_lag": {
            "definition": "started_at - scheduled_for per execution; real = simulated / speed",
            "simulated_s_p50": round(_percentile(lags, 0.5), 1),
            "simulated_s_p99": round(_percentile(lags, 0.99), 1),
            "simulated_s_max": round(max(lags, default=0.0), 1),
            "real_s_p50": round(_percentile(lags, 0.5) / speed, 3),
            "real_s_p99": round(_percentile(lags, 0.99) / speed, 3),
            "real_s_max": round(max(lags, default=0.0) / speed, 3),
        },
    }


def describe(result: dict[str, Any]) -> str:
    """The report as a few lines of text."""
    slots, runs, lag = result["slots"], result["executions"], result["dispatch_lag"]
    credits, redis_, db = result["credits"], result["redis"], result["db"]
    mib = 1024 * 1024
    real = result["real_seconds"]
    return "\n".join(
        [
            f"load ({result['accounts']:,} accounts, {result['spawners']} spawners, "
            f"{result['workers']} workers, {result['simulated_hours']:g} simulated hours at "
            f"{result['speed']:g}x, {result['database']}): {real['day']:.0f} s for the day, "
            f"{real['with_drain']:.0f} s with the queue drained (setup {result['setup_seconds']:.0f} s)",
            f"  slots: {slots['ticked']:,} of {slots['minutes']:,} minutes ticked, "
            f"{slots['jobs_enqueued']:,} jobs enqueued, {slots['catch_up_slots']:,} catch-up slots; "
            f"tick p50 {slots['tick_real_ms_p50']:.0f} ms, p99 {slots['tick_real_ms_p99']:.0f} ms, "
            f"max {slots['tick_real_ms_max']:.0f} ms (real)",
            f"  executions: {runs['in_day']:,} of {runs['expected']:,} due, {runs['missing']} missing, "
            f"{runs['duplicates']} duplicates ({runs['duplicate_deliveries_skipped']} duplicate deliveries "
            f"skipped); {runs['by_status']}; {runs['by_source']}; "
            f"{result['executions_per_s']:,.1f} per second",
            f"  dispatch lag (started_at - scheduled_for): p50 {lag['real_s_p50']:.2f} s, "
            f"p99 {lag['real_s_p99']:.2f} s, max {lag['real_s_max']:.2f} s real "
            f"(simulated p50 {lag['simulated_s_p50']:.0f} s, p99 {lag['simulated_s_p99']:.0f} s)",
            f"  credits: {credits['charged']:,.0f} charged; ledger and balances "
            f"{'agree' if credits['reconciles'] else 'DISAGREE'}",
            f"  Redis: {redis_['used_memory_before'] / mib:.1f} MiB before, peak "
            f"{redis_['used_memory_peak_during'] / mib:.1f} MiB, {redis_['used_memory_after'] / mib:.1f} MiB "
            f"after ({redis_['keys_after']:,} keys), AOF {redis_['aof_bytes_after'] / mib:.1f} MiB",
            f"  database: {db['bytes_before'] / mib:.1f} MiB -> {db['bytes_after'] / mib:.1f} MiB "
            f"(+{db['growth_bytes'] / mib:.1f} MiB, {db['bytes_per_execution']:,} bytes per execution); "
            f"rows added {db['rows_added']}",
        ]
    )
