"""The builder page: describe a job in English, review the proposal, apply it (owners).

``builder.propose`` turns the description into a proposal (schedules in words, next runs, cost,
questions, code); the page shows it and carries its JSON in the apply form. Applying rebuilds
the proposal from that JSON with ``builder.from_json`` (validated again from scratch: nothing
in the form is trusted) and ``builder.apply_proposal`` adds the job to the account's custom
app as a new version, installed switched off the first time.
"""

from __future__ import annotations

import json
from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from tickwork import builder, clock
from tickwork.errors import BadInput
from tickwork.models import App
from tickwork.web.pages_common import bp, me_, scoped_account, with_account

EXAMPLES = (
    "every weekday at 9 AM email me yesterday's new orders",
    "every hour on weekdays from 9 AM to 5 PM pull stock levels from https://supplier.example/api",
    "every night at 2 AM delete records older than 60 days from import_rows",
)


def _custom_apps(account_id: int) -> list[App]:
    query = select(App).where(App.kind == "custom", App.account_id == account_id).order_by(App.name)
    return list(g.db.scalars(query))


@bp.get("/builder")
def builder_page() -> Any:
    me_().require_owner()
    account = scoped_account()
    return render_template(
        "builder.html", account=account, description="", proposal=None, apps=_custom_apps(account.id),
        examples=EXAMPLES,
    )  # fmt: skip


@bp.post("/builder")
def builder_propose() -> Any:
    me_().require_owner()
    account = scoped_account()
    description = request.form.get("description", "")
    try:
        proposal = builder.propose(description)
    except BadInput as error:
        flash(str(error), "error")
        return redirect(with_account("pages.builder_page"))
    document = proposal.to_json()
    return render_template(
        "builder.html",
        account=account,
        description=description,
        proposal=document,
        proposal_json=json.dumps(document),
        app_name=proposal.app_name,
        apps=_custom_apps(account.id),
        examples=EXAMPLES,
    )


@bp.post("/builder/apply")
def builder_apply() -> Any:
    me = me_()
    me.require_owner()
    account = scoped_account()
    description = request.form.get("description", "")
    try:
        payload = json.loads(request.form.get("proposal", ""))
        if not isinstance(payload, dict):
            raise ValueError("not an object")
    except ValueError:
        flash("The proposal did not come back whole; describe the job again.", "error")
        return redirect(with_account("pages.builder_page"))
    app_name = request.form.get("app_name", "").strip()[:200] or "Custom app"
    target = request.form.get("app") or None
    try:
        proposal = builder.from_json(payload, clock.now(), request=description, app_name=app_name)
        applied = builder.apply_proposal(g.db, proposal, account, target, created_by=me.email)
    except BadInput as error:
        g.db.rollback()
        flash(f"Not applied: {error}", "error")
        return redirect(with_account("pages.builder_page"))
    g.db.commit()
    job = proposal.job.name if proposal.job else "the job"
    state = applied.installation.schedule_status
    flash(
        f"{job} is in {applied.app.name} (version {applied.version.number}); the app is {state}"
        + (": switch it on when you are ready." if state == "off" else "."),
        "success",
    )
    return redirect(url_for("pages.app_detail", slug=applied.app.slug))
