"""Applying proposals: custom apps as new bundle versions, switched off, and ``tickwork build``."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tickwork.accounts import create_account
from tickwork.builder import apply_proposal, grammar_proposal
from tickwork.catalog import sync_catalog
from tickwork.cli import main
from tickwork.errors import BadInput
from tickwork.models import Account, App, AppVersion, Installation, JobSchedule
from tickwork.settings import reset_settings

from .conftest import REPO_ROOT, Database

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
DIGEST = "every morning at 8 AM email the owner a summary of yesterday's orders"
CLEANUP = "every night at 3 am delete sessions older than 30 days"


@pytest.fixture
def no_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    reset_settings()


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def counts(session: Session) -> tuple[int, ...]:
    return tuple(
        session.scalar(select(func.count()).select_from(table)) or 0
        for table in (App, AppVersion, Installation, JobSchedule)
    )


def test_applying_creates_a_custom_app_switched_off_whose_version_apps_validate_accepts(
    db: Database, tmp_path: Path
) -> None:
    with db.session() as session:
        account = create_account(session, "Acme Bakery")
        applied = apply_proposal(
            session, grammar_proposal(DIGEST, NOW), account, created_by="owner@acme.test"
        )
        session.commit()
        app, version = applied.app, applied.version
        assert applied.created and app.kind == "custom" and app.account_id == account.id
        assert app.slug == "orders-digest" and app.name == "Orders digest"
        assert version.number == 1 and version.created_by == "owner@acme.test"
        assert applied.installation.schedule_status == "off"
        (schedule,) = app.schedules
        assert (schedule.job, schedule.expressions, schedule.credits) == ("email_orders_digest", ["8:00"], 2)
        folder = tmp_path / app.slug
        folder.mkdir()
        (folder / "app.toml").write_text(version.manifest)
        (folder / "jobs.py").write_text(version.code)
    result = invoke("apps", "validate", str(folder))
    assert result.exit_code == 0, result.output
    assert "ok      orders-digest  (1 job)" in result.output


def test_applying_to_the_same_app_adds_or_replaces_jobs_in_new_versions(db: Database) -> None:
    with db.session() as session:
        account = create_account(session, "Acme Bakery")
        first = apply_proposal(session, grammar_proposal(DIGEST, NOW), account, app_slug="back-office")
        second = apply_proposal(session, grammar_proposal(CLEANUP, NOW), account, app_slug="back-office")
        later = grammar_proposal(DIGEST.replace("8 AM", "9:30 AM"), NOW)
        third = apply_proposal(session, later, account, app_slug="back-office")
        again = apply_proposal(session, later, account, app_slug="back-office")
        session.commit()
        assert first.created and not second.created and not third.created
        assert [first.version.number, second.version.number, third.version.number] == [1, 2, 3]
        assert again.version.id == third.version.id  # nothing changed: no new version
        app = third.app
        assert {s.job: s.expressions for s in app.schedules} == {
            "email_orders_digest": ["9:30"],
            "clean_up_sessions": ["3:00"],
        }
        assert session.scalar(select(func.count()).select_from(Installation)) == 1  # one per custom app
        code = third.version.code
        assert code.count("# === job: ") == 2 and "def clean_up_sessions(" in code


def test_applying_refuses_other_accounts_slugs_catalog_slugs_and_open_questions(db: Database) -> None:
    with db.session() as session:
        sync_catalog(session, REPO_ROOT / "apps")
        acme, globex = create_account(session, "Acme"), create_account(session, "Globex")
        apply_proposal(session, grammar_proposal(DIGEST, NOW), acme, app_slug="acme-tools")
        with pytest.raises(BadInput, match="is taken"):
            apply_proposal(session, grammar_proposal(DIGEST, NOW), globex, app_slug="acme-tools")
        with pytest.raises(BadInput, match="is taken"):
            apply_proposal(session, grammar_proposal(DIGEST, NOW), globex, app_slug="order-digest")
        with pytest.raises(BadInput, match="status ok can be applied; this one is question: Did you mean"):
            apply_proposal(session, grammar_proposal("every day at 4 email a digest", NOW), globex)
        good = grammar_proposal(DIGEST, NOW)
        assert good.job is not None
        forged = replace(good, job=replace(good.job, code="import os\n" + good.job.code))
        with pytest.raises(BadInput, match="imports os"):
            apply_proposal(session, forged, globex)  # status ok set by hand: validated all the same
        taken = apply_proposal(session, grammar_proposal(DIGEST, NOW), globex)
        assert taken.app.slug == "orders-digest"
        clash = apply_proposal(session, grammar_proposal(DIGEST, NOW), globex)
        assert clash.app.slug == "orders-digest-2"  # a free slug, never someone else's app


def test_build_json_without_apply_writes_nothing(db: Database, no_openai: None) -> None:
    with db.session() as session:
        create_account(session, "Acme")
        session.commit()
        before = counts(session)
    result = invoke("build", DIGEST, "--account", "acme", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["status"] == "ok" and payload["schedules"] == ["8:00"] and "applied" not in payload
    with db.session() as session:
        assert counts(session) == before


def test_build_apply_creates_the_app_switched_off_and_says_how_to_switch_it_on(
    db: Database, no_openai: None
) -> None:
    with db.session() as session:
        create_account(session, "Acme")
        session.commit()
    result = invoke("build", CLEANUP, "--account", "acme", "--apply")
    assert result.exit_code == 0, (result.output, result.exception)
    assert "applied: sessions-cleanup version 1 (new app); schedule status off" in result.stdout
    assert "tickwork apps resume sessions-cleanup --account acme" in result.stdout
    as_json = invoke("build", DIGEST, "--account", "acme", "--app", "sessions-cleanup", "--apply", "--json")
    assert as_json.exit_code == 0, as_json.output
    payload = json.loads(as_json.stdout)
    assert payload["applied"] == {
        "app": "sessions-cleanup",
        "version": 2,
        "created": False,
        "schedule_status": "off",
    }
    with db.session() as session:
        app = session.scalars(select(App).where(App.slug == "sessions-cleanup")).one()
        account = session.scalars(select(Account)).one()
        assert app.account_id == account.id and len(app.schedules) == 2


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("every day at 4 email a digest", "--account", "acme", "--apply"), "the proposal is question"),
        (("every 10 seconds sync", "--account", "acme", "--apply"), "the proposal is rejected"),
        ((DIGEST, "--apply"), "--apply needs --account"),
        ((DIGEST, "--account", "nobody", "--apply"), "no account 'nobody'"),
        ((DIGEST, "--app", "x"), "--app only matters with --apply"),
        (("   ",), "describe the job"),
    ],
)
def test_build_refuses_bad_input_with_exit_2_and_writes_nothing(
    db: Database, no_openai: None, args: tuple[str, ...], says: str
) -> None:
    with db.session() as session:
        create_account(session, "Acme")
        session.commit()
        before = counts(session)
    result = invoke("build", *args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit)
    assert says in result.stderr and "Traceback" not in result.output
    with db.session() as session:
        assert counts(session) == before
