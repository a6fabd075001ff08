"""Billing (spending charts, top jobs, CSV) and the outbox (emails and SMS the platform sent)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from flask import Response, flash, g, render_template, request
from sqlalchemy import func, select

from billing import MICRO_PER_CREDIT
from billing.ledger import reporting_day
from billing.models import DailyRollup
from billing.reports import GROUPINGS, SPENDING_KINDS, spending
from tickwork import clock, reads
from tickwork.models import Message
from tickwork.web.charts import stacked_by_day
from tickwork.web.errors import ApiError
from tickwork.web.pages_common import bp, me_, scoped_account

TOP_JOBS = 10
OUTBOX_PAGE = 100


def _period() -> tuple[date, date]:
    """The days asked for (``from``, ``to``, Eastern, inclusive); this month so far by default."""
    today = reporting_day(clock.now())
    first, last = today.replace(day=1), today
    for name in ("from", "to"):
        text = request.args.get(name, "")
        if not text:
            continue
        try:
            day = date.fromisoformat(text)
        except ValueError:
            flash(f"{name.capitalize()} should be a date like 2026-11-01; it was left out.", "error")
            continue
        if name == "from":
            first = day
        else:
            last = day
    if last < first:
        flash("The period ends before it starts; showing this month instead.", "error")
        first, last = today.replace(day=1), today
    return first, last


def daily_spending(account_id: int, first: date, last: date, by: str) -> dict[date, dict[str, float]]:
    """Credits spent per Eastern day and app (or kind), from the billing rollups."""
    column = DailyRollup.app if by == "app" else DailyRollup.kind
    query = (
        select(DailyRollup.day, column, func.sum(DailyRollup.amount))
        .where(
            DailyRollup.account_id == account_id,
            DailyRollup.day >= first,
            DailyRollup.day <= last,
            DailyRollup.kind.in_(SPENDING_KINDS),
        )
        .group_by(DailyRollup.day, column)
    )
    series: dict[date, dict[str, float]] = defaultdict(dict)
    for day, name, amount in g.db.execute(query):
        series[day][name or "(no app)"] = -int(amount) / MICRO_PER_CREDIT
    return series


@bp.get("/billing")
def billing() -> Any:
    """Owners' and staff's: DESIGN.md gives billing to owners (members see the balance)."""
    me_().require_owner()
    account = scoped_account()
    first, last = _period()
    by_app = stacked_by_day(
        "Credits per day by app", daily_spending(account.id, first, last, "app"), first, last
    )
    by_kind = stacked_by_day(
        "Credits per day by kind", daily_spending(account.id, first, last, "kind"), first, last
    )
    jobs = spending(g.db, start=first, end=last, by="job", account_id=account.id)
    top = sorted(jobs, key=lambda row: (-row.spent, row.app or "", row.job or ""))[:TOP_JOBS]
    report = reads.billing_report(g.db, first=first, last=last, by="kind", account_id=account.id)
    return render_template(
        "billing.html",
        account=account,
        first=first,
        last=last,
        charts=[("by-app", by_app), ("by-kind", by_kind)],
        top_jobs=top,
        kinds=report["rows"],
        total=report["total_credits"],
        groupings=list(GROUPINGS),
    )


@bp.get("/billing.csv")
def billing_csv() -> Any:
    """The billing report as CSV (the CLI's ``billing report --format csv`` columns)."""
    me_().require_owner()
    account = scoped_account()
    first, last = _period()
    by = request.args.get("by") or "app"
    if by not in GROUPINGS:
        raise ApiError(422, "invalid", f"by is one of {', '.join(GROUPINGS)}")
    rows = spending(g.db, start=first, end=last, by=by, account_id=account.id)
    text = reads.report_csv(rows, {account.id: account.slug})
    filename = f"tickwork-{account.slug}-{first}-{last}-by-{by}.csv"
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/outbox")
def outbox() -> Any:
    account = scoped_account()
    channel = request.args.get("channel") or None
    if channel not in (None, "email", "sms"):
        raise ApiError(422, "invalid", "channel is email or sms")
    query = (
        select(Message).where(Message.account_id == account.id).order_by(Message.id.desc()).limit(OUTBOX_PAGE)
    )
    if channel:
        query = query.where(Message.channel == channel)
    return render_template(
        "outbox.html", account=account, messages=list(g.db.scalars(query)), channel=channel or ""
    )
