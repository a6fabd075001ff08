"""What every admin page shares: the blueprint, who is signed in, the account in view, filters.

Owners and members always look at their own account. Staff look at one account at a time:
they pick it with ``?account=SLUG`` (or the picker in the header), the choice is remembered in
the session, and every form they send names it again in a hidden ``account`` field so a second
tab on another account cannot act on the wrong one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, flash, g, redirect, request, session, url_for
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from tickwork.models import Account
from tickwork.schedule import EASTERN
from tickwork.web import charts
from tickwork.web.errors import ApiError
from tickwork.web.principal import Principal

bp = Blueprint("pages", __name__)

STAFF_ACCOUNT = "staff_account"  # the session key remembering the account staff look at
ALL_ACCOUNTS = "all"  # staff's executions filter: every account
# Pages staff can open without having picked an account.
ACCOUNT_FREE = {
    "pages.dashboard",
    "pages.accounts",
    "pages.grant_credits",
    "pages.platform",
    "pages.platform_switch",
}


@bp.before_request
def _signed_in() -> Any:
    if g.principal is None:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    me = me_()
    if not me.is_staff:
        return None
    requested = request.values.get("account", "")
    if requested and requested != ALL_ACCOUNTS:
        chosen = me.account_in_scope(g.db, requested)  # 404 for an unknown account
        session[STAFF_ACCOUNT] = chosen.slug
        return None
    if request.endpoint in ACCOUNT_FREE or requested == ALL_ACCOUNTS or session.get(STAFF_ACCOUNT):
        return None
    flash("Pick the account you want to look at first.", "info")
    return redirect(url_for("pages.accounts"))


@bp.app_context_processor
def _scope_context() -> dict[str, Any]:
    """The account in view and, for staff, the accounts to pick from (every template)."""
    me: Principal | None = g.get("principal")
    if me is None or not me.is_staff or "db" not in g:
        return {"staff_accounts": [], "scope_slug": None}
    try:
        accounts = [
            (slug, name)
            for slug, name in g.db.execute(select(Account.slug, Account.name).order_by(Account.name))
        ]
    except SQLAlchemyError:  # an error page after a failed query: render it without the picker
        accounts = []
    return {"staff_accounts": accounts, "scope_slug": session.get(STAFF_ACCOUNT)}


def me_() -> Principal:
    principal: Principal = g.principal
    return principal


def scoped_account() -> Account:
    """The account this page shows: the caller's own, or the one staff picked."""
    me = me_()
    requested = request.values.get("account") or None
    if me.is_staff and (requested is None or requested == ALL_ACCOUNTS):
        requested = session.get(STAFF_ACCOUNT)
        if not requested:
            raise ApiError(400, "account_required", "pick an account first (Accounts page)")
        try:
            return me.account_in_scope(g.db, requested)
        except ApiError:
            session.pop(STAFF_ACCOUNT, None)  # the remembered account is gone
            raise
    return me.account_in_scope(g.db, requested)


def back(default: str) -> Response:
    """Redirect to the form's ``next`` (a path on this site) or to ``default``."""
    target = request.form.get("next", "")
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return redirect(target)
    return redirect(default)


def with_account(endpoint: str, **values: Any) -> str:
    """A URL for ``endpoint`` that keeps staff on the account they are looking at."""
    me = me_()
    if me.is_staff and "account" not in values and session.get(STAFF_ACCOUNT):
        values["account"] = session[STAFF_ACCOUNT]
    return url_for(endpoint, **values)


# --- template filters -------------------------------------------------------------------------


def _instant(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return value
    return None


@bp.app_template_filter("eastern")
def eastern(value: Any, with_zone: bool = True) -> str:
    """A time as people here read it: "Mon Nov 23, 8:00 AM EST" (Eastern)."""
    instant = _instant(value)
    if instant is None:
        return "—"
    local = instant.astimezone(EASTERN)
    text = f"{local:%a %b} {local.day}, {local:%Y} {local.hour % 12 or 12}:{local:%M %p}"
    return f"{text} {local.tzname()}" if with_zone else text


@bp.app_template_filter("credits")
def credits(value: Any, places: int | None = None) -> str:
    """ "12.500000" -> "12.5"; "100.000000" -> "100"; micro-credit integers too.

    With ``places``, rounded to that many decimals first (projections: "2.142857" -> "2.14").
    """
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(value) / 1_000_000 if isinstance(value, int) else Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if places is not None:
        amount = amount.quantize(Decimal(1).scaleb(-places))
    text = format(amount.normalize(), "f") if amount else "0"
    whole, _, fraction = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    whole = f"{int(whole.lstrip('-') or 0):,}"
    return f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"


@bp.app_template_filter("duration")
def duration(milliseconds: int | None) -> str:
    if milliseconds is None:
        return "—"
    if milliseconds < 1000:
        return f"{milliseconds} ms"
    seconds = milliseconds / 1000
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


@bp.app_template_global("account_url")
def account_url(endpoint: str, **values: Any) -> str:
    return with_account(endpoint, **values)


def parse_local(text: str | None, what: str) -> datetime | None:
    """A ``datetime-local`` form value read as Eastern time; None (and a message) when unreadable."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        flash(f"{what} should be a date and time like 2026-11-22T08:00; it was left out.", "error")
        return None
    return value.replace(tzinfo=EASTERN) if value.tzinfo is None else value


@bp.app_template_global("one_time_key")
def one_time_key() -> str:
    """A fresh idempotency key for a form (a grant sent twice is made once)."""
    return uuid.uuid4().hex


@bp.app_template_filter("sentence")
def sentence(value: str | None) -> str:
    """ "every day at 8:00 AM" -> "Every day at 8:00 AM" (only the first letter changes)."""
    return f"{value[:1].upper()}{value[1:]}" if value else ""


@bp.app_template_filter("amount")
def amount(value: float) -> str:
    """A chart's float of credits for people: 9.0 -> "9", 2.345 -> "2.35", 1234 -> "1,234"."""
    return charts.number(value)
