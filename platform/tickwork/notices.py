"""Notices the platform sends account owners itself (not billed to them).

When an execution is skipped for lack of credits, the owner hears about it once a day, not
once per skipped run: a job due every minute must not send 1,440 emails.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing.ledger import balance_of, claim_daily_notice, open_account, reporting_day
from billing.reports import credits_text
from tickwork import clock
from tickwork.context.email import EmailSender
from tickwork.metering import UsageRecorder
from tickwork.models import Account, User
from tickwork.settings import Settings

log = logging.getLogger(__name__)


def out_of_credits(
    sessions: sessionmaker[Session], settings: Settings, account_id: int, app: str, job: str
) -> bool:
    """Email the owner that runs are being skipped, at most once per Eastern day; True if sent."""
    now = clock.now()
    today = reporting_day(now)
    with sessions() as session:
        open_account(session, account_id, now)  # an account never billed has no balance row yet
        if not claim_daily_notice(session, account_id, today):
            return False
        session.commit()
        account = session.get(Account, account_id)
        owner = session.scalar(
            select(User.email)
            .where(User.account_id == account_id, User.role == "owner")
            .order_by(User.id)
            .limit(1)
        )
        balance, overdraft = balance_of(session, account_id)
    if account is None or owner is None:
        log.warning("account %s is out of credits and has no owner to tell", account_id)
        return False
    text = (
        f"Hello,\n\nOn {today:%A, %B %d} Tickwork skipped runs of {app}.{job} for {account.name} "
        f"because the account's credit ran out (balance {credits_text(balance)}, "
        f"overdraft limit {credits_text(overdraft)}).\n"
        "Scheduled jobs resume on their own once credits are added.\n\n"
        "This notice is sent at most once a day.\n"
    )
    sender = EmailSender(
        sessions, settings, UsageRecorder(), account_id=account_id, app_id=None, execution_id=None
    )
    sender.send(owner, f"{account.name}: jobs are paused for lack of credits", text)
    return True
