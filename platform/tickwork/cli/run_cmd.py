"""``tickwork run``: the whole platform on one machine, on embedded defaults.

It prepares what the parts share (the SQLite file, an embedded redis-server when REDIS_URL
is not set, the schema, the app catalog), says what it started, then keeps running until
Ctrl-C or SIGTERM, when it stops everything it started.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

import click

from tickwork import migrate
from tickwork.catalog import sync_catalog
from tickwork.db import session_scope
from tickwork.embedded_redis import EmbeddedRedis
from tickwork.settings import get_settings, reset_settings


@click.command()
def run() -> None:
    """Run the platform on embedded defaults (Ctrl-C stops it)."""
    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    click.echo(f"Tickwork home: {settings.home}")

    embedded: EmbeddedRedis | None = None
    if settings.redis_url is None:
        embedded = EmbeddedRedis(settings.home / "redis")
        os.environ["REDIS_URL"] = embedded.start()
        reset_settings()
        click.echo(f"started   embedded redis-server at {embedded.url} (files in {embedded.directory})")
    else:
        click.echo(f"using     Redis at {settings.redis_url}")

    try:
        migrate.upgrade()
        click.echo(f"database  {settings.database_url} at revision {migrate.current_revision()}")
        with session_scope() as session:
            report = sync_catalog(session, settings.apps_dir)
        click.echo(f"catalog   {settings.apps_dir}")
        for line in report.lines():
            click.echo(f"  {line}")
        click.echo("Tickwork is running. Press Ctrl-C to stop.")
        _wait_for_stop()
    finally:
        if embedded is not None:
            embedded.stop()
            click.echo("stopped   embedded redis-server")


def _wait_for_stop() -> None:
    stop = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    stop.wait()
