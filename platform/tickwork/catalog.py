"""Syncing the catalog: bundles in APPS_DIR become apps, versions and schedule rows.

Manifest in files, switch in the database: a bundle whose files changed gets a new
version; a broken bundle is reported and, if an earlier version of it was good, that
version keeps running with the problem recorded on the app; a bundle that disappeared
stops scheduling but keeps its history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from tickwork import app_versions
from tickwork.bundles import load_catalog
from tickwork.models import App


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    broken: dict[str, list[str]] = field(default_factory=dict)
    retired: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"added     {slug}" for slug in self.added]
        out += [f"updated   {slug}" for slug in self.updated]
        out += [f"unchanged {slug}" for slug in self.unchanged]
        out += [f"retired   {slug} (its folder is gone)" for slug in self.retired]
        for slug, problems in self.broken.items():
            out.append(f"broken    {slug}")
            out += [f"          {problem}" for problem in problems]
        return out


def sync_catalog(session: Session, apps_dir: Path) -> SyncReport:
    """Bring the catalog apps in the database in line with the bundles in ``apps_dir``."""
    report = SyncReport()
    loaded = load_catalog(apps_dir)
    existing = {app.slug: app for app in session.scalars(select(App).where(App.kind == "catalog"))}
    taken_by_custom = set(session.scalars(select(App.slug).where(App.kind == "custom")))

    for bundle in loaded.bundles:
        if bundle.slug in taken_by_custom:
            report.broken[bundle.slug] = [f"{bundle.origin}: the slug is taken by a custom app"]
            continue
        app = existing.get(bundle.slug)
        if app is None:
            app = App(slug=bundle.slug, kind="catalog", name=bundle.name, description=bundle.description)
            session.add(app)
            session.flush()
            report.added.append(bundle.slug)
        elif app.active_version is not None and app.active_version.checksum == bundle.checksum:
            report.unchanged.append(bundle.slug)
        else:
            report.updated.append(bundle.slug)
        app.source_path = str(bundle.origin)
        app.load_error = None
        app_versions.publish(session, app, bundle, created_by="catalog sync")

    for broken in loaded.broken:
        problems = [str(problem) for problem in broken.problems]
        report.broken[broken.slug] = problems
        app = existing.get(broken.slug)
        if app is not None:
            app.load_error = "\n".join(problems)

    seen = {bundle.slug for bundle in loaded.bundles} | {broken.slug for broken in loaded.broken}
    for slug, app in existing.items():
        if slug not in seen and app.active_version_id is not None:
            app_versions.retire(session, app, f"bundle folder {slug!r} is no longer in {apps_dir}")
            report.retired.append(slug)
    session.flush()
    return report
