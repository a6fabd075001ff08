"""The JSON API under /api/v1, authenticated with API keys.

A key acts as its user, in its user's account (``Principal.account_in_scope``); staff name
the account with ``?account=``. Every route here is described in ``openapi.py``: a test runs
the API against that document, so a route added here without its description fails there.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from sqlalchemy import select

from billing.ledger import reporting_day
from billing.reports import GROUPINGS
from tickwork import apikeys, clock, grants, reads
from tickwork.accounts import NotFound, find_app, install
from tickwork.context.settings_store import SecretBox, delete_setting, list_settings, set_secret, set_variable
from tickwork.data import Collection
from tickwork.models import EXECUTION_STATUSES, Account, ApiKey, App, Execution, Message, User
from tickwork.settings import get_settings
from tickwork.switches import set_platform_switch, set_schedule_status
from tickwork.web import run_now
from tickwork.web.errors import ApiError
from tickwork.web.lookups import installed_app, revocable_key, visible_app
from tickwork.web.principal import Principal

bp = Blueprint("api", __name__)

MAX_PAGE = 500


@bp.before_request
def _authenticate() -> None:
    if request.endpoint == "api.openapi_document":
        return
    if g.principal is None:
        raise ApiError(
            401, "unauthenticated", "send an API key: Authorization: Bearer KEY (or X-API-Key: KEY)",
            headers={"WWW-Authenticate": 'Bearer realm="tickwork"'},
        )  # fmt: skip


def _me() -> Principal:
    principal: Principal = g.principal
    return principal


def _account() -> Account:
    return _me().account_in_scope(g.db, request.args.get("account"))


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(
            400, "bad_request", "send a JSON object as the request body (Content-Type: application/json)"
        )
    return data


# --- document ---------------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi_document() -> Any:
    from tickwork.web.openapi import document

    return jsonify(document())


# --- apps -------------------------------------------------------------------------------------


@bp.get("/apps")
def list_apps() -> Any:
    account = _account()
    now = clock.now()
    apps = [
        reads.app_document(app, installation, now)
        for app, installation in reads.apps_visible_to(g.db, account)
    ]
    return jsonify({"account": account.slug, "apps": apps})


@bp.get("/apps/<slug>")
def get_app(slug: str) -> Any:
    app, installation = visible_app(slug, _account())
    return jsonify(reads.app_document(app, installation, clock.now()))


@bp.patch("/apps/<slug>")
def update_app(slug: str) -> Any:
    """Owners switch their installation; staff may also flip the platform-wide switch."""
    body = _body()
    unknown = set(body) - {"schedule_status", "platform_enabled"}
    if unknown or not body:
        raise ApiError(
            422,
            "invalid",
            'send {"schedule_status": "on"|"off"} (staff: or {"platform_enabled": true|false})',
        )
    me = _me()
    if "platform_enabled" in body:
        me.require_staff()
        if not isinstance(body["platform_enabled"], bool):
            raise ApiError(422, "invalid", "platform_enabled is true or false")
    if "schedule_status" in body:
        me.require_owner()
        if body["schedule_status"] not in ("on", "off"):
            raise ApiError(422, "invalid", 'schedule_status is "on" or "off"')
    if "schedule_status" not in body:  # staff, platform switch only: no account needed
        app = g.db.scalar(select(App).where(App.slug == slug))
        if app is None or app.active_version_id is None:
            raise NotFound(f"no app {slug!r}")
        set_platform_switch(g.db, app, body["platform_enabled"])
        g.db.commit()
        return jsonify({"slug": app.slug, "platform_enabled": app.enabled})
    app, installation = installed_app(slug, _account())
    set_schedule_status(g.db, installation, body["schedule_status"] == "on")
    if "platform_enabled" in body:
        set_platform_switch(g.db, app, body["platform_enabled"])
    g.db.commit()
    return jsonify(reads.app_document(app, installation, clock.now()))


@bp.post("/apps/<slug>/install")
def install_app(slug: str) -> Any:
    _me().require_owner()
    account = _account()
    body = request.get_json(silent=True) or {}
    status = body.get("schedule_status", "on") if isinstance(body, dict) else "on"
    if status not in ("on", "off"):
        raise ApiError(422, "invalid", 'schedule_status is "on" or "off"')
    app = find_app(g.db, slug, account)
    if app.active_version_id is None:
        raise NotFound(f"no app {slug!r}")
    installation = install(g.db, account, app, schedule_status=status)
    g.db.commit()
    return jsonify(reads.app_document(app, installation, clock.now())), 201


# --- variables and secrets --------------------------------------------------------------------


@bp.get("/apps/<slug>/settings")
def get_settings_of_app(slug: str) -> Any:
    _, installation = installed_app(slug, _account())
    rows = list_settings(g.db, installation.id)
    return jsonify(
        {
            "variables": {row.name: row.value for row in rows if row.kind == "variable"},
            "secrets": [row.name for row in rows if row.kind == "secret"],
        }
    )


@bp.put("/apps/<slug>/<any(variables, secrets):kind>/<name>")
def put_setting(slug: str, kind: str, name: str) -> Any:
    _me().require_owner()
    _, installation = installed_app(slug, _account())
    value = _body().get("value")
    if not isinstance(value, str):
        raise ApiError(422, "invalid", 'send {"value": "text"}')
    if kind == "variables":
        set_variable(g.db, installation.id, name, value)
    else:
        set_secret(g.db, SecretBox(get_settings().secret_key), installation.id, name, value)
    g.db.commit()
    shown = {"name": name, "kind": kind[:-1]}
    return jsonify({**shown, "value": value} if kind == "variables" else shown)


@bp.delete("/apps/<slug>/<any(variables, secrets):kind>/<name>")
def delete_setting_of_app(slug: str, kind: str, name: str) -> Any:
    _me().require_owner()
    _, installation = installed_app(slug, _account())
    kinds = {row.name: row.kind for row in list_settings(g.db, installation.id)}
    if kinds.get(name) != kind[:-1]:
        raise NotFound(f"{slug} has no {kind[:-1]} named {name!r}")
    delete_setting(g.db, installation.id, name)
    g.db.commit()
    return Response(status=204)


# --- running ----------------------------------------------------------------------------------


@bp.post("/apps/<slug>/jobs/<job>/run")
def run_job(slug: str, job: str) -> Any:
    """Run a job now for the caller's account: recorded, queued and billed like any run."""
    account = _account()
    app, _ = installed_app(slug, account)
    body = request.get_json(silent=True) or {}
    params = body.get("params", {}) if isinstance(body, dict) else None
    if not isinstance(params, dict):
        raise ApiError(422, "invalid", 'params is a JSON object: {"params": {"name": value}}')
    execution_id = run_now.queue(g.db, app, job, account, source="api", params=params)
    return jsonify({"execution": execution_id, "status": "queued"}), 202


@bp.get("/executions")
def list_executions() -> Any:
    account = _account()
    where = reads.ExecutionFilter(
        account_id=account.id,
        app_id=find_app(g.db, request.args["app"], account).id if request.args.get("app") else None,
        job=request.args.get("job") or None,
        status=_choice("status", EXECUTION_STATUSES),
        since=_instant("since"),
        until=_instant("until"),
    )
    limit, offset = _int("limit", 100, 1, MAX_PAGE), _int("offset", 0, 0, 10**9)
    rows = [reads.execution_row(e, slug) for e, slug in reads.executions(g.db, where, limit, offset)]
    return jsonify({"executions": rows, "limit": limit, "offset": offset})


@bp.get("/executions/<int:execution_id>")
def get_execution(execution_id: int) -> Any:
    account = _account()
    execution = g.db.get(Execution, execution_id) if execution_id < 2**63 else None
    if execution is None or execution.account_id != account.id:
        raise NotFound(f"no execution {execution_id} in {account.slug}")
    slug = g.db.scalar(select(App.slug).where(App.id == execution.app_id)) or ""
    return jsonify(reads.execution_detail(execution, slug))


# --- account, keys and billing ----------------------------------------------------------------


@bp.get("/account")
def get_account() -> Any:
    account = _account()
    document = reads.account_rows(g.db, [account])[0]
    users = g.db.scalars(select(User).where(User.account_id == account.id).order_by(User.id))
    document["users"] = [{"id": u.id, "email": u.email, "role": u.role} for u in users]
    return jsonify(document)


@bp.get("/account/ledger")
def get_ledger() -> Any:
    """Owners see billing (DESIGN.md section 2); members see the balance on GET /account."""
    _me().require_owner()
    account = _account()
    entries = reads.ledger_entries(
        g.db, account.id, _int("limit", 100, 1, MAX_PAGE), _int("offset", 0, 0, 10**9)
    )
    return jsonify({"entries": entries})


@bp.get("/accounts")
def list_accounts() -> Any:
    """Staff see every account; anyone else sees their own."""
    me = _me()
    if me.is_staff:
        accounts = list(g.db.scalars(select(Account).order_by(Account.id)))
    else:
        accounts = [me.account_in_scope(g.db)]
    return jsonify({"accounts": reads.account_rows(g.db, accounts)})


@bp.post("/accounts/<ref>/grants")
def grant_credits(ref: str) -> Any:
    _me().require_staff()
    account = _me().account_in_scope(g.db, ref)
    body = _body()
    expires = body.get("expires")
    expires_at = _parse_instant(expires, "expires") if expires is not None else None
    entry = grants.grant(
        g.db,
        account,
        body.get("credits"),
        body.get("note"),
        body.get("key"),
        by=_me().email,
        expires_at=expires_at,
    )
    g.db.commit()
    return jsonify(entry), 201


@bp.get("/apikeys")
def list_keys() -> Any:
    """Your own keys; owners see every key of their account."""
    me = _me()
    account = me.account_in_scope(g.db, request.args.get("account"))
    if me.is_owner or me.is_staff:
        user_ids = list(g.db.scalars(select(User.id).where(User.account_id == account.id)))
    else:
        user_ids = [me.user_id]
    return jsonify({"keys": [_key_json(key) for key in apikeys.keys_of(g.db, user_ids)]})


@bp.post("/apikeys")
def create_key() -> Any:
    """A new key for the caller, shown once in this answer."""
    me = _me()
    body = request.get_json(silent=True) or {}
    name = body.get("name", "") if isinstance(body, dict) else ""
    if not isinstance(name, str):
        raise ApiError(422, "invalid", "name is text")
    user = g.db.get(User, me.user_id)
    key, plain = apikeys.create_key(g.db, user, name)
    g.db.commit()
    return jsonify({**_key_json(key), "key": plain}), 201


@bp.delete("/apikeys/<int:key_id>")
def revoke_key(key_id: int) -> Any:
    me = _me()
    key = revocable_key(me, key_id)
    apikeys.revoke(g.db, key)
    g.db.commit()
    return Response(status=204)


def _key_json(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "user": key.user.email,
        "created_at": reads.iso_utc(key.created_at),
        "last_used_at": reads.iso_utc(key.last_used_at),
        "revoked": key.revoked_at is not None,
    }


@bp.get("/billing/report")
def billing_report() -> Any:
    """The CLI's ``billing report --format json`` shape; staff may name any account or none."""
    me = _me()
    me.require_owner()
    requested = request.args.get("account")
    account_id = me.account_in_scope(g.db, requested).id if (requested or not me.is_staff) else None
    today = reporting_day(clock.now())
    first = _date("from", today.replace(day=1))
    last = _date("to", today)
    if last < first:
        raise ApiError(422, "invalid", "to must not be before from")
    by = _choice("by", tuple(GROUPINGS)) or "app"
    return jsonify(reads.billing_report(g.db, first=first, last=last, by=by, account_id=account_id))


# --- builder ----------------------------------------------------------------------------------


@bp.post("/builder/proposals")
def propose_job() -> Any:
    """A job described in English becomes a proposal (schedule, code, cost) or a question back.

    Nothing is written: review the proposal, then send it back to ``/builder/proposals/apply``.
    """
    from tickwork import builder

    _me().require_owner()
    _account()
    description = _body().get("description")
    if not isinstance(description, str):
        raise ApiError(422, "invalid", 'send {"description": "what the job should do and when"}')
    return jsonify(builder.propose(description).to_json())


@bp.post("/builder/proposals/apply")
def apply_proposal() -> Any:
    """Add a reviewed proposal's job to the account's custom app (new apps start switched off)."""
    from tickwork import builder

    me = _me()
    me.require_owner()
    account = _account()
    body = _body()
    proposal, app, app_name = body.get("proposal"), body.get("app"), body.get("app_name", "Custom app")
    description = body.get("description", "")
    if not isinstance(proposal, dict):
        raise ApiError(422, "invalid", "proposal is the JSON object POST /builder/proposals answered")
    if not all(isinstance(value, str) for value in (description, app_name)) or not (
        app is None or isinstance(app, str)
    ):
        raise ApiError(422, "invalid", "description, app and app_name are text")
    rebuilt = builder.from_json(
        proposal, clock.now(), request=description, app_name=app_name.strip()[:200] or "Custom app"
    )
    applied = builder.apply_proposal(g.db, rebuilt, account, app, created_by=me.email)
    g.db.commit()
    return jsonify(applied.to_json()), 201


# --- outbox -----------------------------------------------------------------------------------


@bp.get("/outbox")
def outbox() -> Any:
    account = _account()
    query = (
        select(Message)
        .where(Message.account_id == account.id)
        .order_by(Message.id.desc())
        .limit(_int("limit", 100, 1, MAX_PAGE))
    )
    channel = _choice("channel", ("email", "sms"))
    if channel:
        query = query.where(Message.channel == channel)
    return jsonify({"messages": [reads.message_row(m) for m in g.db.scalars(query)]})


# --- data -------------------------------------------------------------------------------------


@bp.get("/data/<collection>")
def find_records(collection: str) -> Any:
    records = Collection(g.db, _account().id, collection)
    where = _json_arg("where")
    if where is not None and not isinstance(where, dict):
        raise ApiError(422, "invalid", 'where is a JSON object, e.g. where={"status": "new"}')
    limit, order_by = _int("limit", 100, 1, MAX_PAGE), request.args.get("order_by") or None
    found = records.find(where, order_by=order_by, limit=limit)
    return jsonify({"collection": collection, "records": found, "count": len(found)})


@bp.post("/data/<collection>")
def insert_records(collection: str) -> Any:
    """One record (a JSON object) or many (``{"records": [..]}``); owners only."""
    _me().require_owner()
    records = Collection(g.db, _account().id, collection)
    body = _body()
    batch = body["records"] if set(body) == {"records"} else [body]
    if not isinstance(batch, list) or len(batch) > 1000:
        raise ApiError(422, "invalid", "records is a list of at most 1,000 objects")
    ids = records.insert_many(batch)
    g.db.commit()
    return jsonify({"collection": collection, "ids": ids}), 201


@bp.get("/data/<collection>/<int:record_id>")
def get_record(collection: str, record_id: int) -> Any:
    record = Collection(g.db, _account().id, collection).get(_record_id(record_id))
    if record is None:
        raise NotFound(f"no record {record_id} in {collection}")
    return jsonify(record)


@bp.patch("/data/<collection>/<int:record_id>")
def update_record(collection: str, record_id: int) -> Any:
    _me().require_owner()
    records = Collection(g.db, _account().id, collection)
    if not records.update({"id": _record_id(record_id)}, _body()):
        raise NotFound(f"no record {record_id} in {collection}")
    g.db.commit()
    return jsonify(records.get(record_id))


@bp.delete("/data/<collection>/<int:record_id>")
def delete_record(collection: str, record_id: int) -> Any:
    _me().require_owner()
    if not Collection(g.db, _account().id, collection).delete({"id": _record_id(record_id)}):
        raise NotFound(f"no record {record_id} in {collection}")
    g.db.commit()
    return Response(status=204)


# --- argument parsing -------------------------------------------------------------------------


def _record_id(record_id: int) -> int:
    if record_id >= 2**63:
        raise NotFound(f"no record {record_id}")
    return record_id


def _int(name: str, default: int, low: int, high: int) -> int:
    text = request.args.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(422, "invalid", f"{name} is a whole number; got {text!r}") from None
    if not low <= value <= high:
        raise ApiError(422, "invalid", f"{name} is between {low} and {high}; got {value}")
    return value


def _choice(name: str, choices: tuple[str, ...]) -> str | None:
    value = request.args.get(name) or None
    if value is not None and value not in choices:
        raise ApiError(422, "invalid", f"{name} is one of {', '.join(choices)}; got {value!r}")
    return value


def _date(name: str, default: date) -> date:
    text = request.args.get(name)
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(422, "invalid", f"{name} is a date like 2026-11-01; got {text!r}") from None


def _instant(name: str) -> datetime | None:
    text = request.args.get(name)
    return _parse_instant(text, name) if text else None


def _parse_instant(text: object, name: str) -> datetime:
    value = None
    if isinstance(text, str):
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            value = None
    if value is None or value.tzinfo is None:
        raise ApiError(
            422, "invalid", f"{name} is an ISO 8601 time with an offset, like 2026-11-01T00:00:00Z"
        )
    return value


def _json_arg(name: str) -> Any:
    text = request.args.get(name)
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise ApiError(422, "invalid", f"{name} is JSON; could not read {text[:80]!r}") from None


__all__ = ["bp"]
