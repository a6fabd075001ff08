"""The API against its own OpenAPI document: every route described, no 500s, every answer as documented."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests.web_fixtures import Cast
from tickwork.web.openapi import document

API_PREFIX = "/api/v1"


def _documented() -> set[tuple[str, str]]:
    return {
        (method.upper(), path) for path, operations in document()["paths"].items() for method in operations
    }


def _routed(app: Flask) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule[len(API_PREFIX) :])
        expansions = [path]
        any_match = re.search(r"<any\(([^)]*)\):[a-z_]+>", rule.rule)
        if any_match:
            choices = [choice.strip() for choice in any_match.group(1).split(",")]
            template = re.sub(r"<any\([^)]*\):[a-z_]+>", "{choice}", rule.rule[len(API_PREFIX) :])
            template = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", template)
            expansions = [template.replace("{choice}", choice) for choice in choices]
        for method in rule.methods or ():
            if method in {"HEAD", "OPTIONS"}:
                continue
            routes.update((method, expanded) for expanded in expansions)
    return routes


def test_every_route_is_in_the_document_and_nothing_else(web_app: Flask) -> None:
    assert _routed(web_app) == _documented()


def test_the_document_is_served_without_a_key(client: Any) -> None:
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    assert answer.get_json()["openapi"].startswith("3.")


# No 500s, and every answer as documented. Not schemathesis' "positive data acceptance": a
# request can fit the schema and still be refused for what it means ("to" before "from"), and
# that 422 is documented.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]
EXAMPLES = int(os.environ.get("TICKWORK_API_EXAMPLES", "12"))  # raise it for a longer hunt
PROPERTY_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


@pytest.mark.parametrize("caller", ["owner", "staff"])
def test_the_api_keeps_to_its_document(web_app: Flask, cast: Cast, caller: str) -> None:
    """Generated requests for every operation: no 500, and every answer matches its documented schema.

    Staff name acme where the document offers ``account``; owners act in their own account.
    """
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", web_app)
    headers = getattr(cast, caller).headers
    operations = [result.ok() for result in schema.get_all_operations()]
    # Revoking keys last: a generated id may be the caller's own key, which ends the session.
    operations.sort(
        key=lambda operation: operation.label.replace(API_PREFIX, "") == "DELETE /apikeys/{key_id}"
    )
    for operation in operations:

        @given(case=operation.as_strategy())
        @PROPERTY_SETTINGS
        def check(case: Any) -> None:
            if caller == "staff" and isinstance(case.query, dict) and "account" in case.query:
                case.query["account"] = "acme"
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()
    labels = {operation.label.replace(API_PREFIX, "", 1) for operation in operations}
    # schemathesis leaves out the operation that serves the document (tested above)
    assert labels == {f"{method} {path}" for method, path in _documented()} - {"GET /openapi.json"}
