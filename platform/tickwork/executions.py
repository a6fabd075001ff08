"""Execution records: how runs are keyed, started, skipped and finished.

A scheduled run is keyed by (app, job, account, slot). The key is both the RQ job id and
the unique ``slot_key`` of its execution row, so the same slot can be queued at most once
while its job exists in Redis, and recorded as run at most once, ever.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tickwork import clock
from tickwork.models import Execution

MAX_RESULT_BYTES = 64 * 1024
SLOT_FORMAT = "%Y%m%d%H%M"
SLOT_KEY = re.compile(r"^s(?P<app>\d+)-(?P<job>[A-Za-z_][A-Za-z0-9_]*)-(?P<account>\d+)-(?P<slot>\d{12})$")


def slot_text(slot: datetime) -> str:
    """A UTC slot as 12 digits (``202611231300``): compact, sortable, id-safe."""
    return slot.astimezone(UTC).strftime(SLOT_FORMAT)


def parse_slot(text: str) -> datetime:
    return datetime.strptime(text, SLOT_FORMAT).replace(tzinfo=UTC)


def slot_key(app_id: int, job: str, account_id: int, slot: datetime) -> str:
    """The RQ job id and execution key of one scheduled run: only [A-Za-z0-9_-]."""
    return f"s{app_id}-{job}-{account_id}-{slot_text(slot)}"


@dataclass(frozen=True)
class ScheduledRun:
    """What the spawner hands the runner for one (app, job, account, slot)."""

    app_id: int
    job: str
    account_id: int
    slot: datetime
    source: str  # schedule | catch_up
    skipped_slots: int = 0

    @property
    def key(self) -> str:
        return slot_key(self.app_id, self.job, self.account_id, self.slot)

    def job_kwargs(self) -> dict[str, Any]:
        """The RQ job's keyword arguments: empty for a plain slot, since the job id is the key.

        Every queued job sits in Redis; an empty call keeps its hash under 600 bytes.
        """
        kwargs: dict[str, Any] = {}
        if self.source != "schedule":
            kwargs["source"] = self.source
        if self.skipped_slots:
            kwargs["skipped"] = self.skipped_slots
        return kwargs

    @classmethod
    def from_job(cls, job_id: str, kwargs: dict[str, Any]) -> ScheduledRun:
        """The run an RQ job stands for, from its id (the slot key) and keyword arguments."""
        match = SLOT_KEY.match(job_id)
        if match is None:
            raise ValueError(f"not a scheduled-run key: {job_id!r}")
        return cls(
            app_id=int(match["app"]),
            job=match["job"],
            account_id=int(match["account"]),
            slot=parse_slot(match["slot"]),
            source=str(kwargs.get("source", "schedule")),
            skipped_slots=int(kwargs.get("skipped", 0)),
        )


_TABLE = cast(Table, Execution.__table__)
_INSERT = _TABLE.insert()
_UPDATE = _TABLE.update().where(_TABLE.c.id == bindparam("execution_id"))


def insert_row(session: Session, row: dict[str, Any]) -> int:
    """Insert one execution from its column values (in the session's transaction); its id.

    A Core statement built once: no ORM flush, and the column defaults still apply. Raises
    IntegrityError when the row's ``slot_key`` is recorded already.
    """
    result = session.connection().execute(_INSERT, row)
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def update_row(session: Session, execution_id: int, values: dict[str, Any]) -> None:
    """Set these columns of one execution (in the session's transaction)."""
    session.connection().execute(_UPDATE, {"execution_id": execution_id, **values})


def insert_scheduled(session: Session, run: ScheduledRun, fields: dict[str, Any]) -> Execution | None:
    """Record a scheduled run as started; ``None`` if its slot was already recorded.

    The unique ``slot_key`` decides: of two deliveries of the same slot, exactly one insert
    succeeds, whatever the timing.
    """
    execution = Execution(
        slot_key=run.key,
        app_id=run.app_id,
        job=run.job,
        account_id=run.account_id,
        source=run.source,
        scheduled_for=run.slot,
        skipped_slots=run.skipped_slots,
        **fields,
    )
    session.add(execution)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    return execution


def claim(session: Session, execution_id: int, fields: dict[str, Any]) -> Execution | None:
    """Move a queued execution to running; ``None`` if another delivery got there first.

    A conditional update whose row count is checked: only one worker can win the claim.
    """
    claimed = session.execute(
        update(Execution)
        .where(Execution.id == execution_id, Execution.status == "queued")
        .values(status="running", attempts=Execution.attempts + 1, **fields)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.get(Execution, execution_id, populate_existing=True)


def record_skip(
    session: Session, base: dict[str, Any], reason: str, parent_id: int | None = None
) -> Execution:
    """Record a run that was not executed, with why (paused, overlap, duplicate...)."""
    now = clock.now()
    execution = Execution(
        **base, status="skipped", skip_reason=reason, parent_id=parent_id, started_at=now, finished_at=now
    )
    session.add(execution)
    session.commit()
    return execution


def capped_result(value: Any) -> Any:
    """The job's return value as JSON, replaced by a note when it is not JSON or too large."""
    if value is None:
        return None
    try:
        encoded = json.dumps(value, default=str, allow_nan=False)
    except (TypeError, ValueError) as error:
        return {"note": f"the result is not JSON: {error}"}
    if len(encoded) > MAX_RESULT_BYTES:
        return {"note": f"the result was {len(encoded):,} bytes; at most {MAX_RESULT_BYTES:,} are kept"}
    return json.loads(encoded)


def running_for(session: Session, app_id: int, job: str, account_id: int) -> list[Execution]:
    return list(
        session.scalars(
            select(Execution).where(
                Execution.app_id == app_id,
                Execution.job == job,
                Execution.account_id == account_id,
                Execution.status == "running",
            )
        )
    )
