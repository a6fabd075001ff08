"""``executions.delivery``, the token of the delivery that started a run, and partial indexes
on running executions, on queued ones and on those with a parent.

A worker whose COMMIT reached the server but whose connection dropped before the reply
tries its start again; the token tells it the row it then finds is its own. Every minute the
spawner reads the running rows (overdue runs) and the queued ones (runs whose RQ job is gone);
the partial indexes hold only those. Pruning old executions sets their children's parent_id
to NULL; the third index finds those children without scanning the table.

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
HAS_PARENT = "parent_id IS NOT NULL"


def upgrade() -> None:
    op.add_column("executions", sa.Column("delivery", sa.String(length=32), nullable=True))
    for name, column, predicate in (
        ("ix_executions_running", "started_at", RUNNING),
        ("ix_executions_queued", "id", QUEUED),
        ("ix_executions_parent", "parent_id", HAS_PARENT),
    ):
        op.create_index(
            name,
            "executions",
            [column],
            unique=False,
            postgresql_where=sa.text(predicate),
            sqlite_where=sa.text(predicate),
        )


def downgrade() -> None:
    for name in ("ix_executions_parent", "ix_executions_queued", "ix_executions_running"):
        op.drop_index(name, table_name="executions")
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_column("delivery")
