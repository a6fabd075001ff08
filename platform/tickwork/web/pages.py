"""The admin panel's pages (server-rendered): one blueprint, ``pages``, split by area.

- ``pages`` (here): the dashboard, the spawner's and the queue's health;
- ``pages_apps``: apps, their schedule status switch, install, variables and secrets, run now;
- ``pages_runs``: executions, filtered, and one execution's detail;
- ``pages_account``: balance, ledger, users and API keys; staff's accounts, grants and
  platform-wide switches;
- ``pages_billing``: spending charts (inline SVG), top jobs, CSV; the outbox;
- ``pages_builder``: describe a job, review the builder's proposal, apply it.

Views parse the form, check the role through the principal, call the same service functions
the API calls (so the page's switch is the API's switch is the spawner's switch) and render.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import g, render_template, session
from redis.exceptions import RedisError
from sqlalchemy import func, select

from tickwork import clock, reads
from tickwork.models import Account, App, Execution, SpawnerTick
from tickwork.queues import connection
from tickwork.schedule import EASTERN
from tickwork.web import pages_account, pages_apps, pages_billing, pages_builder, pages_runs
from tickwork.web.pages_common import STAFF_ACCOUNT, bp, me_, scoped_account

FAILED = ("failed", "timed_out")
TICK_IS_LATE_SECONDS = 120  # the spawner ticks every minute: two minutes without one is trouble

__all__ = ["bp", "pages_account", "pages_apps", "pages_billing", "pages_builder", "pages_runs"]


def start_of_today() -> datetime:
    """Midnight Eastern today, the start of "today" on every page."""
    local = clock.now().astimezone(EASTERN)
    return datetime(local.year, local.month, local.day, tzinfo=EASTERN)


@bp.get("/")
def dashboard() -> Any:
    me = me_()
    account: Account | None = None
    if not me.is_staff or session.get(STAFF_ACCOUNT):
        account = scoped_account()
    account_id = account.id if account is not None and not me.is_staff else None
    try:
        health: reads.PlatformHealth | None = reads.platform_health(g.db, connection(), account_id)
    except RedisError:
        health = None
    ticks = list(g.db.scalars(select(SpawnerTick).order_by(SpawnerTick.slot.desc()).limit(10)))
    today = start_of_today()
    failures = select(Execution, App.slug).join(App, App.id == Execution.app_id)
    failures = failures.where(Execution.status.in_(FAILED), Execution.scheduled_for >= today)
    counted = select(func.count()).select_from(Execution)
    counted = counted.where(Execution.status.in_(FAILED), Execution.scheduled_for >= today)
    if account_id is not None:
        failures = failures.where(Execution.account_id == account_id)
        counted = counted.where(Execution.account_id == account_id)
    recent_failures = list(g.db.execute(failures.order_by(Execution.scheduled_for.desc()).limit(5)))
    summary = reads.account_rows(g.db, [account])[0] if account is not None else None
    late = health is not None and (
        health.seconds_since_tick is None or health.seconds_since_tick > TICK_IS_LATE_SECONDS
    )
    return render_template(
        "dashboard.html",
        health=health,
        late=late,
        ticks=ticks,
        failures_today=g.db.scalar(counted) or 0,
        recent_failures=recent_failures,
        account=account,
        summary=summary,
        platform_wide=account_id is None,
    )
