"""The JSON API doing its jobs: one schedule switch for API, CLI and spawner; keys from the CLI;
the data API filling an app's collections; sign-in protections; health and metrics.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis
from click.testing import CliRunner, Result
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import Database
from tests.web_fixtures import PASSWORD, Cast, sign_in
from tickwork.cli import main
from tickwork.data import Collections
from tickwork.models import Account, App, Execution
from tickwork.queues import job_queue
from tickwork.spawner.loop import simulate
from tickwork.web import throttle

EIGHT_AM = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)  # 8:00 Eastern, when order-digest runs


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


def spawned_digests(db: Database, redis_conn: redis.Redis, slot: datetime) -> set[str]:
    """Account slugs the spawner queues order-digest for at ``slot``."""
    for _ in simulate(db.sessions, redis_conn, slot, slot.replace(minute=1)):
        pass
    with db.session() as session:
        app_id = session.scalar(select(App.id).where(App.slug == "order-digest"))
        slugs = {account.id: account.slug for account in session.scalars(select(Account))}
    queued = [job_id for job_id in job_queue(redis_conn).job_ids if job_id.startswith(f"s{app_id}-")]
    redis_conn.delete(job_queue(redis_conn).key)
    return {
        slugs[int(job_id.split("-")[2])] for job_id in queued if job_id.endswith(slot.strftime("%Y%m%d%H%M"))
    }


def test_the_api_switch_is_the_switch_the_cli_and_the_spawner_read(
    client: FlaskClient, cast: Cast, db: Database, redis_conn: redis.Redis
) -> None:
    assert spawned_digests(db, redis_conn, EIGHT_AM) == {"acme", "globex"}

    answer = client.patch(
        "/api/v1/apps/order-digest", json={"schedule_status": "off"}, headers=cast.owner.headers
    )
    assert answer.status_code == 200 and answer.get_json()["schedule_status"] == "off"
    assert spawned_digests(db, redis_conn, EIGHT_AM.replace(day=25)) == {"globex"}  # only acme's switch moved

    resumed = invoke("apps", "resume", "order-digest", "--account", "acme")
    assert resumed.exit_code == 0, resumed.output
    shown = client.get("/api/v1/apps/order-digest", headers=cast.member.headers).get_json()
    assert shown["schedule_status"] == "on" and shown["runs"] is True
    assert spawned_digests(db, redis_conn, EIGHT_AM.replace(day=26)) == {"acme", "globex"}

    assert invoke("apps", "pause", "order-digest").exit_code == 0  # the platform-wide switch
    shown = client.get("/api/v1/apps/order-digest", headers=cast.owner.headers).get_json()
    assert (shown["schedule_status"], shown["platform_enabled"], shown["runs"]) == ("on", False, False)
    assert spawned_digests(db, redis_conn, EIGHT_AM.replace(day=27)) == set()
    staff_switch = client.patch(
        "/api/v1/apps/order-digest", json={"platform_enabled": True}, headers=cast.staff.headers
    )
    assert staff_switch.get_json() == {"slug": "order-digest", "platform_enabled": True}
    assert spawned_digests(db, redis_conn, EIGHT_AM.replace(day=28)) == {"acme", "globex"}


def test_a_key_made_by_the_cli_acts_as_its_user_in_its_account(client: FlaskClient, cast: Cast) -> None:
    created = invoke("users", "create", "new@acme.test", "--account", "acme", "--role", "member",
                     input=f"{PASSWORD}\n{PASSWORD}\n")  # fmt: skip
    assert created.exit_code == 0, created.output
    made = invoke("apikeys", "create", "--user", "new@acme.test", "--name", "reporting")
    assert made.exit_code == 0, made.output
    key = made.stdout.strip().splitlines()[-1]
    answer = client.get("/api/v1/account", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200 and answer.get_json()["slug"] == "acme"
    refused = client.patch("/api/v1/apps/order-digest", json={"schedule_status": "off"},
                           headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    assert refused.status_code == 403  # a member's key can look, not switch

    listed = invoke("apikeys", "list", "--user", "new@acme.test")
    assert "reporting" in listed.stdout and key not in listed.stdout  # never shown again
    key_id = listed.stdout.splitlines()[1].split()[0]
    assert invoke("apikeys", "revoke", key_id).exit_code == 0
    assert client.get("/api/v1/account", headers={"Authorization": f"Bearer {key}"}).status_code == 401


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("users", "create", "x@acme.test", "--staff", "--account", "acme", "--password", PASSWORD),
         "--staff"),
        (("users", "create", "x@acme.test", "--password", PASSWORD), "--account and --role"),
        (("users", "create", "not-an-email", "--staff", "--password", PASSWORD), "not an email"),
        (("users", "create", "x@acme.test", "--staff", "--password", "short"), "at least 8"),
        (("users", "create", "owner@acme.test", "--account", "acme", "--role", "owner",
          "--password", PASSWORD),
         "exists already"),
        (("users", "create", "x@acme.test", "--account", "nope", "--role", "owner",
          "--password", PASSWORD),
         "no account"),
        (("apikeys", "create", "--user", "nobody@acme.test"), "no user"),
        (("apikeys", "revoke", "999"), "no API key"),
    ],
)  # fmt: skip
def test_bad_cli_input_is_refused_with_a_message(cast: Cast, args: tuple[str, ...], says: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert says in result.stderr
    assert "Traceback" not in result.output


def test_the_data_api_fills_the_collections_jobs_read(client: FlaskClient, cast: Cast, db: Database) -> None:
    appointments = [
        {"customer": "Ada", "phone": "+15550100007", "starts_at": "2026-11-25T15:00:00Z"},
        {"customer": "Grace", "phone": "+15550100008", "starts_at": "2026-11-25T16:00:00Z"},
    ]
    answer = client.post(
        "/api/v1/data/appointments", json={"records": appointments}, headers=cast.owner.headers
    )
    assert answer.status_code == 201
    ids = answer.get_json()["ids"]
    with db.session() as session:
        acme = session.scalar(select(Account.id).where(Account.slug == "acme"))
        globex = session.scalar(select(Account.id).where(Account.slug == "globex"))
        seen_by_jobs = Collections(session, acme)["appointments"].find(order_by="starts_at")
        assert [record["customer"] for record in seen_by_jobs] == ["Ada", "Grace"]
        assert Collections(session, globex)["appointments"].count() == 0

    found = client.get('/api/v1/data/appointments?where={"customer": "Grace"}', headers=cast.member.headers)
    assert [record["id"] for record in found.get_json()["records"]] == [ids[1]]
    patched = client.patch(
        f"/api/v1/data/appointments/{ids[0]}", json={"reminded": True}, headers=cast.owner.headers
    )
    assert patched.get_json()["reminded"] is True and patched.get_json()["customer"] == "Ada"
    bad = client.post("/api/v1/data/appointments", json={"id": 5}, headers=cast.owner.headers)
    assert bad.status_code == 422 and "set by the platform" in bad.get_json()["error"]["message"]
    assert client.get("/api/v1/data/Bad-Name", headers=cast.owner.headers).status_code == 422


def test_run_now_is_recorded_and_queued_for_the_callers_account(
    client: FlaskClient, cast: Cast, db: Database, redis_conn: redis.Redis
) -> None:
    answer = client.post(
        "/api/v1/apps/order-digest/jobs/daily_summary/run", json={}, headers=cast.member.headers
    )
    assert answer.status_code == 202
    execution_id = answer.get_json()["execution"]
    detail = client.get(f"/api/v1/executions/{execution_id}", headers=cast.owner.headers).get_json()
    assert (detail["source"], detail["status"], detail["job"]) == ("api", "queued", "daily_summary")
    assert f"e{execution_id}" in job_queue(redis_conn).job_ids
    with db.session() as session:
        execution = session.get(Execution, execution_id)
        assert execution is not None
        assert session.get(Account, execution.account_id).slug == "acme"  # type: ignore[union-attr]
    missing = client.post("/api/v1/apps/order-digest/jobs/nope/run", json={}, headers=cast.owner.headers)
    assert missing.status_code == 404


def test_sign_in_is_throttled_after_repeated_failures(client: FlaskClient, cast: Cast) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    for _ in range(throttle.MAX_FAILURES):
        wrong = client.post(
            "/login", data={"email": cast.owner.email, "password": "wrong", "csrf_token": token}
        )
        assert wrong.status_code == 401
    blocked = client.post(
        "/login", data={"email": cast.owner.email, "password": PASSWORD, "csrf_token": token}
    )
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    sign_in(client, cast.member.email)  # another person is not locked out


def test_the_session_cookie_is_httponly_and_samesite(client: FlaskClient, cast: Cast) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = client.post(
        "/login", data={"email": cast.owner.email, "password": PASSWORD, "csrf_token": token}
    )
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_login_without_the_csrf_token_is_refused(client: FlaskClient, cast: Cast) -> None:
    answer = client.post("/login", data={"email": cast.owner.email, "password": PASSWORD})
    assert answer.status_code == 400


def test_health_and_metrics(client: FlaskClient, cast: Cast, db: Database, redis_conn: redis.Redis) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    spawned_digests(db, redis_conn, EIGHT_AM)
    text = client.get("/metrics").get_data(as_text=True)
    for name in (
        "tickwork_spawner_last_tick_lag_seconds",
        "tickwork_spawner_last_tick_due",
        "tickwork_spawner_last_tick_enqueued",
        "tickwork_queue_depth",
        "tickwork_workers",
        'tickwork_executions_last_hour{status="succeeded"}',
        "tickwork_credits_charged_today",
    ):
        assert name in text
    # At 8:00 both accounts' digest and hourly reminder are queued.
    assert "tickwork_spawner_last_tick_enqueued 4.0" in text


DIGEST_REQUEST = (
    "add a background job that runs every morning at 8 AM and sends an email summary of all orders "
    "from the previous day to the account owner"
)


def test_the_builder_api_proposes_then_applies_a_custom_app_that_starts_off(
    client: FlaskClient, cast: Cast
) -> None:
    proposed = client.post(
        "/api/v1/builder/proposals", json={"description": DIGEST_REQUEST}, headers=cast.owner.headers
    )
    assert proposed.status_code == 200, proposed.get_json()
    proposal = proposed.get_json()
    assert (proposal["status"], proposal["schedules"], proposal["runs_per_day"]) == ("ok", ["8:00"], 1)

    member = client.post(
        "/api/v1/builder/proposals", json={"description": DIGEST_REQUEST}, headers=cast.member.headers
    )
    assert member.status_code == 403

    applied = client.post(
        "/api/v1/builder/proposals/apply",
        json={"proposal": proposal, "description": DIGEST_REQUEST, "app_name": "Morning digest"},
        headers=cast.owner.headers,
    )
    assert applied.status_code == 201, applied.get_json()
    result = applied.get_json()
    assert result["created"] is True and result["schedule_status"] == "off"

    app = client.get(f"/api/v1/apps/{result['app']}", headers=cast.owner.headers).get_json()
    assert (app["kind"], app["schedule_status"], app["jobs"][0]["schedules"]) == ("custom", "off", ["8:00"])
    assert client.get(f"/api/v1/apps/{result['app']}", headers=cast.other_owner.headers).status_code == 404

    tampered = {
        **proposal,
        "job": {**proposal["job"], "code": "import os\n\ndef daily(ctx, **params):\n    os.remove('x')\n"},
    }
    refused = client.post(
        "/api/v1/builder/proposals/apply", json={"proposal": tampered}, headers=cast.owner.headers
    )
    assert refused.status_code == 422
    assert "os" in refused.get_json()["error"]["message"]


def test_staff_grant_credits_that_may_expire(client: FlaskClient, cast: Cast) -> None:
    before = client.get("/api/v1/account", headers=cast.owner.headers).get_json()["balance"]
    answer = client.post(
        "/api/v1/accounts/acme/grants",
        json={"credits": "25.5", "note": "trial", "key": "trial-1", "expires": "2099-01-01T00:00:00Z"},
        headers=cast.staff.headers,
    )
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["granted"] is True and answer.get_json()["credits"] == "25.500000"
    again = client.post("/api/v1/accounts/acme/grants", json={"credits": "25.5", "key": "trial-1"},
                        headers=cast.staff.headers)  # fmt: skip
    assert again.get_json()["granted"] is False  # the same key grants once
    after = client.get("/api/v1/account", headers=cast.owner.headers).get_json()["balance"]
    assert float(after) - float(before) == 25.5
    for bad in (
        {"credits": "lots"},
        {"credits": "5", "expires": "2001-01-01T00:00:00Z"},
        {"credits": "5", "expires": "soon"},
    ):
        refused = client.post("/api/v1/accounts/acme/grants", json=bad, headers=cast.staff.headers)
        assert refused.status_code == 422, bad
