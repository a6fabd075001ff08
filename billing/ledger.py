"""The ledger: every credit movement is one entry, written with its balance update.

``post`` is the only way money moves. In the caller's transaction:
1. insert the entry under its idempotency key; if the key exists, nothing else happens and
   the earlier entry is returned (a retry or a re-delivered job is never charged twice);
2. add the amount to the balance with one conditional UPDATE (``balance = balance + x``,
   never read-modify-write); a charge that would take the balance below minus the overdraft
   limit updates no row, its entry is deleted again, and it is refused;
3. add the entry to its daily rollup with an upsert, so reports never scan the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from billing.models import KINDS, Balance, DailyRollup, LedgerEntry

REPORTING_ZONE = ZoneInfo("America/New_York")  # days in reports are Eastern, like schedules


class LimitExceeded(Exception):
    """A charge would take the balance past the overdraft limit; nothing was written."""

    def __init__(self, account_id: int, amount: int, balance: int, overdraft: int) -> None:
        self.account_id = account_id
        self.amount = amount
        self.balance = balance
        self.overdraft = overdraft
        super().__init__(
            f"account {account_id} cannot pay {-amount / 1_000_000:.6f} credits: balance "
            f"{balance / 1_000_000:.6f}, overdraft limit {overdraft / 1_000_000:.6f}"
        )


@dataclass(frozen=True)
class Posting:
    """One movement to write: ``amount`` in signed micro-credits (charges are negative)."""

    key: str
    account_id: int
    kind: str
    amount: int
    at: datetime
    quantity: int = 1
    app: str = ""
    job: str = ""
    execution_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown ledger kind {self.kind!r}")
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("amounts are whole micro-credits")
        if self.at.tzinfo is None:
            raise ValueError("a posting needs an aware time")
        if self.expires_at is not None:
            if self.kind != "grant" or self.amount <= 0:
                raise ValueError("only a grant of credits can expire")
            if self.expires_at.tzinfo is None:
                raise ValueError("an expiry needs an aware time")
            if self.expires_at <= self.at:
                raise ValueError("a grant must expire after it is granted")


def reporting_day(instant: datetime) -> date:
    return instant.astimezone(REPORTING_ZONE).date()


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def open_account(session: Session, account_id: int, at: datetime, overdraft: int = 0) -> None:
    """Make sure the account has a balance row (a no-op when it has one)."""
    insert = _insert(session)
    session.execute(
        insert(Balance)
        .values(account_id=account_id, balance=0, overdraft=overdraft, updated_at=at)
        .on_conflict_do_nothing(index_elements=["account_id"])
    )


def post(session: Session, posting: Posting, *, enforce_limit: bool = True) -> tuple[int, bool]:
    """Write ``posting``; returns the entry's id and whether it is new (False: its key was used).

    Three statements in the caller's transaction, no read-modify-write and no ORM flush: the
    meter posts once per billable use, so this is a hot path. The statements are built once
    per dialect with bound parameters (building and caching one costs more than running it).
    """
    statements = _statements(session.get_bind().dialect.name)
    inserted = session.execute(
        statements.entry,
        {
            "idempotency_key": posting.key,
            "account_id": posting.account_id,
            "kind": posting.kind,
            "amount": posting.amount,
            "quantity": posting.quantity,
            "app": posting.app,
            "job": posting.job,
            "execution_id": posting.execution_id,
            "detail": posting.detail,
            "expires_at": posting.expires_at,
            "created_at": posting.at,
        },
    ).scalar_one_or_none()
    if inserted is None:
        earlier = select(LedgerEntry.id).where(LedgerEntry.idempotency_key == posting.key)
        return int(session.execute(earlier).scalar_one()), False

    if not _apply(session, posting, enforce_limit):
        open_account(session, posting.account_id, posting.at)  # a first posting: create the row
        if not _apply(session, posting, enforce_limit):
            session.execute(delete(LedgerEntry).where(LedgerEntry.id == inserted))
            balance, overdraft = balance_of(session, posting.account_id)
            raise LimitExceeded(posting.account_id, posting.amount, balance, overdraft)

    session.execute(
        statements.rollup,
        {
            "account_id": posting.account_id,
            "day": reporting_day(posting.at),
            "app": posting.app,
            "job": posting.job,
            "kind": posting.kind,
            "count": 1,
            "amount": posting.amount,
        },
    )
    return int(inserted), True


def _apply(session: Session, posting: Posting, enforce_limit: bool) -> bool:
    """Add the amount to the balance in one conditional UPDATE; False if no row changed."""
    statements = _statements(session.get_bind().dialect.name)
    limited = enforce_limit and posting.amount < 0
    changed = session.execute(
        statements.limited_change if limited else statements.change,
        {"account": posting.account_id, "amount": posting.amount, "at": posting.at},
    )
    return bool(changed.rowcount == 1)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Statements:
    entry: Any
    change: Any
    limited_change: Any
    rollup: Any


@lru_cache(maxsize=4)
def _statements(dialect: str) -> _Statements:
    """``post``'s statements for one dialect, on the tables (Core: no ORM bulk-DML handling)."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    entries, balances, rollups = (
        cast(Table, model.__table__) for model in (LedgerEntry, Balance, DailyRollup)
    )
    # The inserts take their values from the parameters' names (the columns').
    entry = insert(entries).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(entries.c.id)
    change = (
        update(balances)
        .where(balances.c.account_id == bindparam("account"))
        .values(balance=balances.c.balance + bindparam("amount"), updated_at=bindparam("at"))
    )
    limited_change = change.where(balances.c.balance + bindparam("amount") >= -balances.c.overdraft)
    rollup = insert(rollups)
    rollup = rollup.on_conflict_do_update(
        index_elements=["account_id", "day", "app", "job", "kind"],
        set_={"count": rollups.c.count + 1, "amount": rollups.c.amount + rollup.excluded.amount},
    )
    return _Statements(entry, change, limited_change, rollup)


def balance_of(session: Session, account_id: int) -> tuple[int, int]:
    """(balance, overdraft limit) in micro-credits; (0, 0) for an account never billed."""
    row = session.execute(
        select(Balance.balance, Balance.overdraft).where(Balance.account_id == account_id)
    ).one_or_none()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def set_overdraft(session: Session, account_id: int, overdraft: int, at: datetime) -> None:
    if overdraft < 0:
        raise ValueError("an overdraft limit is zero or more")
    open_account(session, account_id, at)
    session.execute(
        update(Balance).where(Balance.account_id == account_id).values(overdraft=overdraft, updated_at=at)
    )


def charged_for(session: Session, execution_id: int) -> int:
    """Micro-credits charged for one execution so far (base and usage, net of refunds)."""
    total = session.scalar(
        select(func.sum(LedgerEntry.amount)).where(LedgerEntry.execution_id == execution_id)
    )
    return -int(total or 0)


def claim_daily_notice(session: Session, account_id: int, day: date) -> bool:
    """True for the first caller on ``day``: the account's owner is told once a day, not per run."""
    claimed = session.execute(
        update(Balance)
        .where(Balance.account_id == account_id)
        .where((Balance.notified_on.is_(None)) | (Balance.notified_on < day))
        .values(notified_on=day)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]
