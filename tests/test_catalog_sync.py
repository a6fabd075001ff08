"""Syncing APPS_DIR into the database: versions, schedule rows, broken and vanished bundles."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from tickwork.catalog import sync_catalog
from tickwork.models import App, AppVersion, JobSchedule

REPO_APPS = Path(__file__).resolve().parents[1] / "apps"


def _copy_apps(tmp_path: Path, *slugs: str) -> Path:
    apps_dir = tmp_path / "apps"
    for slug in slugs:
        shutil.copytree(REPO_APPS / slug, apps_dir / slug)
    return apps_dir


def _schedules(session: Session, slug: str) -> list[JobSchedule]:
    app = session.scalars(select(App).where(App.slug == slug)).one()
    return list(session.scalars(select(JobSchedule).where(JobSchedule.app_id == app.id)))


def test_every_shipped_app_syncs_with_its_jobs(session: Session) -> None:
    report = sync_catalog(session, REPO_APPS)
    session.commit()
    assert not report.broken
    assert sorted(report.added) == sorted(p.name for p in REPO_APPS.iterdir() if (p / "app.toml").exists())
    (digest,) = _schedules(session, "order-digest")
    assert (digest.job, digest.expressions, digest.credits) == ("daily_summary", ["8:00"], 2)


def test_a_second_sync_of_unchanged_bundles_adds_no_version(session: Session, tmp_path: Path) -> None:
    apps_dir = _copy_apps(tmp_path, "order-digest")
    sync_catalog(session, apps_dir)
    report = sync_catalog(session, apps_dir)
    assert report.unchanged == ["order-digest"]
    assert session.scalar(select(AppVersion.number).order_by(AppVersion.number.desc()).limit(1)) == 1


def test_an_edited_bundle_becomes_a_new_active_version(session: Session, tmp_path: Path) -> None:
    apps_dir = _copy_apps(tmp_path, "order-digest")
    sync_catalog(session, apps_dir)
    manifest = apps_dir / "order-digest" / "app.toml"
    manifest.write_text(manifest.read_text().replace('schedule = "8:00"', 'schedule = ["7:30", "8:00"]'))
    report = sync_catalog(session, apps_dir)
    assert report.updated == ["order-digest"]
    app = session.scalars(select(App).where(App.slug == "order-digest")).one()
    assert app.active_version is not None and app.active_version.number == 2
    (schedule,) = _schedules(session, "order-digest")
    assert schedule.expressions == ["7:30", "8:00"]
    assert schedule.app_version_id == app.active_version.id


def test_a_bundle_that_breaks_keeps_its_last_good_version_and_reports_why(
    session: Session, tmp_path: Path
) -> None:
    apps_dir = _copy_apps(tmp_path, "order-digest", "nightly-cleanup")
    sync_catalog(session, apps_dir)
    manifest = apps_dir / "order-digest" / "app.toml"
    manifest.write_text(manifest.read_text().replace("credits = 2", "credits = 12"))
    report = sync_catalog(session, apps_dir)
    assert "order-digest" in report.broken
    assert any("credits" in problem for problem in report.broken["order-digest"])
    assert report.unchanged == ["nightly-cleanup"]
    app = session.scalars(select(App).where(App.slug == "order-digest")).one()
    assert app.load_error is not None and "credits" in app.load_error
    assert [s.credits for s in _schedules(session, "order-digest")] == [2]


def test_a_new_broken_bundle_is_left_out_while_the_others_load(session: Session, tmp_path: Path) -> None:
    apps_dir = _copy_apps(tmp_path, "nightly-cleanup")
    (apps_dir / "half-built").mkdir()
    (apps_dir / "half-built" / "app.toml").write_text('name = "Half built"\n')
    report = sync_catalog(session, apps_dir)
    assert report.added == ["nightly-cleanup"]
    assert "half-built" in report.broken
    assert session.scalars(select(App.slug)).all() == ["nightly-cleanup"]


def test_a_vanished_bundle_stops_scheduling_but_keeps_its_app(session: Session, tmp_path: Path) -> None:
    apps_dir = _copy_apps(tmp_path, "order-digest", "nightly-cleanup")
    sync_catalog(session, apps_dir)
    shutil.rmtree(apps_dir / "order-digest")
    report = sync_catalog(session, apps_dir)
    assert report.retired == ["order-digest"]
    assert _schedules(session, "order-digest") == []
    app = session.scalars(select(App).where(App.slug == "order-digest")).one()
    assert app.active_version_id is None and app.load_error
