"""Eight processes charging one account 50,000 times at once: the balance stays exact.

Each charge is one ledger post (entry + conditional balance UPDATE + rollup) in its own
transaction, as the runner's meter makes them. More is charged than the account can pay, so
some charges must be refused, and the balance must never pass the overdraft limit.
"""

from __future__ import annotations

import multiprocessing
import os
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from billing.ledger import LimitExceeded, Posting, balance_of, post, set_overdraft
from billing.models import DailyRollup, LedgerEntry
from tickwork.db import make_engine

from .conftest import Database

PROCESSES = 8
CHARGES = int(os.environ.get("TICKWORK_TEST_CHARGES", "50000"))
CHARGE = 3_000  # micro-credits
GRANT = CHARGES * CHARGE * 2 // 3  # pays for two thirds of the charges...
OVERDRAFT = CHARGES * CHARGE // 7  # ...plus a seventh more on credit; the rest are refused
AT = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def _charge_many(url: str, worker: int, count: int, results: multiprocessing.Queue[tuple[int, int]]) -> None:
    engine = make_engine(url)
    sessions = sessionmaker(engine)
    accepted = refused = 0
    with sessions() as session:
        for n in range(count):
            posting = Posting(
                key=f"w{worker}-{n}", account_id=1, kind="execution", amount=-CHARGE, at=AT, app="a", job="j"
            )
            try:
                post(session, posting)
                session.commit()
                accepted += 1
            except LimitExceeded:
                session.rollback()
                refused += 1
    engine.dispose()
    results.put((accepted, refused))


def test_concurrent_charges_keep_the_balance_exact_and_within_the_overdraft(db: Database) -> None:
    with db.session() as session:
        post(session, Posting(key="grant", account_id=1, kind="grant", amount=GRANT, at=AT))
        set_overdraft(session, 1, OVERDRAFT, AT)
        session.commit()
    db.engine.dispose()

    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue[tuple[int, int]] = context.Queue()
    share = CHARGES // PROCESSES
    processes = [
        context.Process(target=_charge_many, args=(db.url, w, share, results)) for w in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=600) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    accepted = sum(a for a, _ in outcomes)
    refused = sum(r for _, r in outcomes)
    assert accepted + refused == CHARGES

    with db.session() as session:
        balance, overdraft = balance_of(session, 1)
        assert accepted == (GRANT + OVERDRAFT) // CHARGE  # exactly as many as fit, no more
        assert balance == GRANT - accepted * CHARGE >= -overdraft
        assert session.scalar(select(func.sum(LedgerEntry.amount))) == balance
        assert session.scalar(select(func.count(LedgerEntry.id))) == accepted + 1
        spent = session.scalar(select(func.sum(DailyRollup.amount)).where(DailyRollup.kind == "execution"))
        assert spent == -accepted * CHARGE
