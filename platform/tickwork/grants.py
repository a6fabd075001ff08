"""Credit grants by staff: one ledger entry each, idempotent when given a key."""

from __future__ import annotations

import uuid
from datetime import datetime
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
    if not finite:
        raise BadInput(f"{what}: {value!r} is not a number of credits like 100 or 2.5")
    if abs(Decimal(str(value))) > MAX_GRANT_CREDITS:
        raise BadInput(f"{what}: at most {MAX_GRANT_CREDITS:,} credits at a time; got {value}")
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
    expires_at: datetime | None = None,
) -> dict[str, Any]:
    """Add credits to ``account``; granting twice with the same key grants once.

    With ``expires_at``, what is left of the grant then leaves the balance (expiring credit is
    spent first; see ``billing.expiry``).
    """
    amount = micro_credits(credits)
    if amount <= 0:
        raise BadInput("credits must be more than 0")
    now = clock.now()
    if expires_at is not None and expires_at <= now:
        raise BadInput(f"the expiry must be in the future; {expires_at.isoformat()} has passed")
    if note is not None and not isinstance(note, str) or key is not None and not isinstance(key, str):
        raise BadInput("note and key are text")
    detail = {k: v for k, v in {"note": note, "by": by}.items() if v}
    posting = Posting(
        key=key or f"grant:{uuid.uuid4().hex}", account_id=account.id, kind="grant", amount=amount,
        at=now, detail=detail, expires_at=expires_at,
    )  # fmt: skip
    entry_id, new = post(session, posting)
    balance, _ = balance_of(session, account.id)
    return {
        "entry": entry_id,
        "granted": new,
        "credits": credits_text(amount),
        "balance": credits_text(balance),
    }
