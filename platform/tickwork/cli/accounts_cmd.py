"""``tickwork accounts``: create tenants and install apps for them."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.ledger import set_overdraft
from billing.rates import RatesError, micro
from tickwork import clock, grants
from tickwork.accounts import create_account, find_account, find_app, install
from tickwork.cli.tables import echo_table
from tickwork.db import session_scope
from tickwork.errors import BadInput
from tickwork.models import Account
from tickwork.reads import account_rows
from tickwork.schedule import EASTERN


@click.group()
def accounts() -> None:
    """Create accounts and install apps for them."""


@accounts.command("create")
@click.argument("name")
def create(name: str) -> None:
    """Create an account; prints its id as the last line."""
    with session_scope() as session:
        account = create_account(session, name)
        click.echo(f"created account {account.name!r} (slug {account.slug})")
        account_id = account.id
    click.echo(str(account_id))


@accounts.command("install")
@click.argument("account")
@click.argument("app")
@click.option("--off", is_flag=True, help="Install with its schedule status off.")
def install_app(account: str, app: str, off: bool) -> None:
    """Install APP (a slug) for ACCOUNT (an id or slug)."""
    with session_scope() as session:
        found = find_account(session, account)
        installation = install(session, found, find_app(session, app, found), "off" if off else "on")
        click.echo(f"installed {app} for {found.slug}; schedule status {installation.schedule_status}")


def _micro(text: str, what: str) -> int:
    try:
        return micro(text, what)
    except RatesError as error:
        raise BadInput(str(error)) from None


def parse_expiry(text: str) -> datetime:
    """``--expires``: a date (usable through that Eastern day) or an ISO time (Eastern without an offset)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1), time(0), tzinfo=EASTERN)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(
            f"--expires takes a date like 2026-12-31 or a time like 2026-12-31T18:00-05:00; got {text!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=EASTERN)


@accounts.command("grant")
@click.argument("account")
@click.argument("credits")
@click.option("--key", help="An idempotency key: granting twice with the same key grants once.")
@click.option("--note", default="", help="Why (kept on the ledger entry).")
@click.option(
    "--expires",
    "expires",
    help="When what is left of the grant expires: a date (usable through that Eastern day) or an ISO "
    "time. Expiring credits are spent first, the soonest expiry first.",
)
def grant(account: str, credits: str, key: str | None, note: str, expires: str | None) -> None:
    """Add CREDITS (a decimal like 100 or 2.5) to ACCOUNT's balance."""
    expires_at = parse_expiry(expires) if expires else None
    with session_scope() as session:
        found = find_account(session, account)
        granted = grants.grant(session, found, credits, note or None, key, expires_at=expires_at)
    word = "granted" if granted["granted"] else "already granted (same key)"
    until = f", expiring {expires_at.astimezone(EASTERN).isoformat()}" if expires_at else ""
    click.echo(f"{word} {granted['credits']} credits to {found.slug}{until}; balance {granted['balance']}")


@accounts.command("overdraft")
@click.argument("account")
@click.argument("credits")
def overdraft(account: str, credits: str) -> None:
    """Let ACCOUNT's balance go down to minus CREDITS (0 turns the overdraft off)."""
    with session_scope() as session:
        found = find_account(session, account)
        set_overdraft(session, found.id, _micro(credits, "CREDITS"), clock.now())
    click.echo(f"{found.slug} may now go {credits} credits below zero")


def _listing(session: Session) -> list[dict[str, Any]]:
    return account_rows(session, list(session.scalars(select(Account).order_by(Account.id))))


@accounts.command("list")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table")
def list_accounts(output_format: str) -> None:
    """Accounts with their balance, projected spend per day and days of credit left."""
    with session_scope() as session:
        rows = _listing(session)
    if output_format == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    headers = ("ID", "SLUG", "NAME", "BALANCE", "OVERDRAFT", "PER DAY", "DAYS LEFT")
    echo_table(
        headers,
        [
            (
                str(r["id"]),
                r["slug"],
                r["name"],
                r["balance"],
                r["overdraft"],
                r["projected_credits_per_day"],
                "never" if r["days_left"] is None else f"{r['days_left']:,.2f}",
            )
            for r in rows
        ],
    )
