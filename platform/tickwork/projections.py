"""What installed schedules will cost: per job, per app, per account, and days of credit left.

Runs per day is the schedule's exact nominal figure (a Monday-to-Friday job averages 5/7
of its weekday runs) times the job's base credits; usage (AI, email, SMS) is not projected.
That average is what days of credit left are worked out from. ``*_micro_on`` give one
Eastern date's figure instead: the runs that date really has (its weekday, and its DST
change if it has one), which is what a simulated day charges.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from fractions import Fraction

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.projection import daily_micro_credits
from tickwork.models import Account, App, Installation, JobSchedule
from tickwork.schedule import parse_many


def job_daily_micro(schedule: JobSchedule) -> int:
    return daily_micro_credits(parse_many(list(schedule.expressions)).runs_per_day, schedule.credits)


def runs_per_day(schedule: JobSchedule) -> Fraction:
    return parse_many(list(schedule.expressions)).runs_per_day


def job_micro_on(schedule: JobSchedule, day: date) -> int:
    """Base micro-credits the job's runs on the Eastern date ``day`` cost."""
    runs = len(parse_many(list(schedule.expressions)).fire_times_on(day))
    return daily_micro_credits(runs, schedule.credits)


def account_daily_micro(
    session: Session, account_ids: list[int] | None = None, day: date | None = None
) -> dict[int, int]:
    """Projected base micro-credits a day per account, from installations that are on.

    The average day, or with ``day`` that Eastern date.
    """
    query = (
        select(Installation.account_id, JobSchedule)
        .join(App, App.id == Installation.app_id)
        .join(JobSchedule, JobSchedule.app_id == App.id)
        .join(Account, Account.id == Installation.account_id)
        .where(Installation.schedule_status == "on", App.enabled, Account.status == "active")
    )
    if account_ids is not None:
        query = query.where(Installation.account_id.in_(account_ids))
    totals: dict[int, int] = defaultdict(int)
    for account_id, schedule in session.execute(query):
        totals[account_id] += job_daily_micro(schedule) if day is None else job_micro_on(schedule, day)
    return dict(totals)
