"""``executions.delivery``, the token of the delivery that started a run, and partial indexes
on running and on queued executions.

A worker whose COMMIT reached the server but whose connection dropped before the reply
tries its start again; the token tells it the row it then finds is its own. Every minute the
spawner reads the running rows (overdue runs) and the queued ones (runs whose RQ job is gone);
the partial indexes hold only those.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


RUNNING = "status = 'running'"
QUEUED = "status = 'queued'"


def upgrade() -> None:
    op.add_column("executions", sa.Column("delivery", sa.String(length=32), nullable=True))
    op.create_index(
        "ix_executions_running",
        "executions",
        ["started_at"],
        unique=False,
        postgresql_where=sa.text(RUNNING),
        sqlite_where=sa.text(RUNNING),
    )
    op.create_index(
        "ix_executions_queued",
        "executions",
        ["id"],
        unique=False,
        postgresql_where=sa.text(QUEUED),
        sqlite_where=sa.text(QUEUED),
    )


def downgrade() -> None:
    op.drop_index("ix_executions_queued", table_name="executions")
    op.drop_index("ix_executions_running", table_name="executions")
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_column("delivery")
