"""``tickwork apikeys``: keys for the JSON API, shown once."""

from __future__ import annotations

import json

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from tickwork.cli.tables import echo_table
from tickwork.db import session_scope
from tickwork.errors import BadInput
from tickwork.models import ApiKey, User


@click.group()
def apikeys() -> None:
    """Create, list and revoke API keys."""


def _user(session: Session, email: str) -> User:
    from tickwork.users import find_user

    user = find_user(session, email)
    if user is None:
        raise BadInput(f"no user {email!r} (`tickwork users create` adds one)")
    return user


@apikeys.command("create")
@click.option("--user", "email", required=True, help="The key acts as this user, in this user's account.")
@click.option("--name", default="", help="What the key is for (shown in lists).")
def create(email: str, name: str) -> None:
    """Create a key; it is printed once, as the last line, and stored only as a digest."""
    from tickwork import apikeys as keys

    with session_scope() as session:
        key, plain = keys.create_key(session, _user(session, email), name)
        click.echo(f"created key {key.id} ({key.name}) for {email}; it will not be shown again:")
    click.echo(plain)


@apikeys.command("list")
@click.option("--user", "email", help="Only this user's keys.")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table")
def list_keys(email: str | None, output_format: str) -> None:
    """Keys with their prefix, owner and last use (never the key itself)."""
    from tickwork.reads import iso_utc

    with session_scope() as session:
        query = select(ApiKey, User.email).join(User, User.id == ApiKey.user_id).order_by(ApiKey.id)
        if email:
            query = query.where(User.id == _user(session, email).id)
        rows = [
            {
                "id": key.id,
                "name": key.name,
                "prefix": key.prefix,
                "user": owner,
                "created_at": iso_utc(key.created_at),
                "last_used_at": iso_utc(key.last_used_at),
                "revoked": key.revoked_at is not None,
            }
            for key, owner in session.execute(query)
        ]
    if output_format == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    echo_table(
        ("ID", "NAME", "PREFIX", "USER", "LAST USED", "STATE"),
        [
            (str(r["id"]), str(r["name"]), f"{r['prefix']}…", str(r["user"]),
             str(r["last_used_at"] or "never"), "revoked" if r["revoked"] else "active")
            for r in rows
        ],
    )  # fmt: skip


@apikeys.command("revoke")
@click.argument("key_id", type=int)
def revoke(key_id: int) -> None:
    """Revoke key KEY_ID (see `tickwork apikeys list`); requests with it get 401 at once."""
    from tickwork import apikeys as keys

    with session_scope() as session:
        key = session.get(ApiKey, key_id) if 0 < key_id < 2**31 else None
        if key is None:
            raise BadInput(f"no API key {key_id}")
        changed = keys.revoke(session, key)
    click.echo(f"revoked key {key_id}" if changed else f"key {key_id} was revoked already")
