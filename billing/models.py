"""Billing's own tables: balances, the append-only ledger and its daily rollups.

Billing is a leaf library, so it keeps its own metadata (the platform's migrations include
it) and refers to accounts by id without a foreign key into the platform's tables.
Amounts are signed integer micro-credits: money in is positive, money out negative.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
JSONType = JSON().with_variant(JSONB(), "postgresql")
KINDS = ("grant", "purchase", "execution", "ai", "email", "sms", "refund", "adjustment", "expiry")
EXPIRING = "expires_at IS NOT NULL"  # the predicate of the partial indexes on expiring grants


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime stored without zone, read back aware."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("billing stores aware datetimes only")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class BillingBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Balance(BillingBase):
    """An account's credit: changed only by atomic UPDATEs written with a ledger entry."""

    __tablename__ = "billing_balances"

    account_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    overdraft: Mapped[int] = mapped_column(BigInteger, default=0)  # how far below zero it may go
    notified_on: Mapped[date | None] = mapped_column(Date)  # last "out of credits" email
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LedgerEntry(BillingBase):
    """One movement of credit; never updated or deleted."""

    __tablename__ = "billing_ledger"
    __table_args__ = (
        CheckConstraint("kind IN ({})".format(", ".join(f"'{k}'" for k in KINDS)), name="kind"),
        Index("ix_billing_ledger_account_created", "account_id", "created_at"),
        # Partial: only expiring grants are in them, so a charge (expires_at NULL) pays nothing for them.
        Index(
            "ix_billing_ledger_expiring",
            "expires_at",
            postgresql_where=text(EXPIRING),
            sqlite_where=text(EXPIRING),
        ),
        Index(
            "ix_billing_ledger_account_expiring",
            "account_id",
            "expires_at",
            postgresql_where=text(EXPIRING),
            sqlite_where=text(EXPIRING),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    account_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(BigInteger, default=1)
    app: Mapped[str] = mapped_column(String(63), default="")
    job: Mapped[str] = mapped_column(String(100), default="")
    execution_id: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DailyRollup(BillingBase):
    """Totals per (account, Eastern day, app, job, kind), added to in each entry's transaction."""

    __tablename__ = "billing_daily"
    __table_args__ = (UniqueConstraint("account_id", "day", "app", "job", "kind"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)
    app: Mapped[str] = mapped_column(String(63))
    job: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
