"""The OpenAPI 3 document of /api/v1, served at /api/v1/openapi.json.

Written out by hand, next to the routes it describes, because it is a contract: tests check
that every route in ``api.py`` is described here and run the API against this document
(schemathesis), so the two cannot drift apart silently.
"""

from __future__ import annotations

from typing import Any

from tickwork import __version__
from tickwork.models import EXECUTION_SOURCES, EXECUTION_STATUSES

DECIMAL = {"type": "string", "pattern": r"^-?\d+\.\d{6}$", "example": "12.500000"}
WHEN = {"type": "string", "format": "date-time", "nullable": True}
TEXT = {"type": "string"}
INT = {"type": "integer"}
ANY: dict[str, Any] = {}
OBJECT = {"type": "object", "additionalProperties": True}
SCHEDULE_STATUS_SCHEMA = {"type": "string", "enum": ["on", "off"]}


def _object(
    properties: dict[str, Any], *, nullable: tuple[str, ...] = (), extra: bool = False
) -> dict[str, Any]:
    """An object whose listed properties are all required (nullable ones may be null)."""
    shaped = {
        name: ({**schema, "nullable": True} if name in nullable else schema)
        for name, schema in properties.items()
    }
    return {
        "type": "object",
        "properties": shaped,
        "required": list(properties),
        "additionalProperties": extra,
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _list(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


SCHEMAS: dict[str, Any] = {
    "Error": _object({"error": _object({"code": TEXT, "message": TEXT})}),
    "Job": _object(
        {
            "name": TEXT,
            "schedules": _list(TEXT),
            "description": TEXT,
            "next_runs": _list(TEXT),
            "runs_per_day": {"type": "number"},
            "credits_per_run": INT,
            "credits_per_day": DECIMAL,
            "timeout": INT,
            "retries": INT,
            "overlap": TEXT,
            "catch_up": TEXT,
        }
    ),
    "App": _object(
        {
            "slug": TEXT,
            "name": TEXT,
            "description": TEXT,
            "kind": {"type": "string", "enum": ["catalog", "custom"]},
            "version": INT,
            "installed": {"type": "boolean"},
            "schedule_status": {"type": "string", "enum": ["on", "off", None]},
            "platform_enabled": {"type": "boolean"},
            "runs": {"type": "boolean"},
            "jobs": _list(_ref("Job")),
            "credits_per_day": DECIMAL,
        },
        nullable=("version", "schedule_status"),
    ),
    "AppList": _object({"account": TEXT, "apps": _list(_ref("App"))}),
    "PlatformSwitch": _object({"slug": TEXT, "platform_enabled": {"type": "boolean"}}),
    "AppSettings": _object(
        {"variables": {"type": "object", "additionalProperties": TEXT}, "secrets": _list(TEXT)}
    ),
    "Setting": {
        "type": "object",
        "properties": {
            "name": TEXT,
            "kind": {"type": "string", "enum": ["variable", "secret"]},
            "value": TEXT,
        },
        "required": ["name", "kind"],
        "additionalProperties": False,
    },
    "RunQueued": _object({"execution": INT, "status": {"type": "string", "enum": ["queued"]}}),
    "Execution": _object(
        {
            "id": INT,
            "app": TEXT,
            "job": TEXT,
            "account": INT,
            "source": {"type": "string", "enum": list(EXECUTION_SOURCES)},
            "status": {"type": "string", "enum": list(EXECUTION_STATUSES)},
            "skip_reason": TEXT,
            "scheduled_for": {"type": "string", "format": "date-time"},
            "attempts": INT,
            "duration_ms": INT,
        },
        nullable=("skip_reason", "duration_ms"),
    ),
    "ExecutionList": _object({"executions": _list(_ref("Execution")), "limit": INT, "offset": INT}),
    "Account": _object(
        {
            "id": INT,
            "name": TEXT,
            "slug": TEXT,
            "status": TEXT,
            "balance": DECIMAL,
            "overdraft": DECIMAL,
            "projected_credits_per_day": DECIMAL,
            "days_left": {"type": "number"},
        },
        nullable=("days_left",),
    ),
    "AccountList": _object({"accounts": _list(_ref("Account"))}),
    "LedgerEntry": _object(
        {
            "id": INT,
            "kind": TEXT,
            "credits": DECIMAL,
            "quantity": INT,
            "app": TEXT,
            "job": TEXT,
            "execution": INT,
            "detail": OBJECT,
            "created_at": {"type": "string", "format": "date-time"},
        },
        nullable=("app", "job", "execution"),
    ),
    "Ledger": _object({"entries": _list(_ref("LedgerEntry"))}),
    "Grant": _object({"entry": INT, "granted": {"type": "boolean"}, "credits": DECIMAL, "balance": DECIMAL}),
    "ApiKey": _object(
        {
            "id": INT,
            "name": TEXT,
            "prefix": TEXT,
            "user": TEXT,
            "created_at": {"type": "string", "format": "date-time"},
            "last_used_at": WHEN,
            "revoked": {"type": "boolean"},
        }
    ),
    "ApiKeyList": _object({"keys": _list(_ref("ApiKey"))}),
    "ReportRow": _object(
        {
            "account": INT,
            "app": TEXT,
            "job": TEXT,
            "day": {"type": "string", "format": "date"},
            "kind": TEXT,
            "count": INT,
            "credits": DECIMAL,
        },
        nullable=("app", "job", "day", "kind"),
    ),
    "Report": _object(
        {
            "from": {"type": "string", "format": "date"},
            "to": {"type": "string", "format": "date"},
            "rows": _list(_ref("ReportRow")),
            "total_credits": DECIMAL,
        }
    ),
    "Message": _object(
        {
            "id": INT,
            "channel": {"type": "string", "enum": ["email", "sms"]},
            "transport": TEXT,
            "to": TEXT,
            "subject": TEXT,
            "body": TEXT,
            "status": TEXT,
            "segments": INT,
            "execution": INT,
            "created_at": {"type": "string", "format": "date-time"},
        },
        nullable=("subject", "execution"),
    ),
    "Outbox": _object({"messages": _list(_ref("Message"))}),
    "Record": {
        "type": "object",
        "properties": {"id": INT, "created_at": TEXT, "updated_at": TEXT},
        "required": ["id", "created_at", "updated_at"],
        "additionalProperties": True,
    },
    "Records": _object({"collection": TEXT, "records": _list(_ref("Record")), "count": INT}),
    "Inserted": _object({"collection": TEXT, "ids": _list(INT)}),
}

# The detail view adds these to the list fields.
_DETAIL = _object(
    {
        "params": OBJECT,
        "skipped_slots": INT,
        "parent_id": INT,
        "enqueued_at": WHEN,
        "started_at": WHEN,
        "finished_at": WHEN,
        "logs": TEXT,
        "result": ANY,
        "error": TEXT,
        "credits_charged": DECIMAL,
        "usage": OBJECT,
        "worker": TEXT,
    },
    nullable=("parent_id", "result", "error", "worker"),
    extra=True,
)
# allOf with additionalProperties false on either part would reject the other part's fields
SCHEMAS["ExecutionOpen"] = {**SCHEMAS["Execution"], "additionalProperties": True}
SCHEMAS["ExecutionDetail"] = {"allOf": [_ref("ExecutionOpen"), _DETAIL]}
SCHEMAS["ApiKeyOpen"] = {**SCHEMAS["ApiKey"], "additionalProperties": True}
SCHEMAS["NewApiKey"] = {"allOf": [_ref("ApiKeyOpen"), _object({"key": TEXT}, extra=True)]}
SCHEMAS["AccountOpen"] = {**SCHEMAS["Account"], "additionalProperties": True}
SCHEMAS["AccountDetail"] = {
    "allOf": [
        _ref("AccountOpen"),
        _object({"users": _list(_object({"id": INT, "email": TEXT, "role": TEXT}))}, extra=True),
    ]
}
SCHEMAS["Proposal"] = _object(
    {
        "status": {"type": "string", "enum": ["ok", "question", "rejected"]},
        "schedules": _list(TEXT),
        "description": TEXT,
        "next_runs": _list(TEXT),
        "runs_per_day": {"type": "number"},
        "credits_per_run": INT,
        "credits_per_day": {"type": "number"},
        "job": _object({"name": TEXT, "code": TEXT, "params": OBJECT}),
        "questions": _list(TEXT),
        "assumptions": _list(TEXT),
        "reason": TEXT,
    },
    nullable=("runs_per_day", "credits_per_run", "credits_per_day", "job", "reason"),
)
SCHEMAS["Applied"] = _object(
    {"app": TEXT, "version": INT, "created": {"type": "boolean"}, "schedule_status": SCHEDULE_STATUS_SCHEMA}
)
SCHEMAS["AppOrSwitch"] = {"oneOf": [_ref("App"), _ref("PlatformSwitch")]}

ERROR_STATUSES = {
    "400": "The request is malformed (not JSON, or staff did not name the account).",
    "401": "No API key, or an unknown or revoked one.",
    "403": "The caller's role does not allow this.",
    "404": "No such app, job, execution, record or key in the caller's account.",
    "409": "Conflicts with the current state (installed already, not installed).",
    "422": "The input is well-formed but invalid; the message says what and where.",
}


def _param(
    name: str, where: str, schema: dict[str, Any], description: str, required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "schema": schema,
        "description": description,
    }


ACCOUNT = _param(
    "account", "query", TEXT, "Staff: the account (id or slug) to act in. Others may give only their own."
)
SLUG = _param("slug", "path", TEXT, "The app's slug.")
LIMIT = _param(
    "limit", "query", {"type": "integer", "minimum": 1, "maximum": 500}, "At most this many (default 100)."
)
OFFSET = _param("offset", "query", {"type": "integer", "minimum": 0}, "Skip this many.")
NAME = _param("name", "path", TEXT, "The variable's or secret's name.")
COLLECTION = _param("collection", "path", TEXT, "Collection name: lowercase letters, digits and _.")
RECORD = _param("record_id", "path", {"type": "integer", "minimum": 1}, "The record's id.")


def _json_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _operation(
    summary: str,
    ok: tuple[int, str | None],
    *,
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    public: bool = False,
) -> dict[str, Any]:
    status, schema = ok
    success: dict[str, Any] = {"description": "OK"}
    if schema is not None:
        success["content"] = {"application/json": {"schema": _ref(schema)}}
    responses = {str(status): success}
    if not public:
        responses |= {
            code: {"description": text, "content": {"application/json": {"schema": _ref("Error")}}}
            for code, text in ERROR_STATUSES.items()
        }
    operation: dict[str, Any] = {"summary": summary, "parameters": parameters or [], "responses": responses}
    if body is not None:
        operation["requestBody"] = body
    if public:
        operation["security"] = []
    return operation


SCHEDULE_STATUS = {"type": "string", "enum": ["on", "off"]}


def _paths() -> dict[str, Any]:
    settings_paths = {}
    for kind, noun in (("variables", "variable"), ("secrets", "secret")):
        settings_paths[f"/apps/{{slug}}/{kind}/{{name}}"] = {
            "put": _operation(
                f"Set a {noun} of the caller's installation (owner)"
                + ("; secrets are stored encrypted and never shown again" if kind == "secrets" else ""),
                (200, "Setting"),
                parameters=[SLUG, NAME, ACCOUNT],
                body=_json_body(_object({"value": TEXT})),
            ),
            "delete": _operation(f"Delete a {noun} (owner)", (204, None), parameters=[SLUG, NAME, ACCOUNT]),
        }
    return {
        "/openapi.json": {"get": _operation("This document", (200, None), public=True)},
        "/apps": {
            "get": _operation(
                "The catalog and the account's custom apps", (200, "AppList"), parameters=[ACCOUNT]
            )
        },
        "/apps/{slug}": {
            "get": _operation(
                "One app with its jobs, next runs and projected cost",
                (200, "App"),
                parameters=[SLUG, ACCOUNT],
            ),
            "patch": _operation(
                "Switch the caller's installation on or off (owner); staff may also set platform_enabled"
                " (alone, it answers with the switch only)",
                (200, "AppOrSwitch"),
                parameters=[SLUG, ACCOUNT],
                body=_json_body(
                    {
                        "type": "object",
                        "properties": {
                            "schedule_status": SCHEDULE_STATUS,
                            "platform_enabled": {"type": "boolean"},
                        },
                        "minProperties": 1,
                        "additionalProperties": False,
                    }
                ),
            ),
        },
        "/apps/{slug}/install": {
            "post": _operation(
                "Install an app for the account (owner); its schedule status starts on unless given",
                (201, "App"),
                parameters=[SLUG, ACCOUNT],
                body=_json_body(
                    _object({"schedule_status": SCHEDULE_STATUS}) | {"required": []}, required=False
                ),
            )
        },
        "/apps/{slug}/settings": {
            "get": _operation(
                "The installation's variables (with values) and secrets (names only)",
                (200, "AppSettings"),
                parameters=[SLUG, ACCOUNT],
            )
        },
        **settings_paths,
        "/apps/{slug}/jobs/{job}/run": {
            "post": _operation(
                "Run a job now for the account (member or owner); billed like any run",
                (202, "RunQueued"),
                parameters=[SLUG, _param("job", "path", TEXT, "The job's name."), ACCOUNT],
                body=_json_body(_object({"params": OBJECT}) | {"required": []}, required=False),
            )
        },
        "/executions": {
            "get": _operation(
                "The account's executions, newest slot first",
                (200, "ExecutionList"),
                parameters=[
                    ACCOUNT,
                    _param("app", "query", TEXT, "Only this app (slug)."),
                    _param("job", "query", TEXT, "Only this job."),
                    _param(
                        "status",
                        "query",
                        {"type": "string", "enum": list(EXECUTION_STATUSES)},
                        "Only this status.",
                    ),
                    _param(
                        "since", "query", {"type": "string", "format": "date-time"}, "Scheduled at or after."
                    ),
                    _param("until", "query", {"type": "string", "format": "date-time"}, "Scheduled before."),
                    LIMIT,
                    OFFSET,
                ],
            )
        },
        "/executions/{execution_id}": {
            "get": _operation(
                "One execution with its logs, result, error and credits",
                (200, "ExecutionDetail"),
                parameters=[
                    _param("execution_id", "path", {"type": "integer", "minimum": 1}, "The execution's id."),
                    ACCOUNT,
                ],
            )
        },
        "/account": {
            "get": _operation(
                "The account: balance, overdraft, projected spend, days left, users",
                (200, "AccountDetail"),
                parameters=[ACCOUNT],
            )
        },
        "/account/ledger": {
            "get": _operation(
                "The account's ledger, newest first", (200, "Ledger"), parameters=[ACCOUNT, LIMIT, OFFSET]
            )
        },
        "/accounts": {"get": _operation("Accounts (staff: all; others: their own)", (200, "AccountList"))},
        "/accounts/{ref}/grants": {
            "post": _operation(
                "Grant credits to an account (staff)",
                (201, "Grant"),
                parameters=[_param("ref", "path", TEXT, "The account's id or slug.")],
                body=_json_body(
                    {
                        "type": "object",
                        "properties": {
                            "credits": TEXT,
                            "note": TEXT,
                            "key": TEXT,
                            "expires": {"type": "string", "format": "date-time"},
                        },
                        "required": ["credits"],
                        "additionalProperties": False,
                    }
                ),
            )
        },
        "/apikeys": {
            "get": _operation(
                "API keys: your own; owners see the account's", (200, "ApiKeyList"), parameters=[ACCOUNT]
            ),
            "post": _operation(
                "Create a key for the caller; the key is in this answer only",
                (201, "NewApiKey"),
                body=_json_body(
                    {"type": "object", "properties": {"name": TEXT}, "additionalProperties": False},
                    required=False,
                ),
            ),
        },
        "/apikeys/{key_id}": {
            "delete": _operation(
                "Revoke a key (your own; owners: the account's)",
                (204, None),
                parameters=[_param("key_id", "path", {"type": "integer", "minimum": 1}, "The key's id.")],
            )
        },
        "/billing/report": {
            "get": _operation(
                "Credits spent per account and app, job, day or kind (staff: any account, or all)",
                (200, "Report"),
                parameters=[
                    ACCOUNT,
                    _param(
                        "from",
                        "query",
                        {"type": "string", "format": "date"},
                        "First Eastern day (default: the 1st).",
                    ),
                    _param(
                        "to",
                        "query",
                        {"type": "string", "format": "date"},
                        "Last Eastern day, included (default: today).",
                    ),
                    _param(
                        "by",
                        "query",
                        {"type": "string", "enum": ["app", "job", "day", "kind"]},
                        "Grouping (default app).",
                    ),
                ],
            )
        },
        "/builder/proposals": {
            "post": _operation(
                "Describe a job in English; get a proposal (schedule, code, cost) or questions back (owner)."
                " Nothing is written.",
                (200, "Proposal"),
                parameters=[ACCOUNT],
                body=_json_body(_object({"description": TEXT})),
            )
        },
        "/builder/proposals/apply": {
            "post": _operation(
                "Apply a reviewed proposal: its job joins the account's custom app as a new version (owner);"
                " a new app starts switched off",
                (201, "Applied"),
                parameters=[ACCOUNT],
                body=_json_body(
                    {
                        "type": "object",
                        "properties": {
                            "proposal": _ref("Proposal"),
                            "description": TEXT,
                            "app": TEXT,
                            "app_name": TEXT,
                        },
                        "required": ["proposal"],
                        "additionalProperties": False,
                    }
                ),
            )
        },
        "/outbox": {
            "get": _operation(
                "Emails and SMS sent for the account, newest first",
                (200, "Outbox"),
                parameters=[
                    ACCOUNT,
                    LIMIT,
                    _param(
                        "channel", "query", {"type": "string", "enum": ["email", "sms"]}, "Only this channel."
                    ),
                ],
            )
        },
        "/data/{collection}": {
            "get": _operation(
                "Records of one of the account's collections",
                (200, "Records"),
                parameters=[
                    COLLECTION,
                    ACCOUNT,
                    _param(
                        "where", "query", TEXT, 'A JSON query: {"field": value} or {"field": {"$gte": a}}.'
                    ),
                    _param("order_by", "query", TEXT, "A field to sort by; -field for descending."),
                    LIMIT,
                ],
            ),
            "post": _operation(
                'Add one record (a JSON object) or many ({"records": [..]}) (owner)',
                (201, "Inserted"),
                parameters=[COLLECTION, ACCOUNT],
                body=_json_body({"type": "object"}),
            ),
        },
        "/data/{collection}/{record_id}": {
            "get": _operation("One record", (200, "Record"), parameters=[COLLECTION, RECORD, ACCOUNT]),
            "patch": _operation(
                "Merge fields into a record (owner)",
                (200, "Record"),
                parameters=[COLLECTION, RECORD, ACCOUNT],
                body=_json_body({"type": "object"}),
            ),
            "delete": _operation(
                "Delete a record (owner)", (204, None), parameters=[COLLECTION, RECORD, ACCOUNT]
            ),
        },
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Tickwork API",
            "version": __version__,
            "description": (
                "Tickwork's JSON API. Authenticate with an API key (`Authorization: Bearer KEY`, or "
                "`X-API-Key: KEY`); a key acts as its user, in its user's account. Errors are "
                '`{"error": {"code": .., "message": ..}}`. Credits are decimal strings with 6 places.'
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}, {"apiKeyHeader": []}],
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }
