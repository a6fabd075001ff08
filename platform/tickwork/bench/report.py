"""Billing reports at scale on PostgreSQL: rollups against a plain GROUP BY over the ledger.

The data: one busy account with ``account_rows`` executions in a month (October 2026,
Eastern), and ``rows - account_rows`` more ledger entries spread over ``accounts`` other
accounts (executions, plus the AI, email and SMS charges of the apps that use them). The
rows are generated server-side with ``generate_series`` straight into the ledger (indexes
built afterwards, as a bulk load would), and the daily rollups and balances are then
aggregated from those same rows, so they are exactly what ``ledger.post`` would have written.

Timed, best of several runs, in the same process against the same data:
- the account-month report (``billing.reports.spending`` for one account, by app) against
  ``SELECT app, count(*), sum(amount) FROM billing_ledger WHERE account ... GROUP BY app``;
- the platform month (every account, by app) against the same GROUP BY for all accounts.
Both answers are compared row by row, so a fast wrong report cannot pass.

Everything lives in a schema of its own (``bench_report_<pid>``), dropped at the end, so the
benchmark can share a database with anything else.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session

from billing.models import BillingBase, LedgerEntry
from billing.reports import SPENDING_KINDS, spending
from tickwork.bench.timing import best_of
from tickwork.db import make_engine
from tickwork.settings import get_settings, with_driver

EASTERN = ZoneInfo("America/New_York")
MONTH_START, MONTH_END = date(2026, 10, 1), date(2026, 10, 31)  # no DST change inside
ACCOUNT_GOAL_MS, PLATFORM_GOAL_MS = 200.0, 1000.0
BUSY_ACCOUNT = 1
CHUNK = 1_000_000
# (app, job, usage kind or None): every other entry of an app with usage is that usage.
APPS = (
    ("order-digest", "daily_summary", "email"),
    ("appointment-reminders", "send_reminders", "sms"),
    ("feedback-insights", "summarize_feedback", "ai"),
    ("import-processor", "process_batch", None),
    ("inventory-sync", "sync_stock", None),
    ("nightly-cleanup", "purge_old_records", None),
)


def _case(index: str, values: list[str]) -> str:
    whens = " ".join(f"WHEN {i} THEN '{value}'" for i, value in enumerate(values))
    return f"(CASE {index} {whens} END)"


def _generate_sql(first: int, last: int, rows: int, account_rows: int, accounts: int) -> str:
    """An INSERT of ledger rows ``first..last`` (1-based) of the ``rows`` the benchmark holds."""
    start = datetime(MONTH_START.year, MONTH_START.month, MONTH_START.day, tzinfo=EASTERN).astimezone(UTC)
    end = datetime(2026, 11, 1, tzinfo=EASTERN).astimezone(UTC)
    span = int((end - start).total_seconds())
    apps = [app for app, _, _ in APPS]
    jobs = [job for _, job, _ in APPS]
    usage = [kind or "execution" for _, _, kind in APPS]
    busy = account_rows
    others = rows - account_rows
    # Busy account: row g (1..busy) at an even spacing over the month, all executions.
    # Other rows: g' = g - busy, account 2 + g' % accounts, evenly spaced too.
    return f"""
    INSERT INTO billing_ledger
        (idempotency_key, account_id, kind, amount, quantity, app, job, execution_id, detail, created_at)
    SELECT 'b' || g,
           account_id,
           kind,
           CASE kind WHEN 'execution' THEN -1000000 * credits WHEN 'ai' THEN -240001
                     WHEN 'email' THEN -100000 ELSE -50000 END,
           1, {_case("a", apps)}, {_case("a", jobs)}, g, '{{}}'::jsonb,
           TIMESTAMP '{start:%Y-%m-%d %H:%M:%S}' + make_interval(secs => position)
    FROM (
        SELECT g, a, account_id, position, 1 + a % 3 AS credits,
               CASE WHEN g > {busy} AND g % 2 = 0 THEN {_case("a", usage)} ELSE 'execution' END AS kind
        FROM (
            SELECT g,
                   (g / 7) % {len(APPS)} AS a,
                   CASE WHEN g <= {busy} THEN {BUSY_ACCOUNT} ELSE 2 + (g - {busy}) % {accounts} END
                       AS account_id,
                   CASE WHEN g <= {busy} THEN (g - 1)::float8 * {span} / {max(busy, 1)}
                        ELSE (g - {busy} - 1)::float8 * {span} / {max(others, 1)} END AS position
            FROM generate_series({first}, {last}) AS g
        ) AS numbered
    ) AS shaped
    """


@contextmanager
def _schema(url: str, schema: str) -> Iterator[Connection]:
    engine = make_engine(url)
    if engine.dialect.name != "postgresql":
        engine.dispose()
        raise SystemExit("tickwork bench report runs on PostgreSQL: give --database-url postgresql://...")
    try:
        with engine.connect() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {schema}"))
            connection.commit()
            scoped = connection.execution_options(schema_translate_map={None: schema})
            try:
                yield scoped
            finally:
                connection.rollback()
                connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
                connection.commit()
    finally:
        engine.dispose()


def _load(connection: Connection, schema: str, rows: int, account_rows: int, accounts: int) -> float:
    """Create the billing tables, fill them; seconds taken."""
    started = time.perf_counter()
    BillingBase.metadata.create_all(connection)
    # The ledger's unique key and secondary indexes are built after the bulk insert, as a bulk
    # load would do; they end up exactly as the models (and migrations) declare them.
    table = f"{schema}.billing_ledger"
    constraints = connection.execute(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = CAST(:table AS regclass) AND contype = 'u'"
        ),
        {"table": table},
    ).all()
    for name, _ in constraints:
        connection.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {name}"))
    indexes = connection.execute(
        text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = :schema "
            "AND tablename = 'billing_ledger' AND indexname NOT LIKE 'pk_%'"
        ),
        {"schema": schema},
    ).all()
    for name, _ in indexes:
        connection.execute(text(f"DROP INDEX {schema}.{name}"))
    connection.execute(text("SET LOCAL synchronous_commit = off"))
    connection.execute(text(f"SET LOCAL search_path TO {schema}"))
    for first in range(1, rows + 1, CHUNK):
        last = min(rows, first + CHUNK - 1)
        connection.execute(text(_generate_sql(first, last, rows, account_rows, accounts)))
    for name, definition in constraints:
        connection.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"))
    for _, definition in indexes:
        connection.execute(text(definition))
    connection.execute(
        text("""
        INSERT INTO billing_daily (account_id, day, app, job, kind, count, amount)
        SELECT account_id, ((created_at AT TIME ZONE 'UTC') AT TIME ZONE 'America/New_York')::date,
               app, job, kind, count(*), sum(amount)
        FROM billing_ledger GROUP BY 1, 2, 3, 4, 5
        """)
    )
    connection.execute(
        text("""
        INSERT INTO billing_balances (account_id, balance, overdraft, updated_at)
        SELECT account_id, sum(amount), 0, now() AT TIME ZONE 'UTC' FROM billing_ledger GROUP BY account_id
        """)
    )
    connection.commit()
    connection.execute(text(f"ANALYZE {table}"))
    connection.execute(text(f"ANALYZE {schema}.billing_daily"))
    connection.commit()
    return time.perf_counter() - started


def _group_by(session: Session, account_id: int | None) -> dict[tuple[int, str], tuple[int, int]]:
    """The baseline: spending per (account, app) straight from the ledger."""
    start = datetime(MONTH_START.year, MONTH_START.month, MONTH_START.day, tzinfo=EASTERN)
    end = datetime(2026, 11, 1, tzinfo=EASTERN)
    query = (
        select(LedgerEntry.account_id, LedgerEntry.app, func.count(), func.sum(LedgerEntry.amount))
        .where(
            LedgerEntry.created_at >= start,
            LedgerEntry.created_at < end,
            LedgerEntry.kind.in_(SPENDING_KINDS),
        )
        .group_by(LedgerEntry.account_id, LedgerEntry.app)
    )
    if account_id is not None:
        query = query.where(LedgerEntry.account_id == account_id)
    return {(int(a), str(app)): (int(n), -int(s)) for a, app, n, s in session.execute(query)}


def _report(session: Session, account_id: int | None) -> dict[tuple[int, str], tuple[int, int]]:
    rows = spending(session, start=MONTH_START, end=MONTH_END, by="app", account_id=account_id)
    return {(row.account, row.app or ""): (row.count, row.spent) for row in rows}


def _compare(session: Session, account_id: int | None, repeats: int, goal_ms: float) -> dict[str, Any]:
    ours, baseline = _report(session, account_id), _group_by(session, account_id)
    if ours != baseline:
        raise AssertionError("the rollup report and the ledger GROUP BY disagree")
    report_s = best_of(repeats, lambda: _report(session, account_id))
    group_by_s = best_of(max(1, repeats // 2), lambda: _group_by(session, account_id))
    return {
        "report_ms": round(report_s * 1000, 2),
        "group_by_ms": round(group_by_s * 1000, 2),
        "ratio_vs_group_by": round(group_by_s / report_s, 1) if report_s else None,
        "goal_ms": goal_ms,
        "met_goal": report_s * 1000 <= goal_ms,
        "groups": len(ours),
        "entries": sum(count for count, _ in ours.values()),
        "credits_micro": sum(spent for _, spent in ours.values()),
    }


def run(
    rows: int = 10_000_000,
    account_rows: int | None = None,
    accounts: int = 2_000,
    database_url: str | None = None,
    repeats: int = 5,
) -> dict[str, Any]:
    """Load the data, time both reports against their GROUP BY; the figures as a dict."""
    account_rows = min(rows, 1_000_000) if account_rows is None else account_rows
    if not 0 < account_rows <= rows:
        raise SystemExit("--account-rows must be between 1 and --rows")
    url = with_driver(database_url or get_settings().database_url)
    schema = f"bench_report_{os.getpid()}"
    with _schema(url, schema) as connection:
        load_s = _load(connection, schema, rows, account_rows, accounts)
        with Session(bind=connection) as session:
            rollups = session.scalar(
                select(func.count()).select_from(BillingBase.metadata.tables["billing_daily"])
            )
            account = _compare(session, BUSY_ACCOUNT, repeats, ACCOUNT_GOAL_MS)
            platform = _compare(session, None, repeats, PLATFORM_GOAL_MS)
    if account["entries"] != account_rows or platform["entries"] != rows:
        raise AssertionError("the reports do not hold every generated entry")
    return {
        "bench": "report",
        "database": "postgresql",
        "month": f"{MONTH_START:%Y-%m}",
        "ledger_rows": rows,
        "account_rows": account_rows,
        "accounts": accounts + 1,
        "rollup_rows": rollups,
        "load_seconds": round(load_s, 1),
        "account_month": account,
        "platform_month": platform,
    }
