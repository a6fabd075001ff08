"""Expiring grants on both lanes: spent first (soonest expiry first), the rest expired once.

A reference model charges every entry one at a time against the live grants; the ledger's
expiry, worked out only when a grant expires, must match it to the micro-credit for any
sequence of grants, purchases and charges.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.expiry import due_accounts, expire_due, expiry_key
from billing.ledger import LimitExceeded, Posting, balance_of, post
from billing.models import LedgerEntry
from billing.reports import spending
from tickwork import clock
from tickwork.accounts import create_account
from tickwork.cli import main
from tickwork.spawner.loop import tick_and_recover
from tickwork.spawner.tick import Spawner

from .conftest import Database

T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
_accounts = itertools.count(1000)


def at(minute: int) -> datetime:
    return T0 + minute * MINUTE


def grant(session: Session, account: int, key: str, micro: int, minute: int, expires: int | None) -> int:
    entry_id, _ = post(
        session,
        Posting(
            key=key, account_id=account, kind="grant", amount=micro, at=at(minute),
            expires_at=at(expires) if expires is not None else None,
        ),
    )  # fmt: skip
    return entry_id


def charge(session: Session, account: int, key: str, micro: int, minute: int) -> None:
    post(
        session,
        Posting(
            key=key, account_id=account, kind="execution", amount=-micro, at=at(minute), app="a", job="j"
        ),
        enforce_limit=False,
    )


def removed(session: Session, grant_id: int) -> int | None:
    amount = session.scalar(
        select(LedgerEntry.amount).where(LedgerEntry.idempotency_key == expiry_key(grant_id))
    )
    return None if amount is None else -int(amount)


def ledger_sum(session: Session, account: int) -> int:
    return int(session.scalar(select(func.sum(LedgerEntry.amount)).where(LedgerEntry.account_id == account)))


def test_what_is_left_of_a_grant_leaves_once_and_other_credit_stays(session: Session) -> None:
    account = next(_accounts)
    post(session, Posting(key="buy", account_id=account, kind="purchase", amount=100, at=at(0)))
    welcome = grant(session, account, "welcome", 50, 1, expires=60)
    charge(session, account, "c1", 30, 10)  # from the grant: it expires first
    assert expire_due(session, at(59)) == []
    assert due_accounts(session, at(60)) == [account]
    (expired,) = expire_due(session, at(60))
    assert (expired.grant_id, expired.granted, expired.removed, expired.new) == (welcome, 50, 20, True)
    assert expire_due(session, at(61)) == [] and due_accounts(session, at(999)) == []
    assert balance_of(session, account)[0] == 100 == ledger_sum(session, account)  # the purchase, untouched
    # An expiry is not spending: reports leave it out.
    day = at(0).date()
    assert [(r.spent, r.count) for r in spending(session, start=day, end=day, by="kind")] == [(30, 1)]


def test_the_soonest_expiring_grant_pays_first_and_a_spent_grant_expires_with_nothing(
    session: Session,
) -> None:
    account = next(_accounts)
    late = grant(session, account, "late", 30, 0, expires=100)
    soon = grant(session, account, "soon", 30, 5, expires=50)
    charge(session, account, "c1", 40, 10)  # 30 from "soon", 10 from "late"
    expire_due(session, at(50))
    assert removed(session, soon) == 0
    charge(session, account, "c2", 5, 60)
    expire_due(session, at(100))
    assert removed(session, late) == 15
    assert balance_of(session, account)[0] == 0 == ledger_sum(session, account)


def test_charges_before_a_grant_do_not_use_it_but_an_overdraft_in_use_is_repaid_from_it(
    session: Session,
) -> None:
    account = next(_accounts)
    post(session, Posting(key="buy", account_id=account, kind="purchase", amount=10, at=at(0)))
    charge(session, account, "c1", 25, 1)  # 15 into overdraft
    gift = grant(session, account, "gift", 40, 2, expires=30)  # repays the 15 first
    charge(session, account, "c2", 5, 3)
    expire_due(session, at(30))
    assert removed(session, gift) == 20
    assert balance_of(session, account)[0] == 0


def test_an_expiry_never_takes_more_than_the_balance_holds(session: Session) -> None:
    account = next(_accounts)
    gift = grant(session, account, "gift", 50, 0, expires=10)
    charge(session, account, "late", 45, 12)  # the spawner was late: the expiring credit was spent
    (expired,) = expire_due(session, at(20))
    assert (expired.grant_id, expired.removed) == (gift, 5)
    assert balance_of(session, account)[0] == 0


def test_a_grant_that_expires_is_a_grant_in_the_future_only(session: Session) -> None:
    with pytest.raises(ValueError, match="expire after"):
        Posting(key="g", account_id=1, kind="grant", amount=5, at=at(5), expires_at=at(5))
    with pytest.raises(ValueError, match="only a grant"):
        Posting(key="c", account_id=1, kind="execution", amount=-5, at=at(0), expires_at=at(5))


# --- the reference model ------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    kind: str  # grant | purchase | charge
    amount: int
    minute: int
    lasts: int | None = None  # a grant's minutes until it expires (None: never)


def processing_order(ops: list[Op]) -> list[int]:
    """Op indexes in ledger order. Within one minute the ledger works by instant: grants that
    expire repay a debt before money that never expires arriving at the same instant, and
    grants come before charges."""

    def rank(op: Op) -> int:
        if op.kind == "grant":
            return 0 if op.lasts is not None else 1
        return 2

    return sorted(range(len(ops)), key=lambda i: (ops[i].minute, rank(ops[i]), i))


def reference(ops: list[Op]) -> tuple[dict[int, int], int]:
    """Expired amount per op index of each expiring grant, and the final balance, one entry at a time."""
    free, live, gone = 0, {}, {}  # live: op index -> [left, expires minute]
    order = processing_order(ops)
    posted = {index: rank for rank, index in enumerate(order)}  # grants expiring together: the older first

    def expire_until(minute: float) -> None:
        nonlocal free
        for index in sorted(live, key=lambda i: (live[i][1], posted[i])):
            if live[index][1] <= minute:
                left = live.pop(index)[0]
                balance = free + sum(v[0] for v in live.values()) + left
                gone[index] = min(left, max(0, balance))
                free += left - gone[index]

    for index in order:
        op = ops[index]
        expire_until(op.minute)
        if op.kind == "grant" and op.lasts is not None:
            repay = min(op.amount, max(0, -free))
            free += repay
            live[index] = [op.amount - repay, op.minute + op.lasts]
        elif op.kind == "charge":
            owed = op.amount
            for i in sorted(live, key=lambda i: (live[i][1], posted[i])):
                take = min(owed, live[i][0])
                live[i][0] -= take
                owed -= take
            free -= owed
        else:
            free += op.amount
    expire_until(float("inf"))
    return gone, free


operations = st.lists(
    st.one_of(
        st.builds(
            Op,
            st.just("grant"),
            st.integers(1, 100),
            st.integers(0, 60),
            st.one_of(st.none(), st.integers(1, 40)),
        ),
        st.builds(Op, st.just("purchase"), st.integers(1, 100), st.integers(0, 60)),
        st.builds(Op, st.just("charge"), st.integers(1, 80), st.integers(0, 120)),
    ),
    min_size=1,
    max_size=14,
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
@example(ops=[Op("grant", 1, 5, 5), Op("grant", 1, 0, 10), Op("charge", 1, 6)])  # same expiry: older pays
@example(  # a debt, then two grants at one instant: the expiring one repays it
    ops=[Op("purchase", 1, 0), Op("charge", 2, 0), Op("grant", 1, 1), Op("grant", 1, 1, 1)]
)
def test_expiries_match_a_model_that_charges_one_entry_at_a_time(session: Session, ops: list[Op]) -> None:
    account = next(_accounts)
    order = processing_order(ops)
    grant_ids: dict[int, int] = {}
    for index in order:
        op = ops[index]
        expire_due(session, at(op.minute))  # the spawner's tick at that minute
        key = f"{account}-{index}"
        if op.kind == "grant":
            grant_ids[index] = grant(
                session, account, key, op.amount, op.minute, op.minute + op.lasts if op.lasts else None
            )
        elif op.kind == "purchase":
            post(
                session,
                Posting(key=key, account_id=account, kind="purchase", amount=op.amount, at=at(op.minute)),
            )
        else:
            charge(session, account, key, op.amount, op.minute)
    expire_due(session, at(1000))
    session.commit()
    expected, balance = reference(ops)
    actual = {index: removed(session, grant_ids[index]) for index in expected}
    assert actual == expected
    assert balance_of(session, account)[0] == balance == ledger_sum(session, account)


# --- the CLI and the spawner -------------------------------------------------------------------


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    assert result.exit_code in (0, 2), f"{result.output}\n{result.exception!r}"
    return result.exit_code, result.output


def test_grant_expires_from_the_cli_and_the_spawner_tick_expires_it(db: Database, redis_conn: object) -> None:
    with db.session() as session:
        account = create_account(session, "Acme")
        session.commit()
        account_id = account.id
    with clock.frozen_at(T0):
        code, output = invoke("accounts", "grant", "acme", "10", "--expires", "2026-11-23", "--key", "trial")
        assert code == 0 and "expiring 2026-11-24T00:00:00-05:00" in output
        code, _ = invoke("accounts", "grant", "acme", "5", "--key", "forever")
        assert code == 0
        code, output = invoke("accounts", "grant", "acme", "1", "--expires", "2026-11-22")
        assert code == 2 and "must be in the future" in output
        code, output = invoke("accounts", "grant", "acme", "1", "--expires", "soon")
        assert code == 2 and "--expires takes a date" in output
        code, output = invoke("accounts", "grant", "acme", "1", "--expires", "2026-11-23T18:30")  # Eastern
        assert code == 0 and "expiring 2026-11-23T18:30:00-05:00" in output
    with db.session() as session:
        charge(session, account_id, "run", 3_000_000, 10)
        session.commit()
    spawner = Spawner(db.sessions, redis_conn, owner="test")  # type: ignore[arg-type]
    midnight = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
    for moment in (midnight - MINUTE, midnight, midnight + MINUTE):
        with clock.frozen_at(moment):
            tick_and_recover(spawner, moment)
    with db.session() as session:
        expiries = session.execute(
            select(LedgerEntry.amount, LedgerEntry.detail).where(LedgerEntry.kind == "expiry")
        ).all()
        # the 18:30 grant (1 credit) paid the charge's first credit, the trial the other 2
        assert sorted(amount for amount, _ in expiries) == [-8_000_000, 0]
        assert balance_of(session, account_id)[0] == 5_000_000 == ledger_sum(session, account_id)
        assert all(json.dumps(detail) for _, detail in expiries)


def test_a_charge_is_still_refused_past_the_limit_with_expiring_credit(session: Session) -> None:
    account = next(_accounts)
    grant(session, account, "g", 10, 0, expires=5)
    with pytest.raises(LimitExceeded):
        post(session, Posting(key="c", account_id=account, kind="execution", amount=-11, at=at(1)))
