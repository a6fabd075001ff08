"""The account: balance, days of credit left, ledger, users and API keys; staff's accounts and grants."""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from tickwork import apikeys, grants, reads
from tickwork.errors import BadInput
from tickwork.models import ROLES, Account, User
from tickwork.users import create_user
from tickwork.web.errors import ApiError
from tickwork.web.lookups import revocable_key
from tickwork.web.pages_common import back, bp, me_, scoped_account, with_account

LEDGER_PAGE = 50


@bp.get("/account")
def account() -> Any:
    me = me_()
    account = scoped_account()
    try:
        offset = max(0, min(int(request.args.get("offset", "0") or 0), 10**9))
    except ValueError:
        offset = 0
    sees_billing = me.is_owner or me.is_staff  # the ledger is billing: owners' (members see the balance)
    entries = reads.ledger_entries(g.db, account.id, LEDGER_PAGE + 1, offset) if sees_billing else []
    users = list(g.db.scalars(select(User).where(User.account_id == account.id).order_by(User.id)))
    manages = me.is_owner or me.is_staff
    key_holders = [u.id for u in users] if manages else [me.user_id]
    return render_template(
        "account.html",
        account=account,
        summary=reads.account_rows(g.db, [account])[0],
        entries=entries[:LEDGER_PAGE],
        more=len(entries) > LEDGER_PAGE,
        offset=offset,
        page_size=LEDGER_PAGE,
        users=users,
        keys=apikeys.keys_of(g.db, key_holders),
        manages=manages,
        roles=ROLES,
    )


@bp.post("/account/keys")
def create_key() -> Any:
    """A new API key for the signed-in owner, shown once on the page this answers with."""
    me = me_()
    if not me.is_owner:
        raise ApiError(403, "forbidden", "only an account owner can create API keys here")
    user = g.db.get(User, me.user_id)
    try:
        key, plain = apikeys.create_key(g.db, user, request.form.get("name", ""))
    except BadInput as error:
        g.db.rollback()
        flash(str(error), "error")
        return redirect(url_for("pages.account"))
    g.db.commit()
    return render_template("key_created.html", key=key, plain=plain)


@bp.post("/account/keys/<int:key_id>/revoke")
def revoke_key(key_id: int) -> Any:
    me = me_()
    key = revocable_key(me, key_id)
    if apikeys.revoke(g.db, key):
        g.db.commit()
        flash(
            f"The key {key.prefix}… ({key.name}) is revoked; requests with it are refused from now on.",
            "success",
        )
    else:
        flash(f"The key {key.prefix}… was revoked already.", "info")
    return back(with_account("pages.account"))


@bp.post("/account/users")
def add_user() -> Any:
    """Owners add a user to their account, with a role and a first password."""
    me = me_()
    me.require_owner()
    account = scoped_account()
    email = request.form.get("email", "").strip()
    try:
        create_user(
            g.db, email, request.form.get("password", ""), account=account, role=request.form.get("role")
        )
    except BadInput as error:
        g.db.rollback()
        flash(str(error), "error")
    else:
        g.db.commit()
        flash(f"{email} can now sign in to {account.name}.", "success")
    return back(with_account("pages.account"))


@bp.get("/accounts")
def accounts() -> Any:
    """Staff: every account with its balance and days left; open one, grant credits."""
    me = me_()
    if not me.is_staff:
        return redirect(url_for("pages.account"))
    rows = reads.account_rows(g.db, list(g.db.scalars(select(Account).order_by(Account.name))))
    return render_template("accounts.html", rows=rows)


@bp.post("/accounts/<ref>/grants")
def grant_credits(ref: str) -> Any:
    """Staff grant credits; the form's one-time key makes a double submit grant once."""
    me = me_()
    me.require_staff()
    target = me.account_in_scope(g.db, ref)
    try:
        entry = grants.grant(
            g.db,
            target,
            request.form.get("credits", "").strip(),
            request.form.get("note", "").strip() or None,
            request.form.get("key") or None,
            by=me.email,
        )
    except BadInput as error:
        g.db.rollback()
        flash(str(error), "error")
        return back(url_for("pages.accounts"))
    g.db.commit()
    if entry["granted"]:
        flash(f"Granted {entry['credits']} credits to {target.name}; balance {entry['balance']}.", "success")
    else:
        flash(f"That grant to {target.name} was made already (same form sent twice).", "info")
    return back(url_for("pages.accounts"))
