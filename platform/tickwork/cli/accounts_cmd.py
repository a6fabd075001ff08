"""``tickwork accounts``: create tenants and install apps for them."""

from __future__ import annotations

import click

from tickwork.accounts import create_account, find_account, find_app, install
from tickwork.db import session_scope


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
