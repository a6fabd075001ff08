"""``tickwork billing``: who spent what, from the daily rollups."""

from __future__ import annotations

import json
from datetime import date

import click
from sqlalchemy import select

from billing.ledger import reporting_day
from billing.reports import GROUPINGS, ReportRow, spending
from tickwork import clock
from tickwork.accounts import find_account
from tickwork.cli.tables import echo_table
from tickwork.db import session_scope
from tickwork.errors import BadInput
from tickwork.models import Account
from tickwork.reads import report_csv, report_document


@click.group()
def billing() -> None:
    """Billing reports."""


def _day(text: str | None, option: str, default: date) -> date:
    if text is None:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInput(f'{option} "{text}" is not a date like 2026-11-01') from None


@billing.command("report")
@click.option("--account", help="One account (id or slug); default every account.")
@click.option("--from", "start", metavar="DATE", help="First Eastern day (default: the 1st of this month).")
@click.option("--to", "end", metavar="DATE", help="Last Eastern day, included (default: today).")
@click.option("--by", type=click.Choice(list(GROUPINGS)), default="app", show_default=True)
@click.option("--format", "output_format", type=click.Choice(["table", "csv", "json"]), default="table")
def report(account: str | None, start: str | None, end: str | None, by: str, output_format: str) -> None:
    """Credits spent per account and app, job, day or kind."""
    today = reporting_day(clock.now())
    first, last = _day(start, "--from", today.replace(day=1)), _day(end, "--to", today)
    if last < first:
        raise BadInput("--to must not be before --from")
    with session_scope() as session:
        account_id = find_account(session, account).id if account else None
        rows = spending(session, start=first, end=last, by=by, account_id=account_id)
        slugs: dict[int, str] = {row[0]: row[1] for row in session.execute(select(Account.id, Account.slug))}
    document = report_document(rows, first, last)
    if output_format == "json":
        click.echo(json.dumps(document, indent=2))
    elif output_format == "csv":
        click.echo(report_csv(rows, {}), nl=False)
    else:
        shown = ("account", *GROUPINGS[by], "count", "credits")
        echo_table([name.upper() for name in shown], [_cells(row, shown, slugs) for row in rows])
        click.echo(f"total {document['total_credits']} credits, {first} to {last} (Eastern days)")


def _cells(row: ReportRow, shown: tuple[str, ...], slugs: dict[int, str]) -> list[str]:
    record = row.as_json()
    record["account"] = slugs.get(row.account, str(row.account))
    return ["" if record[name] is None else str(record[name]) for name in shown]
