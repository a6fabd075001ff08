"""Publishing a bundle as an app's new active version, and the schedule rows derived from it.

A version is immutable. Publishing happens in the caller's transaction: the version row,
the app's pointer to it and the replaced schedule rows commit together, so the spawner
sees either the old jobs or the new ones, never a mix.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tickwork.bundles import AppBundle
from tickwork.models import App, AppVersion, JobSchedule


def publish(
    session: Session, app: App, bundle: AppBundle, created_by: str | None = None
) -> AppVersion | None:
    """Make ``bundle`` the active version of ``app``; ``None`` when it already is.

    Steps: number the version after the newest one, store manifest and code, point the
    app at it, then replace the app's schedule rows with the bundle's jobs.
    """
    active = app.active_version
    if active is not None and active.checksum == bundle.checksum:
        return None
    newest = session.scalar(select(func.max(AppVersion.number)).where(AppVersion.app_id == app.id))
    version = AppVersion(
        app_id=app.id,
        number=(newest or 0) + 1,
        manifest=bundle.manifest_text,
        code=bundle.code,
        checksum=bundle.checksum,
        created_by=created_by,
    )
    session.add(version)
    session.flush()
    app.active_version_id = version.id
    app.active_version = version
    app.name = bundle.name
    app.description = bundle.description
    replace_schedules(session, app, version, bundle)
    return version


def replace_schedules(session: Session, app: App, version: AppVersion, bundle: AppBundle) -> None:
    """The app's schedule rows become exactly the bundle's jobs."""
    session.execute(delete(JobSchedule).where(JobSchedule.app_id == app.id))
    session.add_all(
        JobSchedule(
            app_id=app.id,
            app_version_id=version.id,
            job=job.name,
            expressions=list(job.expressions),
            credits=job.credits,
            timeout=job.timeout,
            overlap=job.overlap,
            catch_up=job.catch_up,
            retries=job.retries,
            params=dict(job.params),
        )
        for job in bundle.jobs
    )
    session.flush()
    session.expire(app, ["schedules"])


def retire(session: Session, app: App, reason: str) -> None:
    """Stop an app's jobs (its bundle is gone) while keeping its history and installations."""
    session.execute(delete(JobSchedule).where(JobSchedule.app_id == app.id))
    app.active_version_id = None
    app.active_version = None
    app.load_error = reason
    session.expire(app, ["schedules"])
