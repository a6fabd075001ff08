"""``tickwork executions``: what ran, when, and how it went; pruning old history."""

from __future__ import annotations

import json

import click
from sqlalchemy import select

from tickwork import retention
from tickwork.accounts import NotFound, find_account, find_app
from tickwork.cli.tables import echo_table
from tickwork.db import session_scope
from tickwork.models import EXECUTION_STATUSES, App, Execution
from tickwork.reads import execution_row
from tickwork.settings import get_settings


@click.group()
def executions() -> None:
    """List executions, or prune old ones."""


@executions.command("list")
@click.option("--app", "app_slug", help="Only this app (slug).")
@click.option("--account", help="Only this account (id or slug).")
@click.option("--status", type=click.Choice(EXECUTION_STATUSES), help="Only this status.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table")
def list_executions(
    app_slug: str | None, account: str | None, status: str | None, limit: int, output_format: str
) -> None:
    """Executions, newest slot first."""
    with session_scope() as session:
        query = select(Execution, App.slug).join(App, App.id == Execution.app_id)
        if account:
            found = find_account(session, account)
            query = query.where(Execution.account_id == found.id)
            if app_slug:
                query = query.where(Execution.app_id == find_app(session, app_slug, found).id)
        elif app_slug:
            # Any app by slug (staff see custom apps too), but an unknown slug is an error,
            # not an empty listing that reads as "it never ran".
            if session.scalar(select(App.id).where(App.slug == app_slug.strip())) is None:
                raise NotFound(f"no app {app_slug!r} (`tickwork apps list` shows the catalog)")
            query = query.where(App.slug == app_slug.strip())
        if status:
            query = query.where(Execution.status == status)
        query = query.order_by(Execution.scheduled_for.desc(), Execution.id.desc()).limit(limit)
        rows = [execution_row(execution, slug) for execution, slug in session.execute(query)]
    if output_format == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    headers = ("ID", "APP", "JOB", "ACCOUNT", "SOURCE", "STATUS", "SCHEDULED FOR (UTC)", "TRIES", "MS")
    echo_table(
        headers,
        [
            (
                str(r["id"]),
                r["app"],
                r["job"],
                str(r["account"]),
                r["source"],
                r["status"] + (f" ({r['skip_reason']})" if r["skip_reason"] else ""),
                r["scheduled_for"],
                str(r["attempts"]),
                "" if r["duration_ms"] is None else str(r["duration_ms"]),
            )
            for r in rows
        ],
    )
    if not rows:
        click.echo("(no executions)")


@executions.command("prune")
@click.option(
    "--older-than",
    "days",
    type=click.IntRange(1, 36_500),
    help="Days of history to keep (default: TICKWORK_KEEP_EXECUTIONS_DAYS, 90).",
)
@click.option("--batch", type=click.IntRange(1, 100_000), default=retention.BATCH, show_default=True)
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
def prune_executions(days: int | None, batch: int, dry_run: bool) -> None:
    """Delete finished executions older than the retention period, in batches.

    The spawner does this a batch a minute on its own; this command catches up at once (after
    lowering the retention, say). The ledger, billing reports and sent messages are kept.
    """
    keep_days = days if days is not None else get_settings().keep_executions_days
    if keep_days == 0:
        raise click.UsageError("TICKWORK_KEEP_EXECUTIONS_DAYS is 0 (keep everything); name --older-than DAYS")
    before = retention.cutoff(keep_days)
    stamp = before.isoformat(timespec="seconds")
    with session_scope() as session:
        if dry_run:
            count = retention.count_prunable(session, before)
            click.echo(f"{count:,} finished executions created before {stamp} would be deleted")
            return
        total = sum(retention.prune(session, before, batch))
        click.echo(f"deleted {total:,} finished executions created before {stamp}")
