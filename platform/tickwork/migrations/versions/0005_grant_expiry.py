"""Expiring grants: the ``expiry`` ledger kind and partial indexes on expiring grants.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OLD_KINDS = ("grant", "purchase", "execution", "ai", "email", "sms", "refund", "adjustment")
NEW_KINDS = (*OLD_KINDS, "expiry")
EXPIRING = "expires_at IS NOT NULL"


def _kinds(kinds: tuple[str, ...]) -> str:
    return "kind IN ({})".format(", ".join(f"'{kind}'" for kind in kinds))


def upgrade() -> None:
    # SQLite cannot alter a CHECK constraint: batch mode rebuilds the table with the new one.
    with op.batch_alter_table("billing_ledger", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_billing_ledger_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_billing_ledger_kind"), _kinds(NEW_KINDS))
    op.create_index(
        "ix_billing_ledger_expiring",
        "billing_ledger",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text(EXPIRING),
        sqlite_where=sa.text(EXPIRING),
    )
    op.create_index(
        "ix_billing_ledger_account_expiring",
        "billing_ledger",
        ["account_id", "expires_at"],
        unique=False,
        postgresql_where=sa.text(EXPIRING),
        sqlite_where=sa.text(EXPIRING),
    )


def downgrade() -> None:
    op.drop_index("ix_billing_ledger_account_expiring", table_name="billing_ledger")
    op.drop_index("ix_billing_ledger_expiring", table_name="billing_ledger")
    op.execute("DELETE FROM billing_ledger WHERE kind = 'expiry'")
    with op.batch_alter_table("billing_ledger", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_billing_ledger_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_billing_ledger_kind"), _kinds(OLD_KINDS))
