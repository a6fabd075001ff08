"""Grants that expire: the spawner expires the ones due once per tick.

``billing.expiry`` works out and writes each expiry; this runs it on the platform's clock, one
transaction per account (an account's charges wait only for its own expiry), and never lets a
failure stop the tick (the next tick tries again: the entries are idempotent).
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from billing.expiry import Expired, due_accounts, expire_account
from tickwork import clock

log = logging.getLogger(__name__)


def expire_grants(sessions: sessionmaker[Session]) -> list[Expired]:
    """Expire every grant due at ``clock.now()``; what was expired."""
    now = clock.now()
    expired: list[Expired] = []
    try:
        with sessions() as session:
            accounts = due_accounts(session, now)
            for account_id in accounts:
                try:
                    done = expire_account(session, account_id, now)
                    session.commit()
                    expired.extend(done)
                except Exception:
                    session.rollback()
                    log.exception(
                        "could not expire account %s's grants; the next tick tries again", account_id
                    )
    except Exception:
        log.exception("could not look for grants to expire; the next tick tries again")
    for grant in expired:
        if grant.new:
            log.info(
                "grant %s of account %s expired: %s of %s micro-credits unspent",
                grant.grant_id, grant.account_id, grant.removed, grant.granted,
            )  # fmt: skip
    return expired
