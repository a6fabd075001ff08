"""``tickwork run``: the whole platform on one machine, on embedded defaults.

It prepares what the parts share (the SQLite file, an embedded redis-server when REDIS_URL
is not set, the schema, the app catalog, demo accounts on first start), starts the web
server, the spawner and a worker as child processes, says what it started, then keeps running
until Ctrl-C or SIGTERM, when it stops everything it started, the embedded Redis last (every
child runs in a session of its own, so a terminal's Ctrl-C reaches this process alone and the
order holds; each gets SIGTERM if this process dies). A child that dies is reported and
restarted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from types import FrameType

import click

from tickwork import lifetime, migrate
from tickwork.catalog import sync_catalog
from tickwork.db import session_scope
from tickwork.demo import DEMO_PASSWORD, demo_logins, seed_demo
from tickwork.embedded_redis import EmbeddedRedis
from tickwork.settings import get_settings, reset_settings


@click.command()
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="The web port.")
def run(port: int) -> None:
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
        with session_scope() as session:
            demo = [account.name for account in seed_demo(session)]
            logins = demo_logins(session)
        if demo:
            click.echo(f"demo      accounts {', '.join(demo)} with every catalog app installed")
        roles = _roles(port)
        children = {name: _start(command) for name, command in roles.items()}
        for name, process in children.items():
            click.echo(f"started   {name} (pid {process.pid}): tickwork {' '.join(roles[name])}")
        click.echo("Tickwork is running. Emails and SMS land in the outbox. Press Ctrl-C to stop.")
        click.echo(f"Open http://{WEB_HOST}:{port} and sign in with password {DEMO_PASSWORD!r} as:")
        for login in logins:
            click.echo(f"  {login}")
        _supervise(children, roles)
    finally:
        if embedded is not None:
            embedded.stop()
            click.echo("stopped   embedded redis-server")


WEB_HOST = "127.0.0.1"


def _roles(port: int) -> dict[str, list[str]]:
    """Each child's ``tickwork`` arguments, in the order they are started and stopped."""
    return {
        "spawner": ["spawner", "--quiet"],
        "worker": ["worker"],
        "web": ["web", "--host", WEB_HOST, "--port", str(port)],
    }


def _start(command: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tickwork", *command],
        env=dict(os.environ),
        start_new_session=True,
        preexec_fn=lifetime.ends_with_this_process(),  # noqa: PLW1509 - started from the main thread only
    )


def _supervise(children: dict[str, subprocess.Popen[bytes]], roles: dict[str, list[str]]) -> None:
    """Wait for Ctrl-C or SIGTERM, restarting a child that dies; then stop them all."""
    stop = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    while not stop.wait(1.0):
        for name, process in list(children.items()):
            if process.poll() is not None:
                click.echo(f"{name} exited with {process.returncode}; restarting it", err=True)
                time.sleep(1.0)
                children[name] = _start(roles[name])
    for process in children.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for name, process in children.items():
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        click.echo(f"stopped   {name}")
