"""``tickwork bench``: benchmarks that report ratios against a baseline run side by side."""

from __future__ import annotations

import json

import click

from tickwork.bench.timing import Comparison


def _schedule_line() -> str:
    from tickwork.bench.schedules import compare

    result: Comparison = compare()
    return result.line()


@click.group(invoke_without_command=True)
@click.pass_context
def bench(ctx: click.Context) -> None:
    """Benchmarks; without a subcommand, all of them in their short form."""
    if ctx.invoked_subcommand is None:
        click.echo(_schedule_line())
        ctx.invoke(spawn, accounts=20_000, as_json=False)


@bench.command("schedule")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def schedule(as_json: bool) -> None:
    """Due checks for 100,000 compiled schedules against per-schedule next-run lookups."""
    from tickwork.bench.schedules import compare

    result = compare()
    click.echo(json.dumps({"bench": "schedule", **result.as_dict()}) if as_json else result.line())


@bench.command("spawn")
@click.option("--accounts", type=click.IntRange(1, 10_000_000), default=100_000, show_default=True)
@click.option("--redis-url", help="A Redis database to FLUSH and use (default: an embedded redis-server).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def spawn(accounts: int, redis_url: str | None = None, as_json: bool = False) -> None:
    """One job due for N accounts: enqueue time against RQ's enqueue_many and enqueue loop."""
    from tickwork.bench.spawn import run

    result = run(accounts=accounts, redis_url=redis_url)
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
