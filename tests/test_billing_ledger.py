"""The ledger on both database lanes: idempotent entries, atomic balances, exact rollups."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.ledger import LimitExceeded, Posting, balance_of, post, set_overdraft
from billing.models import DailyRollup, LedgerEntry

AT = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def grant(session: Session, micro: int, key: str = "grant-1") -> None:
    post(session, Posting(key=key, account_id=7, kind="grant", amount=micro, at=AT))
    session.commit()


def charge(session: Session, micro: int, key: str, kind: str = "execution") -> bool:
    _, new = post(session, Posting(key=key, account_id=7, kind=kind, amount=-micro, at=AT, app="a", job="j"))
    session.commit()
    return new


def test_an_entry_and_its_balance_change_are_written_together(session: Session) -> None:
    grant(session, 10_000_000)
    assert charge(session, 2_000_000, "base:1")
    assert balance_of(session, 7) == (8_000_000, 0)
    assert session.scalar(select(func.sum(LedgerEntry.amount))) == 8_000_000


def test_the_same_key_is_charged_once(session: Session) -> None:
    grant(session, 10_000_000)
    assert charge(session, 2_000_000, "base:1")
    assert not charge(session, 2_000_000, "base:1")
    assert balance_of(session, 7)[0] == 8_000_000
    assert session.scalar(select(func.count(LedgerEntry.id))) == 2


def test_a_charge_past_the_overdraft_limit_is_refused_and_writes_nothing(session: Session) -> None:
    grant(session, 1_000_000)
    with pytest.raises(LimitExceeded, match="cannot pay 2.000000 credits"):
        charge(session, 2_000_000, "base:1")
    session.rollback()
    assert balance_of(session, 7) == (1_000_000, 0)
    set_overdraft(session, 7, 5_000_000, AT)
    session.commit()
    assert charge(session, 2_000_000, "base:1")
    assert balance_of(session, 7) == (-1_000_000, 5_000_000)
    assert session.scalar(select(func.count(LedgerEntry.id))) == 2


def test_rollups_hold_the_ledger_totals_per_eastern_day(session: Session) -> None:
    grant(session, 50_000_000)
    for number in range(5):
        charge(session, 1_000_000, f"base:{number}")
    charge(session, 250_000, "email:1", kind="email")
    rows = {(row.day, row.kind): (row.count, row.amount) for row in session.scalars(select(DailyRollup))}
    assert rows == {
        (date(2026, 11, 23), "grant"): (1, 50_000_000),
        (date(2026, 11, 23), "execution"): (5, -5_000_000),
        (date(2026, 11, 23), "email"): (1, -250_000),
    }
    assert session.scalar(select(func.sum(DailyRollup.amount))) == session.scalar(
        select(func.sum(LedgerEntry.amount))
    )
