"""Read models shared by the CLI and the web: the JSON shapes scripts and pages rely on.

Keeping them in one place keeps ``tickwork executions list --format json``, the API's
``GET /executions`` and the admin pages in agreement about what a field means.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from redis import Redis
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from billing.ledger import balance_of
from billing.models import LedgerEntry
from billing.projection import days_left
from billing.reports import ReportRow, credits_text, spending
from tickwork import clock
from tickwork.models import Account, App, Execution, Installation, JobSchedule, Message, SpawnerTick
from tickwork.projections import account_daily_micro, job_daily_micro
from tickwork.schedule import EASTERN, parse_many


def iso_utc(instant: datetime | None) -> str | None:
    return None if instant is None else instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def execution_row(execution: Execution, slug: str) -> dict[str, Any]:
    """One execution as listings show it (the CLI's and the API's list shape)."""
    return {
        "id": execution.id,
        "app": slug,
        "job": execution.job,
        "account": execution.account_id,
        "source": execution.source,
        "status": execution.status,
        "skip_reason": execution.skip_reason,
        "scheduled_for": iso_utc(execution.scheduled_for),
        "attempts": execution.attempts,
        "duration_ms": execution.duration_ms,
    }


def execution_detail(execution: Execution, slug: str) -> dict[str, Any]:
    """Everything recorded about one execution: the list fields plus logs, result and cost."""
    return {
        **execution_row(execution, slug),
        "params": execution.params,
        "skipped_slots": execution.skipped_slots,
        "parent_id": execution.parent_id,
        "enqueued_at": iso_utc(execution.enqueued_at),
        "started_at": iso_utc(execution.started_at),
        "finished_at": iso_utc(execution.finished_at),
        "logs": execution.logs or "",
        "result": execution.result,
        "error": execution.error,
        "credits_charged": credits_text(execution.credits_charged),
        "usage": execution.usage,
        "worker": execution.worker,
    }


@dataclass(frozen=True)
class ExecutionFilter:
    account_id: int | None = None
    app_id: int | None = None
    job: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, query: Select[Execution, str]) -> Select[Execution, str]:
        conditions = {
            Execution.account_id: self.account_id,
            Execution.app_id: self.app_id,
            Execution.job: self.job,
            Execution.status: self.status,
        }
        for column, value in conditions.items():
            if value is not None:
                query = query.where(column == value)
        if self.since is not None:
            query = query.where(Execution.scheduled_for >= self.since)
        if self.until is not None:
            query = query.where(Execution.scheduled_for < self.until)
        return query


def executions(
    session: Session, where: ExecutionFilter, limit: int = 100, offset: int = 0
) -> list[tuple[Execution, str]]:
    """Executions matching ``where``, newest slot first, with their app's slug."""
    query = where.apply(select(Execution, App.slug).join(App, App.id == Execution.app_id))
    query = query.order_by(Execution.scheduled_for.desc(), Execution.id.desc()).limit(limit).offset(offset)
    return [(execution, slug) for execution, slug in session.execute(query)]


def account_rows(session: Session, accounts: list[Account]) -> list[dict[str, Any]]:
    """Accounts with balance, overdraft, projected spend per day and days of credit left."""
    projected = account_daily_micro(session, [account.id for account in accounts])
    rows = []
    for account in accounts:
        balance, limit = balance_of(session, account.id)
        daily = projected.get(account.id, 0)
        left = days_left(balance, limit, daily)
        rows.append(
            {
                "id": account.id,
                "name": account.name,
                "slug": account.slug,
                "status": account.status,
                "balance": credits_text(balance),
                "overdraft": credits_text(limit),
                "projected_credits_per_day": credits_text(daily),
                "days_left": None
                if left is None
                else float(round(Decimal(left.numerator) / left.denominator, 2)),
            }
        )
    return rows


def _two_places(value: Fraction) -> float:
    return float(round(Decimal(value.numerator) / value.denominator, 2))


def billing_report(
    session: Session, *, first: date, last: date, by: str, account_id: int | None
) -> dict[str, Any]:
    """The billing report document (the CLI's ``--format json`` and ``GET /billing/report``)."""
    rows = spending(session, start=first, end=last, by=by, account_id=account_id)
    return report_document(rows, first, last)


def report_document(rows: list[ReportRow], first: date, last: date) -> dict[str, Any]:
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "rows": [row.as_json() for row in rows],
        "total_credits": credits_text(sum(row.spent for row in rows)),
    }


REPORT_CSV_COLUMNS = ("account", "app", "job", "day", "kind", "count", "credits")


def report_csv(rows: list[ReportRow], account_names: Mapping[int, str]) -> str:
    """The report as CSV, one row per report row, accounts by slug (by id when unknown)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(REPORT_CSV_COLUMNS)
    for row in rows:
        record = row.as_json()
        record["account"] = account_names.get(row.account, row.account)
        writer.writerow(["" if record[column] is None else record[column] for column in REPORT_CSV_COLUMNS])
    return buffer.getvalue()


def apps_visible_to(session: Session, account: Account) -> list[tuple[App, Installation | None]]:
    """The catalog (every account may install it) and the account's own custom apps."""
    installed = {
        row.app_id: row
        for row in session.scalars(select(Installation).where(Installation.account_id == account.id))
    }
    query = (
        select(App)
        .where(or_(App.kind == "catalog", App.account_id == account.id))
        .where(App.active_version_id.is_not(None))
        .order_by(App.slug)
    )
    return [(app, installed.get(app.id)) for app in session.scalars(query)]


def app_document(
    app: App, installation: Installation | None, now: datetime, next_count: int = 5
) -> dict[str, Any]:
    """An app as the API and the pages show it: switches, schedules in words, next runs, cost."""
    jobs = [
        _job_document(schedule, now, next_count) for schedule in sorted(app.schedules, key=lambda s: s.job)
    ]
    daily = sum(job_daily_micro(schedule) for schedule in app.schedules)
    return {
        "slug": app.slug,
        "name": app.name,
        "description": app.description,
        "kind": app.kind,
        "version": app.active_version.number if app.active_version else None,
        "installed": installation is not None,
        "schedule_status": installation.schedule_status if installation else None,
        "platform_enabled": app.enabled,
        "runs": (installation is not None and installation.schedule_status == "on" and app.enabled),
        "jobs": jobs,
        "credits_per_day": credits_text(daily),
    }


def _job_document(schedule: JobSchedule, now: datetime, next_count: int) -> dict[str, Any]:
    parsed = parse_many(list(schedule.expressions))
    per_day = parsed.runs_per_day
    return {
        "name": schedule.job,
        "schedules": list(schedule.expressions),
        "description": parsed.describe(),
        "next_runs": [
            t.astimezone(EASTERN).isoformat(timespec="minutes") for t in parsed.next_runs(now, next_count)
        ],
        "runs_per_day": _two_places(per_day) if per_day.denominator != 1 else int(per_day),
        "credits_per_run": schedule.credits,
        "credits_per_day": credits_text(job_daily_micro(schedule)),
        "timeout": schedule.timeout,
        "retries": schedule.retries,
        "overlap": schedule.overlap,
        "catch_up": schedule.catch_up,
    }


def ledger_entries(
    session: Session, account_id: int, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    """The account's ledger, newest first: every grant, charge and adjustment."""
    query = (
        select(LedgerEntry)
        .where(LedgerEntry.account_id == account_id)
        .order_by(LedgerEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [
        {
            "id": entry.id,
            "kind": entry.kind,
            "credits": credits_text(entry.amount),
            "quantity": entry.quantity,
            "app": entry.app or None,
            "job": entry.job or None,
            "execution": entry.execution_id,
            "detail": entry.detail,
            "created_at": iso_utc(entry.created_at),
        }
        for entry in session.scalars(query)
    ]


def message_row(message: Message) -> dict[str, Any]:
    """An email or SMS the platform sent (or kept in the outbox)."""
    return {
        "id": message.id,
        "channel": message.channel,
        "transport": message.transport,
        "to": message.recipient,
        "subject": message.subject,
        "body": message.body,
        "status": message.status,
        "segments": message.segments,
        "execution": message.execution_id,
        "created_at": iso_utc(message.created_at),
    }


@dataclass(frozen=True)
class PlatformHealth:
    """What the dashboard and /metrics show about the machinery itself."""

    last_tick: SpawnerTick | None
    seconds_since_tick: float | None
    queue_depth: int
    workers: int
    executions_last_hour: dict[str, int]


def platform_health(session: Session, redis_conn: Redis, account_id: int | None = None) -> PlatformHealth:
    """Spawner, queue and workers, plus the last hour's executions (one account's, or all)."""
    from rq import Worker

    from tickwork.queues import job_queue

    now = clock.now()
    last_tick = session.scalar(select(SpawnerTick).order_by(SpawnerTick.slot.desc()).limit(1))
    hour_ago = now - timedelta(hours=1)
    counts = select(Execution.status, func.count()).where(Execution.scheduled_for >= hour_ago)
    if account_id is not None:
        counts = counts.where(Execution.account_id == account_id)
    by_status = {status: int(n) for status, n in session.execute(counts.group_by(Execution.status))}
    return PlatformHealth(
        last_tick=last_tick,
        seconds_since_tick=None if last_tick is None else (now - last_tick.finished_at).total_seconds(),
        queue_depth=job_queue(redis_conn).count,
        workers=len(Worker.all(connection=redis_conn)),
        executions_last_hour=by_status,
    )
