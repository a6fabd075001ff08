"""Pruning old executions: the run history is kept for a set number of days, not for ever.

Executions are the platform's biggest table: every run is a row with its logs and result
(about 1.4 KB with its indexes, measured in the load run; 10,000 accounts with a job every
fifteen minutes make ~1 million rows a day). The ledger, its daily rollups and the messages
sent are kept; an execution older than the retention period goes, with its AI call records
(kept so a retried run does not pay twice for the same call: their use ends with the run).

Finished executions only: a ``queued`` or ``running`` one, however old, is left for the
spawner's sweeps to settle. Rows go in batches by id, oldest first, each batch its own short
transaction, so pruning never holds locks on the table for long. The id of the last row
created before the cut-off is found by bisection on the primary key (ids grow with
``created_at``), so no index on time is needed and a batch costs the same at any table size.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, select
from sqlalchemy.orm import Session

from tickwork import clock
from tickwork.models import AiCall, Execution

log = logging.getLogger(__name__)

FINISHED = ("succeeded", "failed", "timed_out", "skipped")
BATCH = 5_000  # rows a transaction


def cutoff(keep_days: int, now: datetime | None = None) -> datetime:
    """Executions created before this instant are past ``keep_days`` of retention."""
    return (now or clock.now()) - timedelta(days=keep_days)


def last_id_before(session: Session, before: datetime) -> int | None:
    """The largest execution id created before ``before`` (by bisection on the id); None if none."""
    low, high = session.execute(select(func.min(Execution.id), func.max(Execution.id))).one()
    if low is None or high is None:
        return None

    def created_at_or_after(execution_id: int) -> datetime | None:
        """``created_at`` of the first row with an id at or after ``execution_id``."""
        return session.scalar(
            select(Execution.created_at).where(Execution.id >= execution_id).order_by(Execution.id).limit(1)
        )

    first = created_at_or_after(low)
    if first is None or first >= before:
        return None
    while low < high:  # invariant: the row at (or after) low was created before the cut-off
        middle = (low + high + 1) // 2
        created = created_at_or_after(middle)
        if created is not None and created < before:
            low = middle
        else:
            high = middle - 1
    return low


def prune(session: Session, before: datetime, limit: int = BATCH) -> Iterator[int]:
    """Delete the finished executions created before ``before``, oldest first, ``limit`` a
    transaction with their AI call records; yields each batch's count (stop iterating to stop)."""
    last = last_id_before(session, before)
    session.rollback()
    if last is None:
        return
    while pruned := _prune_batch(session, before, last, limit):
        yield pruned


def _prunable(before: datetime, last: int) -> ColumnElement[bool]:
    """Finished, created before ``before``, at or below the boundary id ``last``."""
    return and_(Execution.id <= last, Execution.created_at < before, Execution.status.in_(FINISHED))


def _prune_batch(session: Session, before: datetime, last: int, limit: int) -> int:
    ids = list(
        session.scalars(
            select(Execution.id).where(_prunable(before, last)).order_by(Execution.id).limit(limit)
        )
    )
    if not ids:
        session.rollback()
        return 0
    session.execute(delete(AiCall).where(AiCall.execution_id.in_(ids)))
    session.execute(delete(Execution).where(Execution.id.in_(ids)))
    session.commit()
    return len(ids)


def count_prunable(session: Session, before: datetime) -> int:
    """How many executions ``prune`` would delete in all."""
    last = last_id_before(session, before)
    if last is None:
        return 0
    return int(
        session.scalar(select(func.count()).select_from(Execution).where(_prunable(before, last))) or 0
    )
