"""The admin panel's pages, through Flask's test client, on both database lanes.

Each page renders for the roles that may see it, with the account's own content; every form
needs its CSRF token; the page's schedule switch is the row the API reports and the spawner
reads; members cannot switch; another account's things are 403 or 404.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from billing.ledger import Posting, balance_of, post
from tests.conftest import Database
from tests.web_fixtures import PASSWORD, Cast, csrf_of, sign_in
from tickwork import clock
from tickwork.executions import slot_key
from tickwork.models import Account, ApiKey, App, AppVersion, Execution, Installation, Message, User
from tickwork.queues import job_queue
from tickwork.schedule import EASTERN
from tickwork.spawner.tick import Spawner
from tickwork.web.charts import nice_ceiling, stacked_by_day

# 8:00 AM Eastern on Dec 1 and Dec 2, 2026: order-digest's daily_summary is due.
DIGEST_SLOT = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
PAGES = ("/", "/apps", "/apps/order-digest", "/executions", "/account", "/billing", "/outbox")


def text(client: FlaskClient, path: str, status: int = 200) -> str:
    answer = client.get(path)
    body = answer.get_data(as_text=True)
    assert answer.status_code == status, f"{path}: {answer.status_code}\n{body[:2000]}"
    return body


def send(
    client: FlaskClient, path: str, data: dict[str, str] | None = None, *, token: bool = True
) -> TestResponse:
    form = dict(data or {})
    if token:
        form["csrf_token"] = csrf_of(client, "/")
    return client.post(path, data=form)


def ids(db: Database) -> dict[str, int]:
    with db.session() as session:
        found = {slug: id_ for id_, slug in session.execute(select(Account.id, Account.slug))}
        found |= {slug: id_ for id_, slug in session.execute(select(App.id, App.slug))}
        return found


def installation_status(db: Database, account: str, app: str) -> str:
    with db.session() as session:
        return session.scalars(
            select(Installation.schedule_status)
            .join(Account, Account.id == Installation.account_id)
            .join(App, App.id == Installation.app_id)
            .where(Account.slug == account, App.slug == app)
        ).one()


def add_execution(
    db: Database, account: str, app: str, job: str, status: str = "succeeded", **extra: object
) -> int:
    known = ids(db)
    with db.session() as session:
        execution = Execution(
            app_id=known[app], job=job, account_id=known[account], source="schedule",
            scheduled_for=extra.pop("at", clock.now()), status=status, **extra,
        )  # fmt: skip
        session.add(execution)
        session.commit()
        return execution.id


# --- who sees what ----------------------------------------------------------------------------


def test_signed_out_every_page_sends_you_to_sign_in(client: FlaskClient, cast: Cast) -> None:
    for path in PAGES:
        answer = client.get(path)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"], path


def test_billing_and_the_ledger_are_the_owners(client: FlaskClient, cast: Cast) -> None:
    """DESIGN.md gives billing to owners; members see the balance, not the ledger or the charts."""
    sign_in(client, cast.member.email)
    text(client, "/billing", status=403)
    text(client, "/billing.csv", status=403)
    account = text(client, "/account")
    assert "Balance" in account and "Ledger" not in account
    assert 'href="/billing"' not in text(client, "/")


@pytest.mark.parametrize("role", ["owner", "member"])
def test_every_page_renders_for_owner_and_member_with_their_account(
    client: FlaskClient, cast: Cast, role: str
) -> None:
    sign_in(client, getattr(cast, role).email)
    for path in PAGES:
        if path == "/billing" and role == "member":
            continue  # billing is the owners' (below)
        body = text(client, path)
        assert "Acme" in body and "Globex" not in body, path
        assert 'aria-label="Main"' in body
    dashboard = text(client, "/")
    for label in (
        "Last tick",
        "Lag",
        "Due / enqueued",
        "Queue depth",
        "Workers",
        "Failures today",
        "Balance",
    ):
        assert label in dashboard
    apps = text(client, "/apps")
    assert "Order digest" in apps and "Every day at 8:00 AM" in apps
    assert apps.count('<ol class="runs">') == 3  # one per job of the three installed apps
    assert "Catalog" in apps and "Feedback" in apps  # not installed: offered from the catalog
    assert "Projected: 2 credits a day" in apps
    account = text(client, "/account")
    assert "owner@acme.test" in account and "member@acme.test" in account and "1,000" in account
    toggles = 'name="schedule_status" value="off"'
    if role == "owner":
        assert toggles in apps and "Install</button>" in apps and "Create API key" in account
    else:
        assert toggles not in apps and "Only an owner can switch it." in apps
        assert "Install</button>" not in apps and "Create API key" not in account


def test_next_runs_are_listed_in_eastern_time(client: FlaskClient, cast: Cast) -> None:
    sign_in(client, cast.owner.email)
    body = text(client, "/apps/order-digest")
    runs = re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', body)
    assert len(runs) == 5
    for iso, shown in runs:
        instant = datetime.fromisoformat(iso)
        assert instant.utcoffset() in (timedelta(hours=-5), timedelta(hours=-4))
        assert instant.hour == 8 and instant.minute == 0 and "8:00 AM" in shown


def test_staff_pick_the_account_and_see_every_account(client: FlaskClient, cast: Cast) -> None:
    sign_in(client, cast.staff.email)
    answer = client.get("/apps")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/accounts")
    accounts = text(client, "/accounts")
    assert "Acme" in accounts and "Globex" in accounts and "Grant" in accounts
    assert "Platform-wide" in text(client, "/platform")
    globex = text(client, "/apps?account=globex")
    assert "Globex" in globex and 'name="account" value="globex"' in globex
    for path in PAGES:  # remembered: no ?account= needed any more
        assert "Globex" in text(client, path), path
    assert "Acme" in text(client, "/billing?account=acme")
    assert "Acme" in text(client, "/outbox")  # the last choice sticks
    text(client, "/apps?account=nope", 404)


def test_owner_and_member_cannot_reach_staff_pages_or_other_accounts(client: FlaskClient, cast: Cast) -> None:
    sign_in(client, cast.member.email)
    text(client, "/platform", 403)
    assert client.get("/accounts").status_code == 302  # to their own account page
    for path in PAGES:
        joiner = "&" if "?" in path else "?"
        text(client, f"{path}{joiner}account=globex", 403)
    sign_in(client, cast.owner.email)
    assert send(client, "/accounts/acme/grants", {"credits": "5"}).status_code == 403
    assert send(client, "/platform/order-digest", {"enabled": "off"}).status_code == 403


def test_another_accounts_execution_and_custom_app_are_not_found(
    db: Database, client: FlaskClient, cast: Cast
) -> None:
    theirs = add_execution(db, "globex", "order-digest", "daily_summary", logs="globex private log")
    with db.session() as session:
        globex = session.scalars(select(Account).where(Account.slug == "globex")).one()
        custom = App(slug="globex-special", kind="custom", account_id=globex.id, name="Globex special")
        session.add(custom)
        session.flush()
        version = AppVersion(app_id=custom.id, number=1, manifest="", code="", checksum="0" * 64)
        session.add(version)
        session.flush()
        custom.active_version_id = version.id
        session.add(Installation(account_id=globex.id, app_id=custom.id))
        session.commit()
    sign_in(client, cast.owner.email)
    assert "globex private log" not in text(client, f"/executions/{theirs}", 404)
    assert "Globex special" not in text(client, "/apps")
    text(client, "/apps/globex-special", 404)
    assert send(client, "/apps/globex-special/status", {"schedule_status": "off"}).status_code == 404
    assert send(client, "/apps/globex-special/jobs/x/run").status_code == 404
    assert str(theirs) not in re.findall(r"/executions/(\d+)", text(client, "/executions"))
    sign_in(client, cast.other_owner.email)
    assert "Globex special" in text(client, "/apps")
    assert "globex private log" in text(client, f"/executions/{theirs}")
    sign_in(client, cast.staff.email)
    text(client, "/apps?account=acme")
    staff_view = text(client, f"/executions/{theirs}")  # staff open any account's execution
    assert "globex private log" in staff_view and 'name="account" value="globex"' in staff_view


# --- the schedule switch ----------------------------------------------------------------------


def tick_queues_digest(
    db: Database, redis_conn: redis.Redis, spawner: Spawner, slot: datetime
) -> dict[str, bool]:
    """Run one spawner tick; whether it queued order-digest's run for each account."""
    spawner.tick(slot)
    queued = set(job_queue(redis_conn).job_ids)
    known = ids(db)
    return {
        account: slot_key(known["order-digest"], "daily_summary", known[account], slot) in queued
        for account in ("acme", "globex")
    }


def test_the_page_switch_is_the_switch_the_api_and_the_spawner_read(
    db: Database, redis_conn: redis.Redis, client: FlaskClient, cast: Cast
) -> None:
    sign_in(client, cast.owner.email)
    answer = send(client, "/apps/order-digest/status", {"schedule_status": "off", "next": "/apps"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/apps"
    page = text(client, "/apps")
    assert "Order digest is off" in page  # the flash message
    assert re.search(r'id="status-order-digest" data-status="off">Off<', page)
    assert installation_status(db, "acme", "order-digest") == "off"
    api = client.get("/api/v1/apps/order-digest", headers=cast.owner.headers).get_json()
    assert api["schedule_status"] == "off" and api["runs"] is False

    spawner = Spawner(db.sessions, redis_conn, owner="test-pages")
    assert tick_queues_digest(db, redis_conn, spawner, DIGEST_SLOT) == {"acme": False, "globex": True}

    send(client, "/apps/order-digest/status", {"schedule_status": "on"})
    assert re.search(r'id="status-order-digest" data-status="on">On<', text(client, "/apps"))
    api = client.get("/api/v1/apps/order-digest", headers=cast.owner.headers).get_json()
    assert api["schedule_status"] == "on" and api["runs"] is True
    next_day = DIGEST_SLOT + timedelta(days=1)
    assert tick_queues_digest(db, redis_conn, spawner, next_day) == {"acme": True, "globex": True}
    dashboard = text(client, "/")
    assert "Wed Dec 2, 2026 8:00 AM" in dashboard  # the last tick's slot, in Eastern time
    queued = job_queue(redis_conn).count
    assert re.search(rf'id="stat-queue">.*?<span class="value">{queued}</span>', dashboard, re.S)


def test_an_api_switch_shows_on_the_page(db: Database, client: FlaskClient, cast: Cast) -> None:
    answer = client.patch(
        "/api/v1/apps/nightly-cleanup", json={"schedule_status": "off"}, headers=cast.owner.headers
    )
    assert answer.status_code == 200
    sign_in(client, cast.member.email)
    assert re.search(r'id="status-nightly-cleanup" data-status="off">Off<', text(client, "/apps"))


def test_members_cannot_switch_and_forms_need_their_csrf_token(
    db: Database, client: FlaskClient, cast: Cast
) -> None:
    sign_in(client, cast.member.email)
    answer = send(client, "/apps/order-digest/status", {"schedule_status": "off"})
    assert answer.status_code == 403 and "only an account owner" in answer.get_data(as_text=True)
    assert installation_status(db, "acme", "order-digest") == "on"

    sign_in(client, cast.owner.email)
    for path, form in [
        ("/apps/order-digest/status", {"schedule_status": "off"}),
        ("/apps/order-digest/settings", {"kind": "variable", "name": "X", "value": "1"}),
        ("/apps/order-digest/jobs/daily_summary/run", {}),
        ("/account/keys", {"name": "k"}),
        ("/logout", {}),
    ]:
        answer = send(client, path, form, token=False)
        assert answer.status_code == 400, path
        assert "reload the page" in answer.get_data(as_text=True)
        forged = client.post(path, data={**form, "csrf_token": "forged"})
        assert forged.status_code == 400, path
    assert installation_status(db, "acme", "order-digest") == "on"
    with db.session() as session:
        assert session.scalar(select(Execution.id)) is None
    assert "owner@acme.test" in text(client, "/")  # still signed in: the logout was refused


def test_staff_switch_an_app_off_platform_wide(db: Database, client: FlaskClient, cast: Cast) -> None:
    sign_in(client, cast.staff.email)
    answer = send(client, "/platform/order-digest", {"enabled": "off"})
    assert answer.status_code == 302
    assert "Order digest is off for every account" in text(client, "/platform")
    sign_in(client, cast.owner.email)
    page = text(client, "/apps")
    assert re.search(r'id="status-order-digest" data-status="on">Off platform-wide<', page)
    assert client.get("/api/v1/apps/order-digest", headers=cast.owner.headers).get_json()["runs"] is False


def test_staff_switch_an_accounts_installation(db: Database, client: FlaskClient, cast: Cast) -> None:
    sign_in(client, cast.staff.email)
    text(client, "/apps?account=acme")
    answer = send(client, "/apps/order-digest/status", {"schedule_status": "off", "account": "globex"})
    assert answer.status_code == 302
    assert installation_status(db, "globex", "order-digest") == "off"
    assert installation_status(db, "acme", "order-digest") == "on"


# --- apps: install, variables and secrets, run now --------------------------------------------


def test_owner_installs_from_the_catalog(db: Database, client: FlaskClient, cast: Cast) -> None:
    sign_in(client, cast.owner.email)
    answer = send(client, "/apps/inventory-sync/install", {"schedule_status": "off"})
    assert answer.status_code == 302
    assert installation_status(db, "acme", "inventory-sync") == "off"
    assert "installed and off" in text(client, "/apps/inventory-sync")
    send(client, "/apps/inventory-sync/install")
    assert "installed already" in text(client, "/apps")
    sign_in(client, cast.member.email)
    assert send(client, "/apps/feedback-insights/install").status_code == 403


def test_variables_are_shown_and_secrets_are_write_only(
    db: Database, client: FlaskClient, cast: Cast
) -> None:
    sign_in(client, cast.owner.email)
    send(client, "/apps/order-digest/settings", {"kind": "variable", "name": "TOP_N", "value": "7"})
    send(
        client,
        "/apps/order-digest/settings",
        {"kind": "secret", "name": "SHOP_TOKEN", "value": "hunter2-secret"},
    )
    page = text(client, "/apps/order-digest")
    assert "TOP_N" in page and ">7<" in page
    assert "SHOP_TOKEN" in page and "hunter2-secret" not in page
    settings = client.get("/api/v1/apps/order-digest/settings", headers=cast.owner.headers).get_json()
    assert settings == {"variables": {"TOP_N": "7"}, "secrets": ["SHOP_TOKEN"]}
    send(client, "/apps/order-digest/settings", {"kind": "variable", "name": "bad name", "value": "x"})
    assert "upper-case letters" in text(client, "/apps/order-digest")
    send(client, "/apps/order-digest/settings/TOP_N/delete")
    assert ">7<" not in text(client, "/apps/order-digest")

    sign_in(client, cast.member.email)
    member_view = text(client, "/apps/order-digest")
    assert "SHOP_TOKEN" in member_view and "Set secret" not in member_view
    answer = send(
        client, "/apps/order-digest/settings", {"kind": "secret", "name": "SHOP_TOKEN", "value": "x"}
    )
    assert answer.status_code == 403
    assert send(client, "/apps/order-digest/settings/SHOP_TOKEN/delete").status_code == 403
    sign_in(client, cast.other_owner.email)
    assert "SHOP_TOKEN" not in text(client, "/apps/order-digest")


def test_a_member_runs_a_job_now(
    db: Database, redis_conn: redis.Redis, client: FlaskClient, cast: Cast
) -> None:
    sign_in(client, cast.member.email)
    answer = send(client, "/apps/nightly-cleanup/jobs/purge_old_records/run")
    assert answer.status_code == 302
    execution_id = int(answer.headers["Location"].rsplit("/", 1)[1])
    with db.session() as session:
        execution = session.get(Execution, execution_id)
        assert execution is not None and execution.source == "manual" and execution.status == "queued"
    assert str(execution_id) in job_queue(redis_conn).job_ids[-1] or job_queue(redis_conn).count == 1
    page = text(client, f"/executions/{execution_id}")
    assert "purge_old_records" in page and "queued as execution" in page and "manual" in page
    assert send(client, "/apps/nightly-cleanup/jobs/no_such_job/run").status_code == 404
    assert send(client, "/apps/inventory-sync/jobs/sync/run").status_code == 409  # not installed
    sign_in(client, cast.other_owner.email)
    text(client, f"/executions/{execution_id}", 404)


# --- executions -------------------------------------------------------------------------------


@pytest.fixture
def midday() -> Iterator[None]:
    """The clock at noon Eastern, so "today" holds the runs a test dates hours ago (at 00:30
    Eastern, a failure an hour ago is yesterday's, and "Failures today" rightly leaves it out)."""
    with clock.frozen_at(datetime(2026, 11, 23, 17, 0, tzinfo=UTC)):
        yield


def test_executions_filter_and_detail(db: Database, client: FlaskClient, cast: Cast, midday: None) -> None:
    now = clock.now()
    ok = add_execution(db, "acme", "order-digest", "daily_summary", at=now - timedelta(hours=3))
    failed = add_execution(
        db, "acme", "nightly-cleanup", "purge_old_records", "failed", at=now - timedelta(hours=1),
        error="Traceback: boom", logs="purging import_rows", result={"deleted": 3}, credits_charged=1_000_000,
    )  # fmt: skip
    add_execution(db, "globex", "nightly-cleanup", "purge_old_records", "failed", logs="globex")
    sign_in(client, cast.member.email)

    def listed(query: str) -> set[int]:
        return {int(n) for n in re.findall(r'href="/executions/(\d+)"', text(client, f"/executions?{query}"))}

    assert listed("") == {ok, failed}
    assert listed("status=failed") == {failed}
    assert listed("app=order-digest") == {ok}
    assert listed("job=purge_old_records") == {failed}
    since = (now - timedelta(hours=2)).astimezone(EASTERN).strftime("%Y-%m-%dT%H:%M")
    assert listed(f"since={since}") == {failed}
    assert listed(f"until={since}") == {ok}
    assert "left out" in text(client, "/executions?since=yesterday")
    text(client, "/executions?status=bogus", 422)
    detail = text(client, f"/executions/{failed}")
    for shown in ("Traceback: boom", "purging import_rows", '"deleted": 3', "Run now"):
        assert shown in detail, shown
    assert re.search(r'id="credits">1<', detail)
    dashboard = text(client, "/")
    assert re.search(r'id="stat-failures">.*?<span class="value">1</span>', dashboard, re.S)

    sign_in(client, cast.staff.email)
    every = text(client, "/executions?account=all")
    assert len(re.findall(r'href="/executions/(\d+)"', every)) == 3
    assert "globex" in every and "acme" in every
    assert {
        int(n) for n in re.findall(r'href="/executions/(\d+)"', text(client, "/executions?account=acme"))
    } == {
        ok,
        failed,
    }


# --- account, keys, users, grants -------------------------------------------------------------


def test_owner_creates_a_key_shown_once_and_revokes_it(db: Database, client: FlaskClient, cast: Cast) -> None:
    sign_in(client, cast.owner.email)
    answer = send(client, "/account/keys", {"name": "deploy script"})
    assert answer.status_code == 200
    plain = re.search(r'value="(tkw_[^"]+)"', answer.get_data(as_text=True))
    assert plain is not None
    key = plain.group(1)
    assert client.get("/api/v1/account", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    account = text(client, "/account")
    assert "deploy script" in account and key not in account and key[:12] in account
    with db.session() as session:
        key_id = session.scalars(select(ApiKey.id).where(ApiKey.name == "deploy script")).one()
    send(client, f"/account/keys/{key_id}/revoke")
    assert "is revoked" in text(client, "/account")
    assert client.get("/api/v1/account", headers={"Authorization": f"Bearer {key}"}).status_code == 401

    sign_in(client, cast.member.email)
    assert send(client, "/account/keys", {"name": "mine"}).status_code == 403
    with db.session() as session:
        owners_key = session.scalars(
            select(ApiKey.id).join(User).where(User.email == cast.owner.email, ApiKey.revoked_at.is_(None))
        ).first()
    assert send(client, f"/account/keys/{owners_key}/revoke").status_code == 404
    sign_in(client, cast.other_owner.email)
    assert send(client, f"/account/keys/{owners_key}/revoke").status_code == 404


def test_owner_adds_a_user(db: Database, client: FlaskClient, cast: Cast) -> None:
    sign_in(client, cast.owner.email)
    send(client, "/account/users", {"email": "new@acme.test", "role": "member", "password": PASSWORD})
    assert "new@acme.test can now sign in" in text(client, "/account")
    sign_in(client, "new@acme.test")
    assert "new@acme.test · member" in text(client, "/")
    assert (
        send(
            client, "/account/users", {"email": "x@acme.test", "role": "owner", "password": PASSWORD}
        ).status_code
        == 403
    )


def test_staff_grant_credits_once_per_form(db: Database, client: FlaskClient, cast: Cast) -> None:
    sign_in(client, cast.staff.email)
    form = {"credits": "250", "note": "welcome", "key": "grant:test-form-1"}
    assert send(client, "/accounts/acme/grants", form).status_code == 302
    assert "Granted 250" in text(client, "/accounts")
    send(client, "/accounts/acme/grants", form)
    assert "made already" in text(client, "/accounts")
    with db.session() as session:
        balance, _ = balance_of(session, ids(db)["acme"])
    assert balance == 1_250 * 1_000_000
    send(client, "/accounts/acme/grants", {"credits": "lots"})
    assert "number of credits" in text(client, "/accounts")
    assert "welcome" in text(client, "/account?account=acme")


# --- billing and outbox -----------------------------------------------------------------------


def charge(
    db: Database, account: str, app: str, job: str, credits: int, key: str, kind: str = "execution"
) -> None:
    with db.session() as session:
        post(session, Posting(key=key, account_id=ids(db)[account], kind=kind, amount=-credits * 1_000_000,
                              at=clock.now(), app=app, job=job))  # fmt: skip
        session.commit()


def test_billing_charts_top_jobs_and_csv(db: Database, client: FlaskClient, cast: Cast) -> None:
    for n in range(3):
        charge(db, "acme", "order-digest", "daily_summary", 2, f"t:digest:{n}")
    charge(db, "acme", "appointment-reminders", "send_reminders", 1, "t:sms:1", kind="sms")
    charge(db, "globex", "nightly-cleanup", "purge_old_records", 40, "t:globex:1")
    sign_in(client, cast.owner.email)
    page = text(client, "/billing")
    assert 'id="chart-by-app"' in page and 'id="chart-by-kind"' in page
    assert page.count("<svg") == 2 and "<script" not in page
    assert "order-digest 6 credits" in page  # a bar's title: Nov 22: order-digest 6 credits
    assert "appointment-reminders 1 credits" in page and "nightly-cleanup" not in page
    assert re.search(r'id="total-spent">7<', page)
    assert re.search(r'id="top-jobs">.*order-digest.*daily_summary.*appointment-reminders', page, re.S)
    answer = client.get("/billing.csv?by=job")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    lines = answer.get_data(as_text=True).strip().splitlines()
    assert lines[0] == "account,app,job,day,kind,count,credits"
    assert any(line.startswith("acme,order-digest,daily_summary,,,3,6.000000") for line in lines)
    assert not any("globex" in line or "nightly" in line for line in lines)
    empty = text(client, "/billing?from=2020-01-01&to=2020-01-31")
    assert "Nothing spent in this period" in empty
    assert "left out" in text(client, "/billing?from=junk")


def test_outbox_shows_the_accounts_messages_only(db: Database, client: FlaskClient, cast: Cast) -> None:
    known = ids(db)
    with db.session() as session:
        for account, channel, subject, body in [
            ("acme", "email", "Your order digest", "12 orders yesterday"),
            ("acme", "sms", None, "Reminder: your appointment tomorrow at 9:00 AM"),
            ("globex", "email", "Globex secret digest", "globex numbers"),
        ]:
            session.add(Message(
                idempotency_key=f"{account}-{channel}", account_id=known[account], channel=channel,
                transport="outbox", recipient="someone@example.test", subject=subject, body=body,
                status="kept",
            ))  # fmt: skip
        session.commit()
    sign_in(client, cast.member.email)
    page = text(client, "/outbox")
    assert "Your order digest" in page and "Reminder: your appointment" in page
    assert "Globex secret digest" not in page
    emails = text(client, "/outbox?channel=email")
    assert "Your order digest" in emails and "Reminder" not in emails
    text(client, "/outbox?channel=fax", 422)


# --- the chart layout -------------------------------------------------------------------------


def test_nice_ceilings() -> None:
    assert [nice_ceiling(v) for v in (0, 0.3, 1, 1.1, 3, 7, 24, 240)] == [1, 0.5, 1, 2, 5, 10, 25, 250]


def test_stacked_bars_fit_the_plot_and_group_small_series() -> None:
    first = date(2026, 11, 1)
    series = {first + timedelta(days=d): {f"app{n}": float(n + d) for n in range(10)} for d in range(5)}
    chart = stacked_by_day("t", series, first, first + timedelta(days=6))
    assert not chart.empty and len(chart.legend) == 8 and chart.legend[-1][0] == "other"
    bottom = chart.top + chart.plot_height
    for bar in chart.bars:
        assert chart.top - 0.01 <= bar.y and bar.y + bar.height <= bottom + 0.01
        assert chart.left <= bar.x and bar.x + bar.width <= chart.left + chart.plot_width + 0.01
    assert round(chart.total, 6) == sum(sum(day.values()) for day in series.values())
    assert stacked_by_day("t", {}, first, first).empty


# --- the builder ------------------------------------------------------------------------------


@pytest.fixture
def offline_builder(monkeypatch: pytest.MonkeyPatch) -> None:
    """The builder's grammar path: no model is asked."""
    from tickwork.settings import reset_settings

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    reset_settings()


def test_owner_builds_a_job_from_a_description(
    db: Database, client: FlaskClient, cast: Cast, offline_builder: None
) -> None:
    sign_in(client, cast.owner.email)
    assert "Describe the job" in text(client, "/builder")
    answer = send(
        client, "/builder", {"description": "every night at 2 AM delete records older than 60 days"}
    )
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert re.search(r'id="proposal-status">ok<', page)
    assert "Every day at 2:00 AM" in page and "2:00 AM" in page
    assert len(re.findall(r'<time datetime="[^"]+T02:00:00-0[45]:00">', page)) >= 3
    assert re.search(r'id="proposal-cost">\d+ credits? a run', page)
    assert "def clean_up_records" in page or "clean_up_records" in page
    proposal = re.search(r'name="proposal" value="([^"]+)"', page)
    assert proposal is not None
    payload = html.unescape(proposal.group(1))
    answer = send(
        client,
        "/builder/apply",
        {"proposal": payload, "description": "nightly purge", "app_name": "Acme tools"},
    )
    assert answer.status_code == 302
    detail = text(client, answer.headers["Location"])
    assert "Acme tools" in detail and "clean_up_records" in detail and "the app is off" in detail
    with db.session() as session:
        app = session.scalars(select(App).where(App.name == "Acme tools")).one()
        assert app.kind == "custom" and app.account_id == ids(db)["acme"]
    assert installation_status(db, "acme", app.slug) == "off"
    assert "Acme tools" in text(client, "/apps")

    tampered = payload.replace("clean_up_records", "x = __import__('os')")
    answer = send(client, "/builder/apply", {"proposal": tampered, "app_name": "Evil"})
    assert answer.status_code == 302 and "Not applied" in text(client, "/builder")

    question = send(client, "/builder", {"description": "sometimes do something"}).get_data(as_text=True)
    assert re.search(r'id="proposal-status">question<', question) and 'id="questions"' in question
    assert 'name="proposal"' not in question

    sign_in(client, cast.other_owner.email)
    assert "Acme tools" not in text(client, "/apps")
    text(client, f"/apps/{app.slug}", 404)
    sign_in(client, cast.member.email)
    text(client, "/builder", 403)
    assert send(client, "/builder/apply", {"proposal": payload}).status_code == 403
