"""Schema migrations with Alembic, driven from code so a plain ``pip install`` carries them.

The migration scripts ship inside the package (``tickwork/migrations``); there is no
alembic.ini to find. ``upgrade()`` is what ``tickwork db upgrade`` and ``tickwork run`` call.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from tickwork.db import get_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(engine: Engine | None = None, revision: str = "head") -> None:
    """Bring the database up to ``revision`` (default: the newest)."""
    engine = engine or get_engine()
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine | None = None) -> str | None:
    engine = engine or get_engine()
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
