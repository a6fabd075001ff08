"""Credit grants by staff: one ledger entry each, idempotent when given a key."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from billing.ledger import Posting, balance_of, post
from billing.rates import RatesError, micro
from billing.reports import credits_text
from tickwork import clock
from tickwork.errors import BadInput
from tickwork.models import Account

MAX_GRANT_CREDITS = Decimal(10**9)


def micro_credits(value: object, what: str = "credits") -> int:
    """A decimal amount of credits ("100", "2.5") as exact micro-credits, or a clear error."""
    try:
        finite = Decimal(str(value)).is_finite()
    except InvalidOperation:
        finite = False
    if not finite or (finite and abs(Decimal(str(value))) > MAX_GRANT_CREDITS):
        raise BadInput(
            f"{what} is a number of credits up to {MAX_GRANT_CREDITS:,}, like 100 or 2.5; got {value!r}"
        )
    try:
        return micro(value, what)
    except RatesError as error:
        raise BadInput(str(error)) from None


def grant(
    session: Session,
    account: Account,
    credits: object,
    note: object = None,
    key: object = None,
    *,
    by: str = "",
) -> dict[str, Any]:
    """Add credits to ``account``; granting twice with the same key grants once."""
    amount = micro_credits(credits)
    if amount <= 0:
        raise BadInput("credits must be more than 0")
    if note is not None and not isinstance(note, str) or key is not None and not isinstance(key, str):
        raise BadInput("note and key are text")
    detail = {k: v for k, v in {"note": note, "by": by}.items() if v}
    posting = Posting(
        key=key or f"grant:{uuid.uuid4().hex}", account_id=account.id, kind="grant", amount=amount,
        at=clock.now(), detail=detail,
    )  # fmt: skip
    entry_id, new = post(session, posting)
    balance, _ = balance_of(session, account.id)
    return {
        "entry": entry_id,
        "granted": new,
        "credits": credits_text(amount),
        "balance": credits_text(balance),
    }
