"""The authorization matrix: every API route against every kind of caller.

Account A ("acme") has an owner and a member; account B ("globex") has an owner; staff see
every account. Each route is asked by: A's owner, A's member, staff (naming A), no key, a bad
key, and B's owner. Each gets exactly what its role allows, and B's owner never sees or
changes anything of A's: A's things answer 404 (or 403 when B names A explicitly).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import Database
from tests.web_fixtures import Cast
from tickwork import apikeys
from tickwork.context.settings_store import SecretBox, list_settings, set_secret, set_variable
from tickwork.data import Collections
from tickwork.models import Account, App, Execution, Installation, Message, User
from tickwork.settings import get_settings

CALLERS = ("owner", "member", "staff", "no_key", "bad_key", "other_owner")
BAD_KEY = {"Authorization": "Bearer tkw_this-key-was-never-issued-by-tickwork-000000"}


@dataclass(frozen=True)
class World:
    """A's things that B must never see."""

    execution: int
    record: int
    spare_key: int
    slot_secret: str = "s3cret-of-acme"
    variable_value: str = "acme-only-value"


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # {execution}, {record}, {spare_key} are filled from the World
    expected: dict[str, int]
    body: Any = None
    staff_names_account: bool = True
    note: str = ""
    forbid_in_other: tuple[str, ...] = field(default=())


def _everyone(status: int, **overrides: int) -> dict[str, int]:
    base = {"owner": status, "member": status, "staff": status, "other_owner": status}
    return {**base, "no_key": 401, "bad_key": 401, **overrides}


ROUTES = [
    Route("GET", "/api/v1/apps", _everyone(200)),
    Route("GET", "/api/v1/apps/order-digest", _everyone(200)),
    Route("GET", "/api/v1/apps/order-digest/settings", _everyone(200)),
    Route("PATCH", "/api/v1/apps/order-digest", _everyone(200, member=403), {"schedule_status": "off"}),
    Route("PATCH", "/api/v1/apps/order-digest", _everyone(403, staff=200), {"platform_enabled": True},
          staff_names_account=False, note="the platform-wide switch is staff's"),
    Route("POST", "/api/v1/apps/inventory-sync/install", _everyone(201, member=403, owner=409),
          note="staff installs it for acme first, so acme's owner then finds it installed"),
    Route("PUT", "/api/v1/apps/order-digest/variables/GREETING", _everyone(200, member=403), {"value": "hi"}),
    # Deletions: staff (asking before the owner) removes it, so the owner then finds nothing.
    Route("DELETE", "/api/v1/apps/order-digest/variables/REGION",
          _everyone(204, member=403, other_owner=404, owner=404)),
    Route("PUT", "/api/v1/apps/order-digest/secrets/TOKEN", _everyone(200, member=403), {"value": "x"}),
    Route("DELETE", "/api/v1/apps/order-digest/secrets/ACME_TOKEN",
          _everyone(204, member=403, other_owner=404, owner=404)),
    Route("POST", "/api/v1/apps/order-digest/jobs/daily_summary/run", _everyone(202), {}),
    Route("GET", "/api/v1/executions", _everyone(200)),
    Route("GET", "/api/v1/executions/{execution}", _everyone(200, other_owner=404)),
    Route("GET", "/api/v1/executions?account=acme", _everyone(200, other_owner=403),
          staff_names_account=False),
    Route("GET", "/api/v1/account", _everyone(200)),
    Route("GET", "/api/v1/account/ledger", _everyone(200, member=403)),
    Route("GET", "/api/v1/accounts", _everyone(200), staff_names_account=False),
    Route("POST", "/api/v1/accounts/acme/grants", _everyone(403, staff=201), {"credits": "5"},
          staff_names_account=False),
    Route("GET", "/api/v1/apikeys", _everyone(200)),
    Route("POST", "/api/v1/apikeys", _everyone(201), {"name": "more"}, staff_names_account=False),
    Route("DELETE", "/api/v1/apikeys/{spare_key}", _everyone(404, owner=204, staff=204),
          staff_names_account=False),
    Route("GET", "/api/v1/billing/report", _everyone(200, member=403)),
    Route("GET", "/api/v1/billing/report?account=acme", _everyone(200, member=403, other_owner=403),
          staff_names_account=False),
    Route("GET", "/api/v1/outbox", _everyone(200)),
    Route("POST", "/api/v1/builder/proposals", _everyone(200, member=403),
          {"description": "every day at 9:00 clean up"}),
    Route("POST", "/api/v1/builder/proposals/apply", _everyone(422, member=403),
          {"proposal": {"status": "question"}},
          note="the role is checked before the proposal: members never reach validation"),
    Route("GET", "/api/v1/data/orders", _everyone(200)),
    Route("GET", "/api/v1/data/orders/{record}", _everyone(200, other_owner=404)),
    Route("POST", "/api/v1/data/orders", _everyone(201, member=403), {"number": "B-1"}),
    Route("PATCH", "/api/v1/data/orders/{record}", _everyone(200, member=403, other_owner=404),
          {"paid": True}),
    Route("DELETE", "/api/v1/data/orders/{record}", _everyone(204, member=403, other_owner=404, owner=404)),
]  # fmt: skip


@pytest.fixture
def world(db: Database, cast: Cast) -> World:
    with db.session() as session:
        acme = session.scalars(select(Account).where(Account.slug == "acme")).one()
        digest = session.scalars(select(App).where(App.slug == "order-digest")).one()
        installation = session.scalars(
            select(Installation).where(Installation.account_id == acme.id, Installation.app_id == digest.id)
        ).one()
        box = SecretBox(get_settings().secret_key)
        set_variable(session, installation.id, "REGION", World.variable_value)
        set_secret(session, box, installation.id, "ACME_TOKEN", World.slot_secret)
        execution = Execution(
            app_id=digest.id, job="daily_summary", account_id=acme.id, source="schedule",
            scheduled_for=get_now(), status="succeeded", logs="acme's private log line",
        )  # fmt: skip
        session.add(execution)
        session.add(
            Message(
                idempotency_key="acme-mail", account_id=acme.id, channel="email", transport="outbox",
                recipient="owner@acme.test", subject="Acme's digest", body="acme's orders", status="sent",
            )
        )  # fmt: skip
        record = Collections(session, acme.id)["orders"].insert({"number": "A-1", "total_cents": 500})
        owner = session.scalars(select(User).where(User.email == cast.owner.email)).one()
        spare, _ = apikeys.create_key(session, owner, "spare")
        session.commit()
        return World(execution=execution.id, record=record, spare_key=spare.id)


def get_now() -> Any:
    from tickwork import clock

    return clock.now()


def _headers(cast: Cast, caller: str) -> dict[str, str]:
    if caller == "no_key":
        return {}
    if caller == "bad_key":
        return BAD_KEY
    return getattr(cast, caller).headers


def _url(route: Route, world: World, caller: str) -> str:
    path = route.path.format(execution=world.execution, record=world.record, spare_key=world.spare_key)
    if caller == "staff" and route.staff_names_account:
        path += ("&" if "?" in path else "?") + "account=acme"
    return path


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_each_caller_gets_exactly_what_its_role_allows(
    route: Route, client: FlaskClient, cast: Cast, world: World
) -> None:
    for caller in ("no_key", "bad_key", "other_owner", "member", "staff", "owner"):
        answer = client.open(
            _url(route, world, caller), method=route.method, headers=_headers(cast, caller), json=route.body
        )
        expected = route.expected[caller]
        assert answer.status_code == expected, (caller, answer.get_data(as_text=True))
        if answer.status_code >= 400:
            error = answer.get_json()["error"]
            assert error["code"] and error["message"]
        if caller in ("no_key", "bad_key"):
            assert "acme" not in answer.get_data(as_text=True)


def test_staff_must_name_the_account_for_account_scoped_routes(client: FlaskClient, cast: Cast) -> None:
    answer = client.get("/api/v1/apps", headers=cast.staff.headers)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["code"] == "account_required"


def test_the_other_accounts_owner_sees_nothing_of_acme(client: FlaskClient, cast: Cast, world: World) -> None:
    """Everything B's owner can list is B's own: no execution, message, record, variable or secret of A's."""
    headers = cast.other_owner.headers
    seen = "".join(
        client.get(path, headers=headers).get_data(as_text=True)
        for path in (
            "/api/v1/apps",
            "/api/v1/apps/order-digest",
            "/api/v1/apps/order-digest/settings",
            "/api/v1/executions",
            "/api/v1/account",
            "/api/v1/apikeys",
            "/api/v1/billing/report?by=kind",
            "/api/v1/outbox",
            "/api/v1/data/orders",
        )
    )
    for secret_of_acme in ("acme", "A-1", World.variable_value, World.slot_secret, "REGION", "ACME_TOKEN"):
        assert secret_of_acme not in seen
    assert '"account":"globex"' in seen.replace(" ", "")


def test_secrets_are_write_only(client: FlaskClient, cast: Cast, world: World, db: Database) -> None:
    answer = client.get("/api/v1/apps/order-digest/settings", headers=cast.owner.headers)
    assert answer.get_json() == {"variables": {"REGION": World.variable_value}, "secrets": ["ACME_TOKEN"]}
    put = client.put(
        "/api/v1/apps/order-digest/secrets/TOKEN", json={"value": "t0ken"}, headers=cast.owner.headers
    )
    assert put.get_json() == {"name": "TOKEN", "kind": "secret"}
    with db.session() as session:
        stored = {row.name: row for row in list_settings(session, _acme_installation(session))}
    assert stored["TOKEN"].value is None  # listings never carry a secret's value


def _acme_installation(session: Any) -> int:
    query = (
        select(Installation.id)
        .join(Account, Account.id == Installation.account_id)
        .join(App, App.id == Installation.app_id)
        .where(Account.slug == "acme", App.slug == "order-digest")
    )
    return int(session.scalar(query))


def test_a_revoked_key_is_refused_at_once(client: FlaskClient, cast: Cast, world: World) -> None:
    assert client.get("/api/v1/account", headers=cast.owner.headers).status_code == 200
    keys = client.get("/api/v1/apikeys", headers=cast.owner.headers).get_json()["keys"]
    own = next(key for key in keys if key["name"] == "owner key")
    assert client.delete(f"/api/v1/apikeys/{own['id']}", headers=cast.owner.headers).status_code == 204
    refused = client.get("/api/v1/account", headers=cast.owner.headers)
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "unauthenticated"


def test_x_api_key_header_is_accepted(client: FlaskClient, cast: Cast) -> None:
    answer = client.get("/api/v1/account", headers={"X-API-Key": cast.member.key})
    assert answer.status_code == 200
    assert answer.get_json()["slug"] == "acme"
