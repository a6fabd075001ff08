"""Billing tables: balances, the ledger and its daily rollups.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from billing.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_balances",
        sa.Column("account_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("overdraft", sa.BigInteger(), nullable=False),
        sa.Column("notified_on", sa.Date(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_billing_balances")),
    )
    op.create_table(
        "billing_daily",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("app", sa.String(length=63), nullable=False),
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_daily")),
        sa.UniqueConstraint(
            "account_id",
            "day",
            "app",
            "job",
            "kind",
            name=op.f("uq_billing_daily_account_id_day_app_job_kind"),
        ),
    )
    op.create_table(
        "billing_ledger",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("app", sa.String(length=63), nullable=False),
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("execution_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('grant', 'purchase', 'execution', 'ai', 'email', 'sms', 'refund', 'adjustment')",
            name=op.f("ck_billing_ledger_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_ledger")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_billing_ledger_idempotency_key")),
    )
    with op.batch_alter_table("billing_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_billing_ledger_account_created", ["account_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("billing_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_billing_ledger_account_created")

    op.drop_table("billing_ledger")
    op.drop_table("billing_daily")
    op.drop_table("billing_balances")
