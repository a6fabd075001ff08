"""Helpers for the tests that start, kill and watch real Tickwork processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.factories import fund
from tickwork.accounts import create_account, find_app, install
from tickwork.catalog import sync_catalog
from tickwork.models import App, Installation

from .conftest import Database

FAULT_APPS = Path(__file__).parent / "fixtures" / "fault_apps"
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)
PROCESS_TIMEOUT = 90  # seconds: no test waits longer than this for a process it started

T = TypeVar("T")


def tickwork_env(db: Database, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a Tickwork subprocess: this test's database and Redis, no real providers."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SMTP_", "TWILIO_", "OPENAI_"))
    }
    env.update(DATABASE_URL=db.url, REDIS_URL=redis_url, TICKWORK_RETRY_BACKOFF="0", **extra)
    return env


def tickwork_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tickwork", *args]


def start(db: Database, redis_url: str, *args: str, **extra_env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        tickwork_command(*args),
        env=tickwork_env(db, redis_url, **extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(db: Database, redis_url: str, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        tickwork_command(*args),
        env=tickwork_env(db, redis_url, **extra_env),
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT,
        check=False,
    )


def finish(process: subprocess.Popen[str], timeout: float = PROCESS_TIMEOUT) -> tuple[int, str, str]:
    """Wait for a process (killing it if it overstays); its exit code, stdout and stderr."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate(timeout=10)
        raise AssertionError(f"{process.args!r} did not finish in {timeout} s:\n{err[-3000:]}") from None
    return process.returncode, out, err


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 30.0, every: float = 0.05) -> T:
    """Poll ``probe`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    ends = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > ends:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def is_gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie nobody has reaped yet counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def pid_of_worker(worker: str | None) -> int:
    """The process id in an execution's ``worker`` column (``tickwork.<host>.<pid>``)."""
    assert worker and worker.startswith("tickwork."), worker
    return int(worker.rsplit(".", 1)[1])


def install_fault_app(session: Session, slug: str, *names: str) -> tuple[App, dict[str, int]]:
    """Sync the fault apps, create accounts ``names`` with ``slug`` installed; their ids by name.

    The installations and the app are dated long ago, so catch-up never leaves a slot out
    for having been switched on after it.
    """
    report = sync_catalog(session, FAULT_APPS)
    assert not report.broken, report.broken
    app = find_app(session, slug)
    ids: dict[str, int] = {}
    for name in names:
        account = create_account(session, name)
        install(session, account, app)
        fund(session, account.id)
        ids[name] = account.id
    session.execute(update(Installation).values(status_changed_at=LONG_AGO))
    session.execute(update(App).values(enabled_changed_at=LONG_AGO))
    session.commit()
    return app, ids


def installation_id(session: Session, app_id: int, account_id: int) -> int:
    found = session.scalar(
        select(Installation.id).where(Installation.app_id == app_id, Installation.account_id == account_id)
    )
    assert found is not None
    return found
