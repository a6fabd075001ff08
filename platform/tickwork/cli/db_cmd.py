"""``tickwork db``: database migrations."""

from __future__ import annotations

import click
from sqlalchemy.exc import OperationalError

from tickwork import migrate
from tickwork.errors import TickworkError
from tickwork.settings import get_settings


@click.group()
def db() -> None:
    """Database migrations."""


@db.command()
def upgrade() -> None:
    """Bring the database schema up to date (safe to run again)."""
    settings = get_settings()
    try:
        before = migrate.current_revision()
        migrate.upgrade()
        after = migrate.current_revision()
    except OperationalError as error:
        raise TickworkError(
            f"cannot reach the database at {_safe(settings.database_url)}: {error.orig}"
        ) from None
    if before == after:
        click.echo(f"database is up to date (revision {after})")
    else:
        click.echo(f"database upgraded from {before or 'empty'} to {after}")


@db.command()
def current() -> None:
    """Show the schema revision of the database and the newest one this code knows."""
    click.echo(f"database: {migrate.current_revision() or 'empty'}")
    click.echo(f"code:     {migrate.head_revision()}")


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
