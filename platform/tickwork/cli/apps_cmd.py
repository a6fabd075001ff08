"""``tickwork apps``: validate and list app bundles.

The listing is built as plain rows (``AppListing``/``JobListing``) and rendered by small
functions, so that a listing read from the database can reuse the same table and JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import click

from billing import MICRO_PER_CREDIT
from billing.projection import daily_micro_credits
from tickwork.bundles import (
    CODE_FILE,
    MANIFEST_FILE,
    AppBundle,
    BrokenBundle,
    BundleError,
    load_bundle,
    load_catalog,
)
from tickwork.settings import get_settings

STATUS_WIDTH = 8  # "ok      slug", "broken  slug"


@dataclass(frozen=True)
class JobListing:
    name: str
    schedule: str
    description: str
    runs_per_day: Fraction
    credits: int
    micro_credits_per_day: int


@dataclass(frozen=True)
class AppListing:
    slug: str
    name: str
    description: str
    jobs: tuple[JobListing, ...]


@click.group()
def apps() -> None:
    """Validate and list app bundles."""


# --- validate ---------------------------------------------------------------------------------


def is_bundle_folder(path: Path) -> bool:
    """A folder holding app.toml or jobs.py is one bundle; any other folder holds bundles."""
    return (path / MANIFEST_FILE).exists() or (path / CODE_FILE).exists()


def validate_folder(path: Path) -> tuple[list[AppBundle], list[BrokenBundle]]:
    """The good and broken bundles in ``path``: one bundle folder, or a folder of them."""
    if is_bundle_folder(path):
        try:
            return [load_bundle(path)], []
        except BundleError as error:
            return [], [BrokenBundle(slug=path.name, path=path, problems=tuple(error.problems))]
    loaded = load_catalog(path)
    return loaded.bundles, loaded.broken


def validation_lines(bundles: list[AppBundle], broken: list[BrokenBundle]) -> list[str]:
    """One ``ok`` line per good bundle and a ``broken`` line plus every problem per broken one."""
    entries: list[tuple[str, list[str]]] = []
    for bundle in bundles:
        jobs = f"{len(bundle.jobs)} job" + ("" if len(bundle.jobs) == 1 else "s")
        entries.append((bundle.slug, [f"{'ok':<{STATUS_WIDTH}}{bundle.slug}  ({jobs})"]))
    for item in broken:
        count = len(item.problems)
        head = f"{'broken':<{STATUS_WIDTH}}{item.slug}  ({count} problem{'s' if count != 1 else ''})"
        entries.append((item.slug, [head] + [f"  {problem}" for problem in item.problems]))
    lines = [line for _slug, block in sorted(entries, key=lambda entry: entry[0]) for line in block]
    lines.append(f"{len(bundles)} ok, {len(broken)} broken")
    return lines


@apps.command("validate")
@click.argument(
    "path", required=False, type=click.Path(exists=True, file_okay=False, dir_okay=True, path_type=Path)
)
def validate(path: Path | None) -> None:
    """Check app bundles: PATH is one bundle folder or a folder of bundles (default: APPS_DIR).

    Exits 1 when any bundle is broken, after reporting every problem of every bundle.
    """
    root = path if path is not None else get_settings().apps_dir
    bundles, broken = validate_folder(root)
    if not bundles and not broken:
        click.echo(f"tickwork: no app bundles in {root}", err=True)
        raise SystemExit(1)
    click.echo("\n".join(validation_lines(bundles, broken)))
    if broken:
        raise SystemExit(1)


# --- list -------------------------------------------------------------------------------------


def listing_from_bundle(bundle: AppBundle) -> AppListing:
    """The listing rows of a bundle: each job's schedule in words, runs and credits per day."""
    jobs = tuple(
        JobListing(
            name=job.name,
            schedule=job.schedule.canonical,
            description=job.schedule.describe(),
            runs_per_day=Fraction(job.schedule.runs_per_day),
            credits=job.credits,
            micro_credits_per_day=daily_micro_credits(job.schedule.runs_per_day, job.credits),
        )
        for job in bundle.jobs
    )
    return AppListing(slug=bundle.slug, name=bundle.name, description=bundle.description, jobs=jobs)


def json_number(value: Fraction | Decimal) -> int | float:
    """An exact whole value as an int; anything else as a float rounded to 6 decimals."""
    if value == int(value):
        return int(value)
    return round(float(value), 6)


def credits_from_micro(micro: int) -> Decimal:
    return Decimal(micro) / MICRO_PER_CREDIT


def format_amount(value: Fraction | Decimal) -> str:
    """A count or credit amount for a table: thousands separators, at most two decimals."""
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    if value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value:,.2f}"


def listing_json(listings: list[AppListing], broken: list[BrokenBundle]) -> dict[str, Any]:
    return {
        "apps": [
            {
                "slug": app.slug,
                "name": app.name,
                "description": app.description,
                "jobs": [
                    {
                        "name": job.name,
                        "schedule": job.schedule,
                        "description": job.description,
                        "runs_per_day": json_number(job.runs_per_day),
                        "credits": job.credits,
                        "credits_per_day": json_number(credits_from_micro(job.micro_credits_per_day)),
                    }
                    for job in app.jobs
                ],
            }
            for app in listings
        ],
        "broken": [
            {"slug": item.slug, "problems": [str(problem) for problem in item.problems]} for item in broken
        ],
    }


JOB_COLUMNS = ("JOB", "SCHEDULE", "RUNS/DAY", "CREDITS/RUN", "CREDITS/DAY", "WHEN")
RIGHT_ALIGNED = {"RUNS/DAY", "CREDITS/RUN", "CREDITS/DAY"}


def job_cells(job: JobListing) -> tuple[str, ...]:
    return (
        job.name,
        job.schedule,
        format_amount(job.runs_per_day),
        str(job.credits),
        format_amount(credits_from_micro(job.micro_credits_per_day)),
        job.description,
    )


def listing_table(listings: list[AppListing], broken: list[BrokenBundle]) -> list[str]:
    """Per app a heading (slug and name) and its jobs, columns aligned across apps; then the broken ones."""
    rows = [JOB_COLUMNS] + [job_cells(job) for app in listings for job in app.jobs]
    widths = [max(len(row[i]) for row in rows) for i in range(len(JOB_COLUMNS))]

    def render(cells: tuple[str, ...]) -> str:
        parts = [
            cell.rjust(width) if column in RIGHT_ALIGNED else cell.ljust(width)
            for column, cell, width in zip(JOB_COLUMNS, cells, widths, strict=True)
        ]
        return ("  " + "  ".join(parts)).rstrip()

    lines: list[str] = []
    for app in listings:
        if lines:
            lines.append("")
        lines.append(f"{app.slug}  {app.name}")
        lines.append(render(JOB_COLUMNS))
        lines.extend(render(job_cells(job)) for job in app.jobs)
    if not listings:
        lines.append("no apps")
    if broken:
        lines += ["", "broken"]
        for item in broken:
            more = len(item.problems) - 1
            suffix = f" (and {more} more: tickwork apps validate)" if more else ""
            lines.append(f"  {item.slug}  {item.problems[0]}{suffix}")
    return lines


@apps.command("list")
@click.option(
    "--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def list_apps(output_format: str) -> None:
    """The app bundles in APPS_DIR with each job's schedule, runs and credits per day."""
    loaded = load_catalog(get_settings().apps_dir)
    listings = [listing_from_bundle(bundle) for bundle in loaded.bundles]
    if output_format == "json":
        click.echo(json.dumps(listing_json(listings, loaded.broken), indent=2))
    else:
        click.echo("\n".join(listing_table(listings, loaded.broken)))


# --- sync -------------------------------------------------------------------------------------


@apps.command("sync")
def sync() -> None:
    """Load the bundles in APPS_DIR into the database as catalog apps and versions."""
    from tickwork.catalog import sync_catalog
    from tickwork.db import session_scope

    settings = get_settings()
    with session_scope() as session:
        report = sync_catalog(session, settings.apps_dir)
    click.echo(f"catalog {settings.apps_dir}")
    for line in report.lines():
        click.echo(f"  {line}")


# --- pause / resume ---------------------------------------------------------------------------


def _switch(slug: str, account_ref: str | None, on: bool) -> None:
    from tickwork.accounts import find_account, find_app, installation_of
    from tickwork.db import session_scope
    from tickwork.switches import set_platform_switch, set_schedule_status

    word = "on" if on else "off"
    with session_scope() as session:
        if account_ref is None:
            app = find_app(session, slug)
            changed = set_platform_switch(session, app, on)
            click.echo(f"{slug} is {word} platform-wide" + ("" if changed else " (no change)"))
            return
        account = find_account(session, account_ref)
        installation = installation_of(session, account, find_app(session, slug, account))
        changed = set_schedule_status(session, installation, on)
        click.echo(
            f"{slug} schedule status is {word} for {account.slug}" + ("" if changed else " (no change)")
        )


@apps.command("pause")
@click.argument("slug")
@click.option(
    "--account", help="That account's installation (id or slug); without it, the platform-wide switch."
)
def pause(slug: str, account: str | None) -> None:
    """Switch an app's schedule off (one installation, or platform-wide)."""
    _switch(slug, account, on=False)


@apps.command("resume")
@click.argument("slug")
@click.option(
    "--account", help="That account's installation (id or slug); without it, the platform-wide switch."
)
def resume(slug: str, account: str | None) -> None:
    """Switch an app's schedule back on; it runs from its next slot, never replaying."""
    _switch(slug, account, on=True)
