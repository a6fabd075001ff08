"""Apps: the schedule status switch, installing from the catalog, variables and secrets, run now.

The switch calls ``switches.set_schedule_status`` on the account's installation, exactly as
``PATCH /api/v1/apps/SLUG`` and ``tickwork apps pause|resume`` do; the spawner reads that row.
"""

from __future__ import annotations

from typing import Any

from flask import flash, g, render_template, request
from sqlalchemy import select

from tickwork import clock, reads
from tickwork.accounts import install
from tickwork.context.settings_store import (
    SecretBox,
    SettingsStoreError,
    delete_setting,
    list_settings,
    set_secret,
    set_variable,
)
from tickwork.models import App, Execution
from tickwork.settings import get_settings
from tickwork.switches import set_platform_switch, set_schedule_status
from tickwork.web import run_now
from tickwork.web.errors import ApiError
from tickwork.web.lookups import installed_app, visible_app
from tickwork.web.pages_common import back, bp, me_, scoped_account, with_account


@bp.get("/apps")
def apps() -> Any:
    account = scoped_account()
    now = clock.now()
    documents = [reads.app_document(app, inst, now) for app, inst in reads.apps_visible_to(g.db, account)]
    return render_template(
        "apps.html",
        account=account,
        installed=[d for d in documents if d["installed"]],
        catalog=[d for d in documents if not d["installed"]],
    )


@bp.get("/apps/<slug>")
def app_detail(slug: str) -> Any:
    account = scoped_account()
    app, installation = visible_app(slug, account)
    settings = list_settings(g.db, installation.id) if installation is not None else []
    recent = g.db.scalars(
        select(Execution)
        .where(Execution.account_id == account.id, Execution.app_id == app.id)
        .order_by(Execution.scheduled_for.desc(), Execution.id.desc())
        .limit(10)
    )
    return render_template(
        "app_detail.html",
        account=account,
        app=reads.app_document(app, installation, clock.now()),
        variables=[s for s in settings if s.kind == "variable"],
        secrets=[s for s in settings if s.kind == "secret"],
        recent=list(recent),
    )


@bp.post("/apps/<slug>/status")
def app_status(slug: str) -> Any:
    """The on/off switch of the account's installation (owners; staff for any account)."""
    me_().require_owner()
    wanted = request.form.get("schedule_status", "")
    if wanted not in ("on", "off"):
        raise ApiError(422, "invalid", 'schedule_status is "on" or "off"')
    account = scoped_account()
    app, installation = installed_app(slug, account)
    changed = set_schedule_status(g.db, installation, wanted == "on")
    g.db.commit()
    if not changed:
        flash(f"{app.name} was already {wanted}.", "info")
    elif wanted == "on":
        flash(f"{app.name} is on: its jobs run from their next scheduled time.", "success")
    else:
        flash(f"{app.name} is off: none of its jobs run on schedule until you switch it on.", "success")
    return back(with_account("pages.apps"))


@bp.post("/apps/<slug>/install")
def app_install(slug: str) -> Any:
    me_().require_owner()
    account = scoped_account()
    app, installation = visible_app(slug, account)
    if installation is not None:
        flash(f"{app.name} is installed already.", "info")
        return back(with_account("pages.app_detail", slug=slug))
    status = "off" if request.form.get("schedule_status") == "off" else "on"
    install(g.db, account, app, schedule_status=status)
    g.db.commit()
    flash(f"{app.name} is installed and {status}.", "success")
    return back(with_account("pages.app_detail", slug=slug))


@bp.post("/apps/<slug>/settings")
def app_setting(slug: str) -> Any:
    """Set a variable or a secret (a secret's value is never shown again)."""
    me_().require_owner()
    account = scoped_account()
    app, installation = installed_app(slug, account)
    kind = request.form.get("kind", "")
    name = request.form.get("name", "").strip()
    value = request.form.get("value", "")
    try:
        if kind == "variable":
            set_variable(g.db, installation.id, name, value)
        elif kind == "secret":
            set_secret(g.db, SecretBox(get_settings().secret_key), installation.id, name, value)
        else:
            raise ApiError(422, "invalid", "kind is variable or secret")
    except SettingsStoreError as error:
        g.db.rollback()
        flash(str(error), "error")
    else:
        g.db.commit()
        flash(f"{kind.capitalize()} {name} is set.", "success")
    return back(with_account("pages.app_detail", slug=app.slug))


@bp.post("/apps/<slug>/settings/<name>/delete")
def app_setting_delete(slug: str, name: str) -> Any:
    me_().require_owner()
    account = scoped_account()
    app, installation = installed_app(slug, account)
    if delete_setting(g.db, installation.id, name):
        g.db.commit()
        flash(f"{name} is deleted.", "success")
    else:
        flash(f"{app.name} has no setting named {name}.", "error")
    return back(with_account("pages.app_detail", slug=app.slug))


@bp.post("/apps/<slug>/jobs/<job>/run")
def run_job(slug: str, job: str) -> Any:
    """Run now: members, owners and staff; recorded, queued and billed like a scheduled run."""
    account = scoped_account()
    app, _ = installed_app(slug, account)
    execution_id = run_now.queue(g.db, app, job, account, source="manual")
    flash(f"{app.name} · {job} is queued as execution #{execution_id}.", "success")
    return back(with_account("pages.execution_detail", execution_id=execution_id))


@bp.get("/platform")
def platform() -> Any:
    """Staff: the catalog's platform-wide switches."""
    me_().require_staff()
    apps = list(g.db.scalars(select(App).where(App.kind == "catalog").order_by(App.slug)))
    return render_template("platform.html", apps=apps)


@bp.post("/platform/<slug>")
def platform_switch(slug: str) -> Any:
    """Staff switch a catalog app off (or on) for every account at once."""
    me_().require_staff()
    app = g.db.scalar(select(App).where(App.slug == slug, App.kind == "catalog"))
    if app is None:
        raise ApiError(404, "not_found", f"no catalog app {slug!r}")
    enabled = request.form.get("enabled") == "on"
    set_platform_switch(g.db, app, enabled)
    g.db.commit()
    state = "on for every account that has it on" if enabled else "off for every account"
    flash(f"{app.name} is {state}.", "success")
    return back(with_account("pages.platform"))
