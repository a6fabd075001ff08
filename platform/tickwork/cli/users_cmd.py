"""``tickwork users``: people who sign in to the admin panel."""

from __future__ import annotations

import click

from tickwork.accounts import find_account
from tickwork.db import session_scope
from tickwork.errors import BadInput
from tickwork.models import ROLES


@click.group()
def users() -> None:
    """Create users: account owners and members, and platform staff."""


@users.command("create")
@click.argument("email")
@click.option("--account", help="The account (id or slug) the user belongs to.")
@click.option("--role", type=click.Choice(ROLES), help="The user's role in the account.")
@click.option("--staff", is_flag=True, help="Platform staff: every account, grants, platform switches.")
@click.option("--password", help="The password (asked for when left out).")
def create(email: str, account: str | None, role: str | None, staff: bool, password: str | None) -> None:
    """Create a user: EMAIL with --account A --role owner|member, or EMAIL --staff."""
    from tickwork.users import create_user

    if staff and (account or role):
        raise BadInput("--staff users belong to no account; leave out --account and --role")
    if not staff and not (account and role):
        raise BadInput("give --account and --role (owner or member), or --staff")
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with session_scope() as session:
        found = find_account(session, account) if account else None
        user = create_user(session, email, password, account=found, role=role, staff=staff)
        where = "platform staff" if staff else f"{role} of {found.slug if found else ''}"
        click.echo(f"created {user.email} ({where})")
