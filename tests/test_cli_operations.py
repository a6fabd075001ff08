"""Operator commands against a real database: accounts, installs, pause/resume, execution listings.

Each command runs in-process through click's CliRunner on the ``db`` lane (DATABASE_URL
points at it), and a few as a real ``tickwork`` process. Bad input always means exit 2, a
one-line message on stderr and never a traceback.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import redis
from click.testing import CliRunner, Result
from sqlalchemy import select

from tickwork.catalog import sync_catalog
from tickwork.cli import main
from tickwork.models import Account, App, Execution, Installation

from .conftest import Database
from .process_helpers import FAULT_APPS, run

EXECUTION_FIELDS = {
    "id", "app", "job", "account", "source", "status",
    "skip_reason", "scheduled_for", "attempts", "duration_ms",
}  # fmt: skip


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def ok(*args: str) -> Result:
    result = invoke(*args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def refused(*args: str, says: str) -> Result:
    """The command exits 2 with ``says`` in a message on stderr, and no traceback anywhere."""
    result = invoke(*args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception  # not a crash
    assert says in result.stderr, result.stderr
    assert "Traceback" not in result.output
    return result


def create(name: str) -> int:
    return int(ok("accounts", "create", name).stdout.strip().splitlines()[-1])


@pytest.fixture
def catalog(db: Database) -> None:
    with db.session() as session:
        report = sync_catalog(session, FAULT_APPS)
        assert not report.broken, report.broken
        session.commit()


def account(db: Database, account_id: int) -> Account:
    with db.session() as session:
        found = session.get(Account, account_id)
    assert found is not None
    return found


def installation(db: Database, account_id: int, slug: str) -> Installation | None:
    with db.session() as session:
        return session.scalar(
            select(Installation)
            .join(App, App.id == Installation.app_id)
            .where(Installation.account_id == account_id, App.slug == slug)
        )


def app_enabled(db: Database, slug: str) -> bool:
    with db.session() as session:
        enabled = session.scalar(select(App.enabled).where(App.slug == slug))
    assert enabled is not None
    return enabled


# --- accounts create ---------------------------------------------------------------------------


def test_accounts_create_prints_the_id_last_and_gives_each_name_a_unique_slug(db: Database) -> None:
    first = ok("accounts", "create", "Acme Corp")
    first_id = int(first.stdout.strip().splitlines()[-1])
    assert "acme-corp" in first.stdout
    second_id, third_id = create("Acme Corp"), create("  ACME  corp! ")
    assert len({first_id, second_id, third_id}) == 3
    slugs = [account(db, i).slug for i in (first_id, second_id, third_id)]
    assert slugs == ["acme-corp", "acme-corp-2", "acme-corp-3"]
    assert [account(db, i).name for i in (first_id, second_id, third_id)] == [
        "Acme Corp", "Acme Corp", "ACME  corp!",
    ]  # fmt: skip
    assert account(db, create("!!!")).slug == "account"
    refused("accounts", "create", "   ", says="needs a name")
    refused("accounts", "create", "x" * 201, says="at most 200")


def test_accounts_create_three_times_with_a_very_long_name(db: Database) -> None:
    name = "A very long organization name " * 3
    ids = [create(name) for _ in range(3)]
    assert len({account(db, i).slug for i in ids}) == 3


# --- accounts install --------------------------------------------------------------------------


def test_accounts_install_by_id_or_slug_once_only(db: Database, catalog: None) -> None:
    acme, globex = create("Acme"), create("Globex")
    assert "installed tenant for acme" in ok("accounts", "install", str(acme), "tenant").stdout
    ok("accounts", "install", "globex", "tenant", "--off")
    installed = installation(db, acme, "tenant")
    assert installed is not None and installed.schedule_status == "on"
    off = installation(db, globex, "tenant")
    assert off is not None and off.schedule_status == "off"

    refused("accounts", "install", "acme", "tenant", says="acme has tenant installed already")
    refused("accounts", "install", str(globex), "tenant", says="installed already")
    refused("accounts", "install", "nobody", "tenant", says="no account 'nobody'")
    refused("accounts", "install", "404", "tenant", says="no account '404'")
    refused("accounts", "install", "acme", "no-such-app", says="no app 'no-such-app'")
    with db.session() as session:
        assert len(session.scalars(select(Installation)).all()) == 2


def test_an_account_id_too_large_for_the_database_is_just_not_found(db: Database, catalog: None) -> None:
    refused("accounts", "install", "99999999999999999999", "tenant", says="no account")


# --- apps pause / resume -----------------------------------------------------------------------


def test_apps_pause_and_resume_one_installation_or_platform_wide(db: Database, catalog: None) -> None:
    acme, globex = create("Acme"), create("Globex")
    ok("accounts", "install", "acme", "tenant")
    ok("accounts", "install", "globex", "tenant")
    before = installation(db, acme, "tenant")
    assert before is not None

    assert "off for acme" in ok("apps", "pause", "tenant", "--account", "acme").stdout
    paused = installation(db, acme, "tenant")
    assert paused is not None and paused.schedule_status == "off"
    assert paused.status_changed_at > before.status_changed_at
    other = installation(db, globex, "tenant")
    assert other is not None and other.schedule_status == "on", "one installation only"
    assert "(no change)" in ok("apps", "pause", "tenant", "--account", str(acme)).stdout
    ok("apps", "resume", "tenant", "--account", str(acme))
    resumed = installation(db, acme, "tenant")
    assert resumed is not None and resumed.schedule_status == "on"

    assert "off platform-wide" in ok("apps", "pause", "tenant").stdout
    assert not app_enabled(db, "tenant") and app_enabled(db, "catchup")
    for account_id in (acme, globex):
        kept = installation(db, account_id, "tenant")
        assert kept is not None and kept.schedule_status == "on", (
            "the platform switch overrides, not rewrites"
        )
    assert "on platform-wide" in ok("apps", "resume", "tenant").stdout
    assert app_enabled(db, "tenant")

    refused("apps", "pause", "no-such-app", says="no app 'no-such-app'")
    refused("apps", "resume", "no-such-app", "--account", "acme", says="no app")
    refused("apps", "pause", "tenant", "--account", "nobody", says="no account 'nobody'")
    refused("apps", "pause", "catchup", "--account", "acme", says="does not have catchup installed")


# --- executions list ---------------------------------------------------------------------------


@pytest.fixture
def history(db: Database, catalog: None) -> dict[str, int]:
    """Executions of two apps for two accounts, in every shape the listing shows."""
    acme, globex = create("Acme"), create("Globex")
    slot = datetime(2026, 1, 6, 15, 0, tzinfo=UTC)
    with db.session() as session:
        apps = {app.slug: app.id for app in session.scalars(select(App))}
        rows = [
            Execution(app_id=apps["catchup"], job="all_job", account_id=acme, source="schedule",
                      scheduled_for=slot, status="succeeded", attempts=1, duration_ms=12, slot_key="k1"),
            Execution(app_id=apps["catchup"], job="latest_job", account_id=acme, source="catch_up",
                      scheduled_for=slot + timedelta(minutes=5), status="failed", attempts=2, duration_ms=40,
                      skipped_slots=3, slot_key="k2"),
            Execution(app_id=apps["catchup"], job="all_job", account_id=globex, source="schedule",
                      scheduled_for=slot, status="skipped", skip_reason="paused", attempts=0, slot_key="k3"),
            Execution(app_id=apps["tenant"], job="snoop", account_id=globex, source="manual",
                      scheduled_for=slot + timedelta(minutes=10), status="queued", attempts=0),
        ]  # fmt: skip
        session.add_all(rows)
        session.commit()
    return {"acme": acme, "globex": globex}


def listed(*args: str) -> list[dict[str, object]]:
    rows = json.loads(ok("executions", "list", "--format", "json", *args).stdout)
    assert isinstance(rows, list)
    for row in rows:
        assert set(row) == EXECUTION_FIELDS
    return rows


def test_executions_list_json_has_exactly_the_documented_fields_and_filters(
    db: Database, history: dict[str, int]
) -> None:
    acme, globex = history["acme"], history["globex"]
    everything = listed()
    assert len(everything) == 4
    newest = everything[0]
    assert newest["app"] == "tenant" and newest["job"] == "snoop" and newest["account"] == globex
    assert newest["scheduled_for"] == "2026-01-06T15:10:00Z"
    assert (newest["status"], newest["attempts"], newest["duration_ms"]) == ("queued", 0, None)
    for row in everything:
        parsed = datetime.fromisoformat(str(row["scheduled_for"]).replace("Z", "+00:00"))
        assert parsed.utcoffset() == timedelta(0)
        assert isinstance(row["id"], int) and isinstance(row["account"], int)

    failed = listed("--status", "failed")
    assert [(r["job"], r["source"], r["attempts"], r["duration_ms"]) for r in failed] == [
        ("latest_job", "catch_up", 2, 40)
    ]
    skipped = listed("--status", "skipped")
    assert [(r["account"], r["skip_reason"]) for r in skipped] == [(globex, "paused")]
    assert {r["job"] for r in listed("--app", "catchup")} == {"all_job", "latest_job"}
    assert {r["account"] for r in listed("--account", "acme")} == {acme}
    assert len(listed("--account", str(globex))) == 2
    only = listed("--app", "catchup", "--account", "globex", "--status", "skipped")
    assert [r["job"] for r in only] == ["all_job"]
    assert listed("--app", "faults") == []

    table = ok("executions", "list", "--account", "acme").stdout
    assert "failed" in table and "2026-01-06T15:05:00Z" in table

    refused("executions", "list", "--account", "nobody", says="no account 'nobody'")
    refused("executions", "list", "--app", "no-such-app", says="no app 'no-such-app'")
    refused("executions", "list", "--app", "no-such-app", "--account", "acme", says="no app")
    bad_status = invoke("executions", "list", "--status", "lost")
    assert bad_status.exit_code == 2 and "Traceback" not in bad_status.output


# --- as real processes -------------------------------------------------------------------------


def test_the_same_commands_as_real_processes(
    db: Database, redis_conn: redis.Redis, redis_url: str, catalog: None
) -> None:
    created = run(db, redis_url, "accounts", "create", "Initech")
    assert created.returncode == 0, created.stderr
    account_id = int(created.stdout.strip().splitlines()[-1])
    ok("accounts", "install", "initech", "tenant")
    again = run(db, redis_url, "accounts", "install", str(account_id), "tenant")
    assert again.returncode == 2 and again.stdout == ""
    assert again.stderr.strip() == "tickwork: initech has tenant installed already"
    listing = run(db, redis_url, "executions", "list", "--app", "nope", "--format", "json")
    assert listing.returncode == 2 and listing.stdout == ""
    assert listing.stderr.startswith("tickwork: no app 'nope'") and "Traceback" not in listing.stderr
