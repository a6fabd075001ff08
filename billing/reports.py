"""Spending reports, read from the daily rollups (never a scan of the ledger).

A report covers what accounts spent: executions, AI, email and SMS, less refunds, plus
adjustments. Credits and purchases are money in, shown by the account's balance and ledger,
not here. Spent credits are positive in a report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing import MICRO_PER_CREDIT
from billing.models import DailyRollup

SPENDING_KINDS = ("execution", "ai", "email", "sms", "refund", "adjustment")
GROUPINGS = {
    "app": ("app",),
    "job": ("app", "job"),
    "day": ("day",),
    "kind": ("kind",),
}


@dataclass(frozen=True)
class ReportRow:
    account: int
    app: str | None
    job: str | None
    day: date | None
    kind: str | None
    count: int
    spent: int  # micro-credits

    def as_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "app": self.app,
            "job": self.job,
            "day": self.day.isoformat() if self.day else None,
            "kind": self.kind,
            "count": self.count,
            "credits": credits_text(self.spent),
        }


def credits_text(micro: int) -> str:
    """Micro-credits as a decimal string of 6 places: 12500000 -> "12.500000"."""
    return str((Decimal(micro) / MICRO_PER_CREDIT).quantize(Decimal("0.000001")))


def spending(
    session: Session,
    *,
    start: date,
    end: date,
    by: str = "app",
    account_id: int | None = None,
) -> list[ReportRow]:
    """Spending per account and ``by`` (app, job, day or kind), days ``start``..``end`` inclusive."""
    if by not in GROUPINGS:
        raise ValueError(f"group by one of {', '.join(GROUPINGS)}; got {by!r}")
    columns = [getattr(DailyRollup, name) for name in GROUPINGS[by]]
    query = (
        select(DailyRollup.account_id, *columns, func.sum(DailyRollup.count), func.sum(DailyRollup.amount))
        .where(DailyRollup.day >= start, DailyRollup.day <= end, DailyRollup.kind.in_(SPENDING_KINDS))
        .group_by(DailyRollup.account_id, *columns)
        .order_by(DailyRollup.account_id, *columns)
    )
    if account_id is not None:
        query = query.where(DailyRollup.account_id == account_id)
    rows = []
    for record in session.execute(query):
        values = dict(zip(GROUPINGS[by], record[1:-2], strict=True))
        rows.append(
            ReportRow(
                account=int(record[0]),
                app=values.get("app"),
                job=values.get("job"),
                day=values.get("day"),
                kind=values.get("kind"),
                count=int(record[-2]),
                spent=-int(record[-1]),
            )
        )
    return rows
