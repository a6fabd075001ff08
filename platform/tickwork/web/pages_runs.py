"""Executions: the filtered list and one execution's detail (logs, result, error, credits)."""

from __future__ import annotations

from typing import Any

from flask import g, render_template, request, session
from sqlalchemy import select

from tickwork import reads
from tickwork.accounts import NotFound, find_app
from tickwork.models import EXECUTION_STATUSES, Account, App, Execution
from tickwork.web.errors import ApiError
from tickwork.web.pages_common import ALL_ACCOUNTS, STAFF_ACCOUNT, bp, me_, parse_local, scoped_account

PAGE_SIZE = 50


@bp.get("/executions")
def executions() -> Any:
    me = me_()
    every_account = me.is_staff and request.args.get("account") == ALL_ACCOUNTS
    account = None if every_account else scoped_account()
    visible = reads.apps_visible_to(g.db, account) if account is not None else []
    app_slug = request.args.get("app", "").strip()
    app_id = None
    if app_slug:
        app_id = find_app(g.db, app_slug, account if account is not None else None).id
    status = request.args.get("status") or None
    if status is not None and status not in EXECUTION_STATUSES:
        raise ApiError(422, "invalid", f"status is one of {', '.join(EXECUTION_STATUSES)}")
    try:
        offset = max(0, min(int(request.args.get("offset", "0") or 0), 10**9))
    except ValueError:
        offset = 0
    where = reads.ExecutionFilter(
        account_id=account.id if account is not None else None,
        app_id=app_id,
        job=request.args.get("job", "").strip() or None,
        status=status,
        since=parse_local(request.args.get("since"), "From"),
        until=parse_local(request.args.get("until"), "Until"),
    )
    rows = reads.executions(g.db, where, PAGE_SIZE + 1, offset)
    slugs = {id_: slug for id_, slug in g.db.execute(select(Account.id, Account.slug))} if me.is_staff else {}
    filters = {name: request.args.get(name, "") for name in ("app", "job", "status", "since", "until")}
    if me.is_staff:
        filters["account"] = ALL_ACCOUNTS if every_account else session.get(STAFF_ACCOUNT, "")
    return render_template(
        "executions.html",
        account=account,
        rows=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        offset=offset,
        page_size=PAGE_SIZE,
        apps=[app for app, _ in visible] if visible else list(g.db.scalars(select(App).order_by(App.slug))),
        statuses=EXECUTION_STATUSES,
        filters=filters,
        account_slugs=slugs,
    )


@bp.get("/executions/<int:execution_id>")
def execution_detail(execution_id: int) -> Any:
    me = me_()
    execution = g.db.get(Execution, execution_id) if execution_id < 2**63 else None
    if execution is None:
        raise NotFound(f"no execution {execution_id}")
    if not me.is_staff:  # staff see every account's executions; others their own only
        account = scoped_account()
        if execution.account_id != account.id:
            raise NotFound(f"no execution {execution_id} in {account.slug}")
    app = g.db.get(App, execution.app_id)
    slug = app.slug if app is not None else ""
    owner_account = g.db.get(Account, execution.account_id)
    return render_template(
        "execution_detail.html",
        execution=reads.execution_detail(execution, slug),
        app_name=app.name if app is not None else slug,
        execution_account=owner_account,
    )
