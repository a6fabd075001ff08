"""Applying a proposal: the account's custom app gets a new bundle version holding the job.

A new app is created with a free slug and one installation whose schedule status starts
OFF, so nothing runs (or costs credits) until an owner switches it on. Applying to an app the
account already has keeps its other jobs: the job of the same name is replaced, another is
added. Either way the result is a new immutable version, published in the caller's
transaction, that passes the same checks as ``tickwork apps validate``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tickwork import app_versions
from tickwork.accounts import install, slugify
from tickwork.builder.bundle_text import JobEntry, join_sections, manifest_text, split_sections
from tickwork.builder.proposal import Proposal, validate_job
from tickwork.bundles import SLUG_PATTERN, AppBundle, BundleError, parse_bundle
from tickwork.errors import BadInput
from tickwork.models import Account, App, AppVersion, Installation


@dataclass(frozen=True)
class Applied:
    """What applying changed: the app, its new version, its installation, and whether it is new."""

    app: App
    version: AppVersion
    installation: Installation
    created: bool

    def to_json(self) -> dict[str, Any]:
        """``{"app": slug, "version": number, "created": bool, "schedule_status": "on"|"off"}``."""
        return {
            "app": self.app.slug,
            "version": self.version.number,
            "created": self.created,
            "schedule_status": self.installation.schedule_status,
        }


def apply_proposal(
    session: Session,
    proposal: Proposal,
    account: Account,
    app_slug: str | None = None,
    created_by: str | None = None,
) -> Applied:
    """Add the proposal's job to ``account``'s custom app ``app_slug`` (created when missing, with
    a free slug when None) as a new version. Raises BadInput when the proposal is not ``ok``, the
    slug belongs to another account or a catalog app, or the merged bundle does not validate.

    Web layer: call it inside the request's transaction with the signed-in owner's account
    (never an account id taken from the request body) and commit on success; ``created_by`` is
    the user's email, kept on the version.
    """
    if not proposal.ok or proposal.job is None:
        why = proposal.reason or " ".join(proposal.questions) or "it has no job"
        raise BadInput(f"only a proposal with status ok can be applied; this one is {proposal.status}: {why}")
    problems = validate_job(proposal.job, proposal.schedules, proposal.app_name)
    if problems:  # a Proposal made by hand rather than by assemble(): checked all the same
        raise BadInput("the proposal does not pass validation: " + "; ".join(problems))
    app, created = _target_app(session, proposal, account, app_slug)
    entries, sections = _current_jobs(app)
    job = proposal.job
    entries[job.name] = job.entry(proposal.schedules)
    sections[job.name] = job.code.strip()
    _check_top_level_names(sections)
    manifest = manifest_text(app.name, app.description or proposal.app_description, list(entries.values()))
    bundle = parse_bundle(app.slug, manifest, join_sections(sections), origin=f"builder:{app.slug}")
    version = app_versions.publish(session, app, bundle, created_by=created_by or "builder")
    if version is None:  # the same job again: the active version already holds it
        assert app.active_version is not None
        version = app.active_version
    installation = session.scalar(
        select(Installation).where(Installation.app_id == app.id, Installation.account_id == account.id)
    )
    if installation is None:
        installation = install(session, account, app, schedule_status="off")
    session.flush()
    return Applied(app=app, version=version, installation=installation, created=created)


def _target_app(session: Session, proposal: Proposal, account: Account, slug: str | None) -> tuple[App, bool]:
    if slug is not None:
        slug = slug.strip()
        if not SLUG_PATTERN.fullmatch(slug):
            raise BadInput(f'"{slug}" is not a valid app slug: use lowercase letters, digits and hyphens')
        existing = session.scalar(select(App).where(App.slug == slug))
        if existing is not None:
            if existing.kind != "custom" or existing.account_id != account.id:
                raise BadInput(f'the slug "{slug}" is taken; choose another one for the new app')
            return existing, False
    else:
        slug = free_slug(session, slugify(proposal.app_name))
    app = App(
        slug=slug,
        kind="custom",
        account_id=account.id,
        name=proposal.app_name,
        description=proposal.app_description or "A custom app made with the builder.",
    )
    session.add(app)
    session.flush()
    return app, True


def free_slug(session: Session, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``... whichever no app (catalog or custom) holds yet."""
    stem = base[:58] or "app"
    taken = set(session.scalars(select(App.slug).where(App.slug.like(f"{stem}%"))))
    slug, suffix = stem, 2
    while slug in taken:
        slug, suffix = f"{stem}-{suffix}", suffix + 1
    return slug


def _current_jobs(app: App) -> tuple[dict[str, JobEntry], dict[str, str]]:
    """The jobs and code sections of the app's active version (empty for a new app)."""
    version = app.active_version
    if version is None:
        return {}, {}
    try:
        bundle: AppBundle = parse_bundle(app.slug, version.manifest, version.code, origin=f"db:{app.slug}")
    except BundleError as error:
        raise BadInput(
            f"the app's current version does not validate, so it cannot be extended:\n{error}"
        ) from None
    sections = split_sections(version.code)
    if set(sections) != set(bundle.job_names):
        raise BadInput(f"the app {app.slug} was not made by the builder; apply the proposal to a new app")
    entries = {
        job.name: JobEntry(
            job.name,
            job.expressions,
            job.credits,
            job.timeout,
            job.overlap,
            job.catch_up,
            job.retries,
            job.params,
        )
        for job in bundle.jobs
    }
    return entries, sections


def _check_top_level_names(sections: dict[str, str]) -> None:
    """Jobs share one module: two sections defining the same top-level name would clash."""
    owners: dict[str, str] = {}
    for job, code in sections.items():
        for statement in ast.parse(code).body:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names = [statement.name]
            elif isinstance(statement, ast.Assign):
                names = [target.id for target in statement.targets if isinstance(target, ast.Name)]
            else:
                continue
            for name in names:
                if name in owners and owners[name] != job:
                    raise BadInput(
                        f"the jobs {owners[name]} and {job} both define {name} at the top of jobs.py; "
                        "rename one of them"
                    )
                owners[name] = job
