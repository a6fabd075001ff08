"""Finding things in the caller's account, the same way for the API and the pages.

Each lookup answers 404 for what the account cannot see, so an id or slug of another
account's thing is indistinguishable from one that does not exist.
"""

from __future__ import annotations

from flask import g
from sqlalchemy import select

from tickwork.accounts import NotFound, find_app
from tickwork.models import Account, ApiKey, App, Installation
from tickwork.web.errors import ApiError
from tickwork.web.principal import Principal


def visible_app(slug: str, account: Account) -> tuple[App, Installation | None]:
    """A catalog app or one of ``account``'s custom apps, with its installation if any."""
    app = find_app(g.db, slug, account)
    if app.active_version_id is None:
        raise NotFound(f"no app {slug!r}")
    installation = g.db.scalar(
        select(Installation).where(Installation.account_id == account.id, Installation.app_id == app.id)
    )
    return app, installation


def installed_app(slug: str, account: Account) -> tuple[App, Installation]:
    app, installation = visible_app(slug, account)
    if installation is None:
        message = f"{account.slug} does not have {slug} installed; install it first"
        raise ApiError(409, "not_installed", message)
    return app, installation


def revocable_key(me: Principal, key_id: int) -> ApiKey:
    """A key ``me`` may revoke: their own, any of their account's for an owner, any for staff."""
    key = g.db.get(ApiKey, key_id) if 0 < key_id < 2**31 else None
    allowed = key is not None and (
        key.user_id == me.user_id or me.is_staff or (me.is_owner and key.user.account_id == me.account_id)
    )
    if key is None or not allowed:
        raise NotFound(f"no API key {key_id}")
    return key
