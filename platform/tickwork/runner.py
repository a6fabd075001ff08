"""The runner: what a worker does with one RQ job, from record to outcome.

``execute`` is the function every Tickwork RQ job calls. It owns the whole life of an
execution (convention: one job wrapper owns the session, the context, metering, commit and
rollback; job functions stay plain):

1. record the execution as running (a scheduled slot is inserted under its unique key; a
   manual, follow-up or retried run is claimed with a conditional update), or record a
   duplicate delivery as skipped;
2. check it may run: installation on and app enabled (else ``paused``), account active,
   no run of the same job and account still going when overlap is ``skip``;
3. charge the base credits once per execution (never per attempt);
4. run the job function, from a fresh module namespace, with its context, under its
   timeout, capturing ``print`` and ``ctx.log``;
5. record the outcome; a failure with retries left is queued again with backoff.

Nothing of a finished RQ job stays in Redis: results live in the database.
"""

from __future__ import annotations

import copy
import logging
import os
import socket
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

from redis import Redis
from redis.exceptions import RedisError
from rq import get_current_job
from rq.job import Job
from sqlalchemy import Executable, and_, bindparam, exists, select
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, aliased, sessionmaker

from billing import MICRO_PER_CREDIT
from billing.ledger import LimitExceeded, Posting, charged_for, post
from tickwork import clock, executions, notices
from tickwork.billing_meter import LedgerMeter, rates_from
from tickwork.bundles import AppBundle, isolated_job_function, parse_bundle
from tickwork.context import AccountInfo, JobContext
from tickwork.context.ai import AIClient
from tickwork.context.email import EmailSender
from tickwork.context.http import HttpClient
from tickwork.context.log_capture import LogCapture
from tickwork.context.settings_store import SecretBox, SettingsMapping, load_env
from tickwork.context.sms import SmsSender
from tickwork.db import session_factory
from tickwork.executions import ScheduledRun
from tickwork.metering import InsufficientCredits, Meter, UsageRecorder, empty_usage
from tickwork.models import (
    Account,
    App,
    AppVersion,
    Execution,
    Installation,
    InstallationSetting,
    JobSchedule,
    User,
)
from tickwork.queues import QUEUE_NAME, connection, enqueue_execution, execution_job_id
from tickwork.settings import Settings, get_settings
from tickwork.state import AppState
from tickwork.timeouts import JobTimeout, deadline

log = logging.getLogger(__name__)

OVERLAP_KEY = "tickwork:running:{app}:{job}:{account}"
OVERLAP_GRACE_SECONDS = 60  # the overlap mark outlives a dead worker by at most this much
RETRY_BACKOFF_SECONDS = (10, 60, 300, 900, 1800)  # attempt 2, 3, 4...: waits before each retry

# Which process holds which execution, for the worker supervisor: ``(execution, deadline,
# held_until)``, time.monotonic() readings. Its watchdog kills a job past ``deadline``; its
# heartbeat says the run is held until ``held_until``: from the job's start until its outcome
# is recorded, which may wait for the database, but never longer than that wait may last.
CurrentHook = Callable[[int | None, float | None, float | None], None]
_current_hook: CurrentHook | None = None
HOLD_MARGIN_SECONDS = 60.0  # past the longest wait for the database, a held run is let go


def set_current_hook(hook: CurrentHook | None) -> None:
    global _current_hook
    _current_hook = hook


def _report(execution_id: int | None, deadline: float | None) -> None:
    """Tell the supervisor (if any) about the run this process holds; see ``_current_hook``."""
    if _current_hook is None:
        return
    if execution_id is None:
        _current_hook(None, None, None)
        return
    held_until = max(deadline or 0.0, time.monotonic()) + DATABASE_WAIT_SECONDS + HOLD_MARGIN_SECONDS
    _current_hook(execution_id, deadline, held_until)


def worker_name() -> str:
    job = get_current_job()
    name = getattr(job, "worker_name", None) if job is not None else None
    return str(name or f"{socket.gethostname()}.{os.getpid()}")


@dataclass(frozen=True)
class JobInfo:
    """What the runner needs of the RQ job it runs for; ``delivery`` tells this delivery's
    rows from another's (see ``Execution.delivery``)."""

    id: str | None
    enqueued_at: datetime | None
    worker: str
    delivery: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class TargetApp:
    id: int
    slug: str
    enabled: bool


@dataclass(frozen=True)
class TargetVersion:
    id: int
    checksum: str


@dataclass(frozen=True)
class TargetSchedule:
    overlap: str
    timeout: int
    credits: int
    retries: int
    params: dict[str, Any]


@dataclass(frozen=True)
class TargetInstallation:
    id: int
    is_on: bool


@dataclass(frozen=True)
class TargetAccount:
    id: int
    name: str
    is_active: bool


@dataclass
class Target:
    """Everything about the (app, job, account) an execution is for, read at its start."""

    app: TargetApp
    version: TargetVersion | None
    schedule: TargetSchedule | None
    installation: TargetInstallation | None
    account: TargetAccount
    owner_email: str | None = None
    owner_phone: str | None = None
    has_settings: bool = True  # False: the installation has no env or secrets to read

    def run_fields(self, source: str, params: dict[str, Any] | None) -> dict[str, Any]:
        """What an execution records of its target: installation, version and (for a scheduled
        run without params of its own) the schedule's params."""
        fields: dict[str, Any] = {
            "installation_id": self.installation.id if self.installation else None,
            "app_version_id": self.version.id if self.version else None,
        }
        if self.schedule is not None and not params and source in ("schedule", "catch_up"):
            fields["params"] = dict(self.schedule.params)
        return fields


@dataclass
class Started:
    """An execution recorded as running, its mark taken and its base charged: ready to run."""

    id: int
    app_id: int
    job: str
    account_id: int
    source: str
    scheduled_for: datetime
    params: dict[str, Any]
    attempts: int
    target: Target
    charged: int | None  # micro-credits charged at the start; None: ask the ledger at the end


def execute(**kwargs: Any) -> None:
    """The RQ entry point: a scheduled slot (the job id is its key), or ``execution=`` a recorded run."""
    job = get_current_job()
    info = JobInfo(
        id=job.id if job is not None else None,
        enqueued_at=job.enqueued_at if job is not None else None,
        worker=worker_name(),
    )
    marks: list[tuple[str, int]] = []
    redis = connection()
    try:
        _runner(redis).run(kwargs, info, marks)
    finally:
        for key, holder in marks:
            release_mark(redis, key, holder)


def execute_job(job: Job, worker: str, marks: list[tuple[str, int]]) -> None:
    """``execute`` for ``tickwork.worker.TickworkWorker``, which releases the overlap ``marks``
    left in the list (with the job's own bookkeeping, in one Redis call)."""
    info = JobInfo(id=job.id, enqueued_at=job.enqueued_at, worker=worker)
    _runner(connection()).run(job.kwargs, info, marks)


def _runner(redis: Redis) -> Runner:
    settings = get_settings()
    sessions = session_factory()
    meter = UsageRecorder(inner=LedgerMeter(sessions, rates_from(str(settings.rates_file))))
    return Runner(settings, sessions, redis, meter)


class Runner:
    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], redis: Redis, meter: Meter
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.redis = redis
        self.meter = meter

    def run(
        self, kwargs: dict[str, Any], job: JobInfo | None = None, marks: list[tuple[str, int]] | None = None
    ) -> None:
        """Run one RQ job's execution. Overlap marks taken are appended to ``marks`` for the
        caller to release once the run is over (released here when ``marks`` is not given)."""
        if job is None:
            current = get_current_job()
            job = JobInfo(
                id=current.id if current is not None else None,
                enqueued_at=current.enqueued_at if current is not None else None,
                worker=worker_name(),
            )
        if marks is None:
            taken: list[tuple[str, int]] = []
            try:
                self.run(kwargs, job, taken)
            finally:
                for key, holder in taken:
                    release_mark(self.redis, key, holder)
            return
        with self.sessions() as session:
            started = _waiting_for_database(session, lambda: self._start(session, kwargs, job, marks))
            if started is not None:
                self._run(session, started)

    # --- 1 to 3. record, check, mark and charge: one transaction -----------------------------

    def _start(
        self, session: Session, kwargs: dict[str, Any], job: JobInfo, marks: list[tuple[str, int]]
    ) -> Started | None:
        """Record the execution as started (or skipped, with its reason), take its overlap mark
        and charge its base, all committed together; the run to go on with, or None.

        A scheduled slot is inserted under its unique key (a duplicate delivery loses and is
        recorded as such); a manual, follow-up or retried run is claimed with a conditional
        update. Safe to repeat after a database error: nothing is kept of a failed attempt
        (its mark is given back here, its transaction rolled back), and an attempt whose
        COMMIT landed although its reply was lost is recognised by the delivery token the
        row carries, and carried on with, rather than taken for another delivery's.
        """
        taken = len(marks)
        try:
            if "execution" in kwargs:
                return self._start_claimed(session, int(kwargs["execution"]), job, marks)
            if job.id is None:
                raise RuntimeError("a scheduled run is only executed by an RQ worker (its job id is its key)")
            return self._start_scheduled(session, ScheduledRun.from_job(job.id, kwargs), job, marks)
        except BaseException:
            session.rollback()
            for key, holder in marks[taken:]:
                release_mark(self.redis, key, holder)
            del marks[taken:]
            raise

    def _start_scheduled(
        self, session: Session, run: ScheduledRun, job: JobInfo, marks: list[tuple[str, int]]
    ) -> Started | None:
        now = clock.now()
        # Read first, so the row is inserted complete (a SELECT opens no write transaction).
        target = _load_target(session, run.app_id, run.job, run.account_id)
        row: dict[str, Any] = {
            "slot_key": run.key,
            "app_id": run.app_id,
            "job": run.job,
            "account_id": run.account_id,
            "source": run.source,
            "scheduled_for": run.slot,
            "skipped_slots": run.skipped_slots,
            "started_at": now,
            "worker": job.worker,
            "rq_job_id": job.id,
            "delivery": job.delivery,
            "enqueued_at": _aware(job.enqueued_at),
            "attempts": 1,
            "params": {},
            **target.run_fields(run.source, None),
        }
        reason = _skip_reason(target)
        if reason is not None:
            row.update(status="skipped", skip_reason=reason, finished_at=now, duration_ms=0)
        else:
            row["status"] = "running"
        try:
            execution_id = executions.insert_row(session, row)
        except IntegrityError:  # the slot is recorded already (or another constraint failed)
            session.rollback()
            original = session.execute(
                select(Execution.id, Execution.status, Execution.delivery).where(
                    Execution.slot_key == run.key
                )
            ).one_or_none()
            if original is None:
                raise  # not the slot's key: a real error, reported as such
            if original.delivery == job.delivery:  # by this delivery: an earlier try's commit landed
                if original.status != "running":
                    return None  # it was recorded as skipped
                adopted = Started(
                    id=original.id, app_id=run.app_id, job=run.job, account_id=run.account_id,
                    source=run.source, scheduled_for=run.slot, params={}, attempts=1,
                    target=target, charged=None,
                )  # fmt: skip
                return self._mark_and_charge(session, adopted, marks, adopted=True)
            base = {
                "app_id": run.app_id,
                "job": run.job,
                "account_id": run.account_id,
                "source": run.source,
                "scheduled_for": run.slot,
            }
            executions.record_skip(session, base, "duplicate", parent_id=original.id)
            return None
        if reason is not None:
            session.commit()
            return None
        started = Started(
            id=execution_id, app_id=run.app_id, job=run.job, account_id=run.account_id,
            source=run.source, scheduled_for=run.slot, params=row["params"], attempts=1,
            target=target, charged=None,
        )  # fmt: skip
        return self._mark_and_charge(session, started, marks)

    def _start_claimed(
        self, session: Session, execution_id: int, job: JobInfo, marks: list[tuple[str, int]]
    ) -> Started | None:
        fields = {
            "started_at": clock.now(), "worker": job.worker, "rq_job_id": job.id, "delivery": job.delivery,
        }  # fmt: skip
        claimed = executions.claim(session, execution_id, fields)
        adopted = False
        if claimed is None:
            original = session.get(Execution, execution_id, populate_existing=True)
            if original is None:
                return None
            if original.delivery != job.delivery:
                executions.record_skip(session, _copy_of(original), "duplicate", parent_id=original.id)
                return None
            if original.status != "running":
                return None  # claimed by an earlier try of this delivery, and recorded as skipped
            claimed, adopted = original, True  # claimed by an earlier try whose commit's reply was lost
        target = _load_target(session, claimed.app_id, claimed.job, claimed.account_id)
        filled = target.run_fields(claimed.source, claimed.params)
        params = filled.get("params", claimed.params or {})
        reason = _skip_reason(target)
        if reason is not None:
            executions.update_row(session, claimed.id, {**filled, **_skipped(reason)})
            session.commit()
            return None
        executions.update_row(session, claimed.id, filled)
        started = Started(
            id=claimed.id, app_id=claimed.app_id, job=claimed.job, account_id=claimed.account_id,
            source=claimed.source, scheduled_for=claimed.scheduled_for, params=params,
            attempts=claimed.attempts, target=target, charged=None,
        )  # fmt: skip
        return self._mark_and_charge(session, started, marks, adopted=adopted)

    def _mark_and_charge(
        self, session: Session, run: Started, marks: list[tuple[str, int]], adopted: bool = False
    ) -> Started | None:
        """In the open transaction that recorded the run: its overlap mark, then its base charge.

        ``adopted``: the run was recorded as running by an earlier try of this delivery whose
        commit's reply was lost. The row says it runs, so it runs: it takes the mark again if
        it is free, and its charge, if it landed, is found by its key and not made twice.
        """
        target = run.target
        assert target.schedule is not None
        if target.schedule.overlap == "skip":
            key = OVERLAP_KEY.format(app=run.app_id, job=run.job, account=run.account_id)
            ttl = target.schedule.timeout + OVERLAP_GRACE_SECONDS
            if not self.redis.set(key, run.id, nx=True, ex=ttl) and not adopted:
                holder = self.redis.get(key)
                if holder is None or int(holder) != run.id:  # a retry holds its own mark already
                    executions.update_row(session, run.id, _skipped("overlap"))
                    session.commit()
                    return None
            marks.append((key, run.id))
        credits = target.schedule.credits
        key = f"base:{run.id}"
        ledger = _ledger_of(self.meter)
        try:
            if ledger is None:  # another meter: it charges in its own transaction
                session.commit()
                self.meter.base(
                    key=key, account_id=run.account_id, execution_id=run.id, app_id=run.app_id,
                    job=run.job, credits=credits,
                )  # fmt: skip
            else:  # the ledger's meter: the charge is in this transaction, committed with the start
                posting = Posting(
                    key=key, account_id=run.account_id, kind="execution", amount=-credits * MICRO_PER_CREDIT,
                    at=clock.now(), app=target.app.slug, job=run.job, execution_id=run.id,
                    detail={"credits": credits},
                )  # fmt: skip
                _entry, new = post(session, posting)
                if new and run.attempts == 1:
                    run.charged = credits * MICRO_PER_CREDIT
                session.commit()
        except (InsufficientCredits, LimitExceeded):
            executions.update_row(session, run.id, _skipped("insufficient_credits"))
            session.commit()
            try:
                notices.out_of_credits(self.sessions, self.settings, run.account_id, target.app.slug, run.job)
            except Exception:  # a notice that cannot go out must not fail the run's record
                log.exception("could not tell account %s it is out of credits", run.account_id)
            return None
        return run

    # --- 4. run ------------------------------------------------------------------------------

    def _run(self, session: Session, run: Started) -> None:
        try:
            self._run_held(session, run)
        finally:
            _report(None, None)

    def _run_held(self, session: Session, run: Started) -> None:
        target = run.target
        assert target.schedule is not None and target.version is not None
        bundle = _bundle_of(session, target.app, target.version)
        timeout = target.schedule.timeout
        capture = LogCapture()
        started = time.monotonic()
        outcome: str
        error: str | None = None
        result: Any = None
        with capture as logger, self.sessions() as data_session:
            try:
                with deadline(timeout) as ends_at:
                    _report(run.id, time.monotonic() + timeout)
                    function = isolated_job_function(bundle, run.job)
                    context = self._context(session, data_session, run, logger, ends_at)
                    try:
                        result = function(context, **copy.deepcopy(run.params or {}))
                    finally:
                        context.http.close()
                outcome = "succeeded"
            except JobTimeout as timed_out:
                outcome, error = "timed_out", f"{timed_out}\n{_job_traceback()}"
            except Exception:
                outcome, error = "failed", _job_traceback()
            finally:
                _report(run.id, None)  # the job is over; its outcome is still to record
                _discard(data_session)  # anything a job left uncommitted is not kept
        logs = capture.text()
        _waiting_for_database(
            session, lambda: self._finish(session, run, outcome, error, result, logs, started)
        )

    def _context(
        self,
        session: Session,
        data_session: Session,
        run: Started,
        logger: logging.Logger,
        ends_at: float,
    ) -> JobContext:
        target = run.target
        account_id, app_id = run.account_id, run.app_id
        env: Mapping[str, str] = {}
        secrets: Mapping[str, str] = {}
        if target.installation is not None:
            box = _secret_box(self.settings.secret_key)
            if target.has_settings:
                env, secrets = load_env(session, box, target.installation.id)
                session.rollback()  # a read: no transaction stays open while the job runs
            else:  # what load_env gives for an installation without settings, without asking
                env, secrets = SettingsMapping("variable", {}), SettingsMapping("secret", {}, box)

        def enqueue_follow_up(job: str, params: dict[str, Any] | None = None) -> int:
            return enqueue_run(
                self.sessions, self.redis, app_id=app_id, job=job, account_id=account_id,
                source="followup", params=params, parent_id=run.id,
            )  # fmt: skip

        return JobContext(
            account=_account_info(target),
            app=target.app.slug,
            job=run.job,
            execution_id=run.id,
            scheduled_for=run.scheduled_for,
            source=run.source,
            data_session=data_session,
            state=AppState(self.sessions, app_id, account_id),
            email=EmailSender(
                self.sessions,
                self.settings,
                self.meter,
                account_id=account_id,
                app_id=app_id,
                execution_id=run.id,
            ),
            sms=SmsSender(
                self.sessions,
                self.settings,
                self.meter,
                account_id=account_id,
                app_id=app_id,
                execution_id=run.id,
            ),
            ai=AIClient(
                self.sessions,
                self.settings,
                self.meter,
                account_id=account_id,
                app_id=app_id,
                execution_id=run.id,
            ),
            http=HttpClient(allow_private=self.settings.http_allow_private),
            env=env,
            secrets=secrets,
            log=logger,
            enqueue=enqueue_follow_up,
            deadline=ends_at,
        )

    # --- 5. outcome --------------------------------------------------------------------------

    def _finish(
        self,
        session: Session,
        run: Started,
        outcome: str,
        error: str | None,
        result: Any,
        logs: str,
        started: float,
    ) -> None:
        """The outcome in one UPDATE; a failure with retries left is queued again."""
        schedule = run.target.schedule
        assert schedule is not None
        usage = _usage_of(self.meter)
        charged = run.charged
        if charged is None or usage != empty_usage():  # usage was charged too, or a retry: ask the ledger
            charged = charged_for(session, run.id)
        values: dict[str, Any] = {
            "logs": logs,
            "usage": usage,
            "credits_charged": charged,
            "duration_ms": int((time.monotonic() - started) * 1000),
        }
        retry = False
        if outcome == "succeeded":
            result = executions.capped_result(result)
            values.update(status="succeeded", result=result, error=None, finished_at=clock.now())
        elif run.attempts <= schedule.retries:
            values.update(status="queued", error=error)
            retry = True
        else:
            values.update(status=outcome, error=error, finished_at=clock.now())
        executions.update_row(session, run.id, values)
        session.commit()
        if retry:
            try:
                schedule_retry(self.redis, run.id, run.attempts, self.settings.retry_backoff_seconds)
            except RedisError as error:  # recorded as queued: the spawner's sweep queues it
                log.warning("retry of execution %s not queued (%s); the spawner queues it", run.id, error)


def _discard(data_session: Session) -> None:
    """Roll back what a job left uncommitted. The connection may be gone (the database
    restarted under the job): its work is lost with it, and the outcome is still recorded."""
    try:
        data_session.rollback()
    except SQLAlchemyError as error:
        log.warning("could not roll back a job's data session: %s", str(error).splitlines()[0])


def _skipped(reason: str) -> dict[str, Any]:
    return {"status": "skipped", "skip_reason": reason, "finished_at": clock.now(), "duration_ms": 0}


def _ledger_of(meter: Meter) -> LedgerMeter | None:
    """The ledger meter behind ``meter`` when the base can be charged in the runner's transaction."""
    if isinstance(meter, LedgerMeter):
        return meter
    if isinstance(meter, UsageRecorder) and isinstance(meter.inner, LedgerMeter):
        return meter.inner
    return None


DATABASE_WAIT_SECONDS = 300.0  # an unreachable database: how long a run waits to record itself
T = TypeVar("T")


def _waiting_for_database(session: Session, step: Callable[[], T]) -> T:
    """``step`` (recording a run's start, its base charge or its outcome), tried again while
    the database is unreachable, so a database outage delays runs instead of losing a slot or
    leaving a run ``running``. Each step is safe to repeat: the start inserts under the slot's
    unique key (or claims with a conditional update), the charge has its idempotency key, and
    the outcome is a plain update.
    """
    waited_until = time.monotonic() + DATABASE_WAIT_SECONDS
    tries = 0
    while True:
        try:
            return step()
        except OperationalError as error:
            if time.monotonic() > waited_until:
                raise
            tries += 1
            if tries == 1:  # the cause once, then a line a try
                log.warning("the database is unreachable; trying again each second", exc_info=True)
            else:
                first_line = str(error).splitlines()[0]
                log.warning("the database is still unreachable (try %d): %s", tries, first_line)
            try:
                session.rollback()
            except Exception:  # the connection is gone; the next try opens another
                pass
            time.sleep(1.0)


def _aware(instant: datetime | None) -> datetime | None:
    """RQ's timestamps as aware UTC (RQ stores UTC, some versions without a zone)."""
    if instant is None:
        return None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def _skip_reason(target: Target) -> str | None:
    if target.installation is None or target.schedule is None or target.version is None:
        return "not_installed" if target.installation is None else "job_removed"
    if not target.installation.is_on or not target.app.enabled:
        return "paused"
    if not target.account.is_active:
        return "account_inactive"
    return None


def _target_query() -> Executable:
    """The query behind ``_load_target``, built once: building it costs more than running it.

    Plain columns, not ORM entities: loading five entities a run cost more than the query.
    """
    owner = aliased(User, name="owner")
    first_owner = (
        select(User.id)
        .where(User.account_id == Account.id, User.role == "owner")
        .order_by(User.id)
        .limit(1)
        .correlate(Account)
        .scalar_subquery()
    )
    has_settings = (
        exists().where(InstallationSetting.installation_id == Installation.id).correlate(Installation)
    )
    return (
        select(
            App.id,
            App.slug,
            App.enabled,
            Account.id,
            Account.name,
            Account.status,
            Installation.id,
            Installation.schedule_status,
            JobSchedule.id,
            JobSchedule.overlap,
            JobSchedule.timeout,
            JobSchedule.credits,
            JobSchedule.retries,
            JobSchedule.params,
            AppVersion.id,
            AppVersion.checksum,
            owner.email,
            owner.phone,
            has_settings,
        )  # fmt: skip
        .select_from(App)
        .join(Account, Account.id == bindparam("account_id"))
        .outerjoin(Installation, and_(Installation.app_id == App.id, Installation.account_id == Account.id))
        .outerjoin(JobSchedule, and_(JobSchedule.app_id == App.id, JobSchedule.job == bindparam("job")))
        .outerjoin(AppVersion, AppVersion.id == App.active_version_id)
        .outerjoin(owner, owner.id == first_owner)
        .where(App.id == bindparam("app_id"))
    )


_TARGET = _target_query()


def _load_target(session: Session, app_id: int, job: str, account_id: int) -> Target:
    """The app, account, installation, schedule, version and owner of a run, in one query.

    The version's manifest and code are left out (``_bundle_of`` reads them once per process
    and version); whether the installation has settings is asked, so that an installation
    without any costs no query for its env and secrets.
    """
    params = {"app_id": app_id, "job": job, "account_id": account_id}
    row = session.connection().execute(_TARGET, params).first()
    assert row is not None, f"no app {app_id} or no account {account_id}"
    (
        app_id, slug, enabled, account_id, name, status, installation_id, schedule_status,
        schedule_id, overlap, timeout, credits, retries, schedule_params, version_id, checksum,
        owner_email, owner_phone, settings,
    ) = row  # fmt: skip
    return Target(
        app=TargetApp(app_id, slug, bool(enabled)),
        version=TargetVersion(version_id, checksum) if version_id is not None else None,
        schedule=(
            TargetSchedule(overlap, timeout, credits, retries, schedule_params or {})
            if schedule_id is not None
            else None
        ),
        installation=(
            TargetInstallation(installation_id, schedule_status == "on")
            if installation_id is not None
            else None
        ),
        account=TargetAccount(account_id, name, status == "active"),
        owner_email=owner_email,
        owner_phone=owner_phone,
        has_settings=bool(settings),
    )


@lru_cache(maxsize=512)
def _bundle(slug: str, version_id: int, manifest: str, code: str) -> AppBundle:
    """A stored version's bundle, validated once per process (versions never change)."""
    return parse_bundle(slug, manifest, code, origin=f"db:{slug}@{version_id}")


_bundles: dict[tuple[str, int, str], AppBundle] = {}


def _bundle_of(session: Session, app: TargetApp, version: TargetVersion) -> AppBundle:
    """The version's bundle; its manifest and code are read from the database once per process.

    Keyed by the version's checksum too, so a reused id (a database emptied and filled again)
    never finds another version's bundle.
    """
    key = (app.slug, version.id, version.checksum)
    bundle = _bundles.get(key)
    if bundle is None:
        manifest, code = session.execute(
            select(AppVersion.manifest, AppVersion.code).where(AppVersion.id == version.id)
        ).one()
        session.rollback()  # a read: no transaction stays open while the job runs
        if len(_bundles) >= 512:
            _bundles.clear()
        bundle = _bundles[key] = _bundle(app.slug, version.id, manifest, code)
    return bundle


@lru_cache(maxsize=4)
def _secret_box(secret_key: str) -> SecretBox:
    """The process's SecretBox (deriving its key costs more than the rest of a context)."""
    return SecretBox(secret_key)


def _account_info(target: Target) -> AccountInfo:
    return AccountInfo(
        id=target.account.id,
        name=target.account.name,
        owner_email=target.owner_email,
        owner_phone=target.owner_phone,
    )


def _usage_of(meter: Meter) -> dict[str, Any]:
    usage = getattr(meter, "usage", None)
    return dict(usage) if isinstance(usage, dict) else {}


def _copy_of(execution: Execution) -> dict[str, Any]:
    return {
        "app_id": execution.app_id,
        "job": execution.job,
        "account_id": execution.account_id,
        "source": execution.source,
        "scheduled_for": execution.scheduled_for,
    }


def _job_traceback() -> str:
    """The traceback, capped: the job's own frames matter, the runner's do not."""
    text = traceback.format_exc()
    return text[-16_000:]


_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def release_mark(redis: Redis, key: str, execution_id: int) -> None:
    """Give up an overlap mark if this execution still holds it."""
    redis.eval(_RELEASE, 1, key, str(execution_id))


def schedule_retry(redis: Redis, execution_id: int, attempts: int, backoff: tuple[int, ...]) -> None:
    """Queue the next attempt of an execution after its backoff (RQ's scheduler holds it)."""
    wait = backoff[min(attempts - 1, len(backoff) - 1)] if backoff else 0
    enqueue_execution(redis, execution_id, execution_job_id(execution_id, attempts), delay_seconds=wait)


def enqueue_run(
    sessions: sessionmaker[Session],
    redis: Redis,
    *,
    app_id: int,
    job: str,
    account_id: int,
    source: str,
    params: dict[str, Any] | None = None,
    parent_id: int | None = None,
) -> int:
    """Record and queue a run that is not a scheduled slot (manual, follow-up, API)."""
    with sessions() as session:
        schedule = session.scalar(
            select(JobSchedule).where(JobSchedule.app_id == app_id, JobSchedule.job == job)
        )
        if schedule is None:
            from tickwork.errors import BadInput

            raise BadInput(f"the app has no job named {job!r}")
        merged = {**schedule.params, **(params or {})}
        now = clock.now()
        execution = Execution(
            app_id=app_id, job=job, account_id=account_id, source=source, scheduled_for=now,
            status="queued", params=executions.capped_result(merged) or {}, parent_id=parent_id,
            enqueued_at=now,
        )  # fmt: skip
        session.add(execution)
        session.commit()
        execution_id = execution.id
    try:
        enqueue_execution(redis, execution_id, execution_job_id(execution_id, 0))
    except RedisError as error:  # recorded: the spawner's sweep queues it once Redis is back
        log.warning("execution %s is recorded, not queued (%s); the spawner queues it", execution_id, error)
    return execution_id


__all__ = [
    "QUEUE_NAME", "Runner", "enqueue_run", "execute", "execute_job", "release_mark", "schedule_retry",
    "set_current_hook",
]  # fmt: skip
