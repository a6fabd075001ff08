""" "Run now": a job run outside its schedule, recorded, queued and billed like any other."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tickwork.accounts import NotFound
from tickwork.db import session_factory
from tickwork.models import Account, App, JobSchedule
from tickwork.queues import connection


def queue(
    session: Session,
    app: App,
    job: str,
    account: Account,
    *,
    source: str,
    params: dict[str, Any] | None = None,
) -> int:
    """Record and queue one run of ``app``'s ``job`` for ``account``; returns the execution id."""
    from tickwork.runner import enqueue_run  # the runner's stack loads only when something runs

    exists = session.scalar(
        select(JobSchedule.id).where(JobSchedule.app_id == app.id, JobSchedule.job == job)
    )
    if exists is None:
        raise NotFound(f"{app.slug} has no job named {job!r}")
    session.commit()  # the run is recorded in its own transaction
    return enqueue_run(
        session_factory(),
        connection(),
        app_id=app.id,
        job=job,
        account_id=account.id,
        source=source,
        params=params,
    )
