"""Accounts and installations: creating tenants and joining them to apps."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tickwork import clock
from tickwork.errors import BadInput, Conflict
from tickwork.models import Account, App, Installation

MAX_ID = 2**31 - 1  # ids are 32-bit integers; a larger number cannot name a row


class NotFound(BadInput):
    pass


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:63] or "account"


def create_account(session: Session, name: str) -> Account:
    """A new active account; its slug comes from the name, made unique with a suffix."""
    name = name.strip()
    if not name:
        raise BadInput("an account needs a name")
    if len(name) > 200:
        raise BadInput("account names are at most 200 characters")
    base = slugify(name)
    stem = base[:58]  # room for a "-NNNN" suffix within the 63 characters
    taken = set(session.scalars(select(Account.slug).where(Account.slug.like(f"{stem}%"))))
    slug, suffix = base, 2
    while slug in taken:
        slug, suffix = f"{stem}-{suffix}", suffix + 1
    account = Account(name=name, slug=slug)
    session.add(account)
    session.flush()
    return account


def find_account(session: Session, ref: str | int) -> Account:
    """An account by id or slug."""
    text = str(ref).strip()
    account = session.get(Account, int(text)) if text.isdigit() and int(text) <= MAX_ID else None
    if account is None:
        account = session.scalar(select(Account).where(Account.slug == text))
    if account is None:
        raise NotFound(f"no account {text!r} (give its id or slug; `tickwork accounts list` shows them)")
    return account


def find_app(session: Session, slug: str, account: Account | None = None) -> App:
    """A catalog app, or a custom app visible to ``account``, by slug."""
    app = session.scalar(select(App).where(App.slug == slug.strip()))
    if app is None or (app.kind == "custom" and (account is None or app.account_id != account.id)):
        raise NotFound(f"no app {slug!r} (`tickwork apps list` shows the catalog)")
    return app


def install(session: Session, account: Account, app: App, schedule_status: str = "on") -> Installation:
    """Join ``account`` to ``app``; installing twice is an error, not a second installation."""
    if app.kind == "custom" and app.account_id != account.id:
        raise NotFound(f"no app {app.slug!r}")
    installation = Installation(
        account_id=account.id, app_id=app.id, schedule_status=schedule_status, status_changed_at=clock.now()
    )
    session.add(installation)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"{account.slug} has {app.slug} installed already") from None
    return installation


def installation_of(session: Session, account: Account, app: App) -> Installation:
    installation = session.scalar(
        select(Installation).where(Installation.account_id == account.id, Installation.app_id == app.id)
    )
    if installation is None:
        raise NotFound(f"{account.slug} does not have {app.slug} installed")
    return installation
