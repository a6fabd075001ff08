"""Grants that expire: the spawner expires the ones due once per tick.

``billing.expiry`` works out and writes each expiry; this runs it on the platform's clock, in
its own transaction, and never lets a failure stop the tick (the next tick tries again: the
entries are idempotent).
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from billing.expiry import Expired, expire_due
from tickwork import clock

log = logging.getLogger(__name__)


def expire_grants(sessions: sessionmaker[Session]) -> list[Expired]:
    """Expire every grant due at ``clock.now()``; what was expired (nothing on failure)."""
    try:
        with sessions() as session:
            expired = expire_due(session, clock.now())
            session.commit()
    except Exception:
        log.exception("could not expire the grants due; the next tick tries again")
        return []
    for grant in expired:
        if grant.new:
            log.info(
                "grant %s of account %s expired: %s of %s micro-credits unspent",
                grant.grant_id, grant.account_id, grant.removed, grant.granted,
            )  # fmt: skip
    return expired
