"""Alembic environment: runs migrations on the connection ``tickwork.migrate`` hands over."""

from __future__ import annotations

from alembic import context

from billing.models import BillingBase
from tickwork.models import Base

# The platform's tables and billing's (a leaf library with its own metadata) migrate together.
target_metadata = [Base.metadata, BillingBase.metadata]


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through tickwork.migrate (tickwork db upgrade), not bare alembic")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
