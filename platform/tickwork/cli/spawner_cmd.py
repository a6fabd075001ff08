"""``tickwork spawner``: enqueue due jobs every minute, once, or over a simulated span."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import click

from tickwork import clock
from tickwork.db import session_factory
from tickwork.errors import BadInput
from tickwork.queues import connection
from tickwork.schedule.eastern import EASTERN
from tickwork.spawner.lock import SpawnerLock
from tickwork.spawner.loop import StopFlag, run_forever, simulate, tick_and_recover
from tickwork.spawner.tick import Spawner, TickReport, floor_minute


def parse_instant(text: str, option: str) -> datetime:
    """An ISO 8601 instant; without an offset it is Eastern wall time."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f'{option} "{text}" is not an ISO 8601 time like 2026-11-01T00:00-04:00') from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=EASTERN)
    return parsed.astimezone(UTC)


def describe(report: TickReport) -> str:
    local = report.slot.astimezone(EASTERN).strftime("%Y-%m-%d %H:%M %Z")
    if report.done_already:
        return f"{local}: already done"
    extra = f", {report.catch_up_slots} catch-up slots" if report.catch_up_slots else ""
    return (
        f"{local}: {report.due} jobs due, {report.enqueued} enqueued{extra} "
        f"in {report.duration_ms} ms (lag {report.lag_ms} ms)"
    )


@click.command()
@click.option("--once", is_flag=True, help="Run the single tick for this minute (or --at) and exit.")
@click.option("--at", "at", metavar="ISO", help="With --once: the minute to tick.")
@click.option("--simulate", "simulate_span", is_flag=True, help="Tick every minute from --from to --to.")
@click.option("--from", "start", metavar="ISO", help="With --simulate: the first minute (inclusive).")
@click.option("--to", "end", metavar="ISO", help="With --simulate: the end (exclusive).")
@click.option("--quiet", is_flag=True, help="Print only a summary.")
def spawner(
    once: bool, at: str | None, simulate_span: bool, start: str | None, end: str | None, quiet: bool
) -> None:
    """Enqueue due jobs: every minute (default), once, or over a simulated span."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sessions = session_factory()
    redis = connection()
    if simulate_span:
        if not start or not end:
            raise BadInput("--simulate needs --from and --to")
        first, last = parse_instant(start, "--from"), parse_instant(end, "--to")
        if last <= first:
            raise BadInput("--to must be after --from")
        minutes = int((floor_minute(last) - floor_minute(first)).total_seconds() // 60)
        enqueued = 0
        ticks = simulate(sessions, redis, first, last)
        with click.progressbar(length=minutes, label="simulating", file=sys.stderr) as progress:
            for report in ticks:
                enqueued += report.enqueued
                progress.update(1)
        click.echo(f"simulated {minutes} minutes: {enqueued} jobs enqueued")
        return
    if at and not once:
        raise BadInput("--at goes with --once")
    if once:
        slot = parse_instant(at, "--at") if at else clock.now()
        lock = SpawnerLock(redis)
        if not lock.acquire():
            raise BadInput("another spawner holds the lock; it will tick this minute")
        try:
            with clock.frozen_at(floor_minute(slot)):
                report = tick_and_recover(Spawner(sessions, redis, owner=lock.owner), slot)
        finally:
            lock.release()
        click.echo(describe(report))
        return
    stop = StopFlag()
    stop.install()
    click.echo("spawner started; ticks at each minute boundary (Ctrl-C stops)")

    def on_tick(report: TickReport) -> None:
        if not quiet:
            click.echo(describe(report))

    run_forever(sessions, redis, stop, on_tick=on_tick)
    click.echo("spawner stopped; lock released")
