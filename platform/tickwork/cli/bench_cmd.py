"""``tickwork bench``: benchmarks that report ratios against a baseline run side by side."""

from __future__ import annotations

import json
from typing import Any

import click

from tickwork.bench.timing import Comparison


def _schedule_line() -> str:
    from tickwork.bench.schedules import compare

    result: Comparison = compare()
    return result.line()


# The load run's short form in `tickwork bench all`: a tenth of the accounts, two hours.
SHORT_LOAD: dict[str, Any] = {"accounts": 1000, "hours": 2.0, "speed": 120.0}


def _run_all() -> None:
    click.echo(_schedule_line())
    _echo_tick(_tick(schedules=100_000, minutes=10, short=True), as_json=False)
    _echo_spawn(_spawn(accounts=20_000), as_json=False)
    _echo_worker(_worker(jobs=300), as_json=False)
    _echo_load(_load(**SHORT_LOAD), as_json=False)


@click.group(invoke_without_command=True)
@click.pass_context
def bench(ctx: click.Context) -> None:
    """Benchmarks; without a subcommand, all of them in their short form."""
    if ctx.invoked_subcommand is None:
        _run_all()


@bench.command("all")
def all_benchmarks() -> None:
    """Every benchmark in its short form (what ``tickwork bench`` alone runs)."""
    _run_all()


@bench.command("schedule")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def schedule(as_json: bool) -> None:
    """Due checks for 100,000 compiled schedules against per-schedule next-run lookups."""
    from tickwork.bench.schedules import compare

    result = compare()
    click.echo(json.dumps({"bench": "schedule", **result.as_dict()}) if as_json else result.line())


def _spawn(accounts: int, redis_url: str | None = None) -> dict[str, Any]:
    from tickwork.bench.spawn import run

    return run(accounts=accounts, redis_url=redis_url)


def _echo_spawn(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result))
        return
    baseline = result["baseline"]
    click.echo(
        f"spawn ({result['jobs']:,} jobs): {result['jobs_per_s']:,.0f} jobs/s, "
        f"{result['ratio_vs_enqueue_many']:.1f}x RQ enqueue_many "
        f"({baseline['enqueue_many_jobs_per_s']:,.0f}/s), "
        f"RQ enqueue loop {baseline['enqueue_jobs_per_s']:,.0f}/s; "
        f"{result['redis_bytes_per_queued_job']:.0f} bytes of Redis per queued job"
    )


@bench.command("spawn")
@click.option("--accounts", type=click.IntRange(1, 10_000_000), default=100_000, show_default=True)
@click.option("--redis-url", help="A Redis database to FLUSH and use (default: an embedded redis-server).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def spawn(accounts: int, redis_url: str | None = None, as_json: bool = False) -> None:
    """One job due for N accounts: enqueue time against RQ's enqueue_many and enqueue loop."""
    _echo_spawn(_spawn(accounts, redis_url), as_json)


def _tick(schedules: int, minutes: int, short: bool = False) -> dict[str, Any]:
    from datetime import timedelta

    from tickwork.bench.tick import DST_START, run

    # The short form's minutes still hold the spring-forward gap's minute (7:00 UTC).
    start = DST_START + timedelta(minutes=25) if short else DST_START
    return run(schedules=schedules, minutes=minutes, start=start)


def _echo_tick(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result))
        return
    baseline = result["baseline"]
    click.echo(
        f"tick ({result['schedules']:,} schedules, {result['distinct_schedules']:,} distinct, "
        f"{result['minutes']} minutes from {result['start']}): {result['ms_per_tick']:.1f} ms a tick "
        f"(worst {result['ms_worst_tick']:.1f} ms, goal {result['goal_ms']:.0f} ms), "
        f"{result['ratio_vs_baseline']:.1f}x the per-job check "
        f"({baseline['per_job_is_due_ms_per_tick']:.1f} ms), "
        f"{result['ratio_vs_next_run']:,.0f}x per-job next-run lookups "
        f"({baseline['per_job_next_run_ms_per_tick']:,.0f} ms, scaled from a sample)"
    )


@bench.command("tick")
@click.option("--schedules", type=click.IntRange(1, 10_000_000), default=100_000, show_default=True)
@click.option("--minutes", type=click.IntRange(1, 1440), default=60, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def tick(schedules: int, minutes: int, as_json: bool) -> None:
    """The spawner's due set for N schedules, minute by minute across a DST change."""
    _echo_tick(_tick(schedules, minutes), as_json)


def _worker(jobs: int, redis_url: str | None = None, database_url: str | None = None) -> dict[str, Any]:
    from tickwork.bench.worker import run

    return run(jobs=jobs, redis_url=redis_url, database_url=database_url)


def _echo_worker(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result))
        return
    baseline = result["baseline"]
    click.echo(
        f"worker ({result['jobs']:,} jobs, one process): {result['executions_per_s']:,.0f} executions/s, "
        f"{result['ratio_vs_rq_worker']:.1f}x RQ Worker ({baseline['rq_worker_jobs_per_s']:,.0f}/s), "
        f"{result['ratio_vs_rq_simpleworker']:.2f}x RQ SimpleWorker "
        f"({baseline['rq_simpleworker_jobs_per_s']:,.0f}/s) running a bare function"
    )


@bench.command("worker")
@click.option("--jobs", type=click.IntRange(1, 1_000_000), default=2000, show_default=True)
@click.option("--redis-url", help="A Redis database to FLUSH and use (default: an embedded redis-server).")
@click.option(
    "--database-url",
    help="A database to migrate and add the benchmark's rows to (default: SQLite in a temporary directory).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def worker(jobs: int, redis_url: str | None, database_url: str | None, as_json: bool) -> None:
    """Executions a second of one worker process, against RQ's Worker and SimpleWorker."""
    _echo_worker(_worker(jobs, redis_url, database_url), as_json)


def _echo_report(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result))
        return
    for name, label in (("account_month", "account-month"), ("platform_month", "platform month")):
        part = result[name]
        click.echo(
            f"report, {label} ({part['entries']:,} of {result['ledger_rows']:,} ledger rows, "
            f"{result['rollup_rows']:,} rollup rows): {part['report_ms']:,.1f} ms "
            f"(goal {part['goal_ms']:,.0f} ms{'' if part['met_goal'] else ', MISSED'}), "
            f"{part['ratio_vs_group_by']:,.1f}x a GROUP BY over the ledger ({part['group_by_ms']:,.1f} ms)"
        )


@bench.command("report")
@click.option(
    "--rows", type=click.IntRange(1, 100_000_000), default=10_000_000, show_default=True,
    help="Ledger rows in the month, platform-wide.",
)  # fmt: skip
@click.option(
    "--account-rows", type=click.IntRange(1, 100_000_000), default=None,
    help="Executions of the one busy account (default: 1,000,000, at most --rows).",
)  # fmt: skip
@click.option("--accounts", type=click.IntRange(1, 1_000_000), default=2_000, show_default=True,
              help="Other accounts sharing the rest of the rows.")  # fmt: skip
@click.option("--database-url", help="A PostgreSQL database (default: DATABASE_URL); a schema of its own is "
              "created in it and dropped afterwards.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def report(
    rows: int, account_rows: int | None, accounts: int, database_url: str | None, as_json: bool
) -> None:
    """Billing reports from rollups against a GROUP BY over the ledger, on PostgreSQL."""
    from tickwork.bench.report import run

    _echo_report(
        run(rows=rows, account_rows=account_rows, accounts=accounts, database_url=database_url), as_json
    )


def _load(**options: Any) -> dict[str, Any]:
    import sys

    from tickwork.bench.load import run

    return run(**options, progress=lambda line: click.echo(line, file=sys.stderr))


def _echo_load(result: dict[str, Any], as_json: bool) -> None:
    from tickwork.bench.load import describe

    click.echo(json.dumps(result) if as_json else describe(result))


@bench.command("load")
@click.option("--accounts", type=click.IntRange(1, 1_000_000), default=10_000, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=4, show_default=True, help="Worker processes.")
@click.option("--spawners", type=click.IntRange(1, 8), default=2, show_default=True, help="Spawner replicas.")
@click.option(
    "--speed", type=click.FloatRange(1, 10_000), default=60.0, show_default=True,
    help="Simulated seconds per real second.",
)  # fmt: skip
@click.option(
    "--hours", type=click.FloatRange(0.1, 24), default=24.0, show_default=True,
    help="Simulated hours, from midnight Eastern.",
)  # fmt: skip
@click.option("--database-url", help="A database without accounts to migrate and use (default: SQLite).")
@click.option("--redis-url", help="A Redis database to FLUSH and use (default: embedded, AOF on).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def load(
    accounts: int, workers: int, spawners: int, speed: float, hours: float,
    database_url: str | None, redis_url: str | None, as_json: bool,
) -> None:  # fmt: skip
    """A simulated day: spawner replicas and worker processes on a sped-up clock, measured."""
    result = _load(
        accounts=accounts, workers=workers, spawners=spawners, speed=speed, hours=hours,
        database_url=database_url, redis_url=redis_url,
    )  # fmt: skip
    _echo_load(result, as_json)
