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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

from redis import Redis
from rq import get_current_job
from sqlalchemy import Executable, and_, bindparam, exists, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, aliased, defer, sessionmaker

from billing.ledger import charged_for
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
from tickwork.metering import InsufficientCredits, Meter, UsageRecorder
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
from tickwork.queues import QUEUE_NAME, connection, enqueue_execution
from tickwork.settings import Settings, get_settings
from tickwork.state import AppState
from tickwork.timeouts import JobTimeout, deadline

log = logging.getLogger(__name__)

OVERLAP_KEY = "tickwork:running:{app}:{job}:{account}"
OVERLAP_GRACE_SECONDS = 60  # the overlap mark outlives a dead worker by at most this much
RETRY_BACKOFF_SECONDS = (10, 60, 300, 900, 1800)  # attempt 2, 3, 4...: waits before each retry

# Which process is running which execution, for the worker supervisor's watchdog.
_current_hook: Callable[[int | None, float | None], None] | None = None


def set_current_hook(hook: Callable[[int | None, float | None], None] | None) -> None:
    global _current_hook
    _current_hook = hook


def worker_name() -> str:
    job = get_current_job()
    name = getattr(job, "worker_name", None) if job is not None else None
    return str(name or f"{socket.gethostname()}.{os.getpid()}")


@dataclass
class Target:
    """Everything about the (app, job, account) an execution is for, read at its start."""

    app: App
    version: AppVersion | None
    schedule: JobSchedule | None
    installation: Installation | None
    account: Account
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

    def fill(self, execution: Execution) -> None:
        for name, value in self.run_fields(execution.source, execution.params).items():
            setattr(execution, name, value)


def execute(**kwargs: Any) -> None:
    """The RQ entry point: a scheduled slot (the job id is its key), or ``execution=`` a recorded run."""
    settings = get_settings()
    sessions = session_factory()
    meter = UsageRecorder(inner=LedgerMeter(sessions, rates_from(str(settings.rates_file))))
    Runner(settings, sessions, connection(), meter).run(kwargs)


class Runner:
    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], redis: Redis, meter: Meter
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.redis = redis
        self.meter = meter

    # --- 1. record ---------------------------------------------------------------------------

    def run(self, kwargs: dict[str, Any]) -> None:
        with self.sessions() as session:
            started = _waiting_for_database(session, lambda: self._start(session, kwargs))
            if started is None:
                return
            self._run_started(session, *started)

    def _start(self, session: Session, kwargs: dict[str, Any]) -> tuple[Execution, Target] | None:
        now = clock.now()
        job = get_current_job()
        started = {
            "started_at": now,
            "worker": worker_name(),
            "rq_job_id": job.id if job is not None else None,
        }
        if "execution" in kwargs:
            execution_id = int(kwargs["execution"])
            claimed = executions.claim(session, execution_id, started)
            if claimed is None:
                original = session.get(Execution, execution_id)
                if original is not None:
                    executions.record_skip(session, _copy_of(original), "duplicate", parent_id=original.id)
                return None
            target = _load_target(session, claimed.app_id, claimed.job, claimed.account_id)
            target.fill(claimed)
            return claimed, target

        if job is None:
            raise RuntimeError("a scheduled run is only executed by an RQ worker (its job id is its key)")
        run = ScheduledRun.from_job(job.id, kwargs)
        enqueued_at = job.enqueued_at if job is not None else None
        # Read first, so the row is inserted complete and its insert is the start's only commit.
        target = _load_target(session, run.app_id, run.job, run.account_id)
        fields = {
            **started,
            "status": "running",
            "attempts": 1,
            "enqueued_at": _aware(enqueued_at),
            **target.run_fields(run.source, None),
        }
        inserted = executions.insert_scheduled(session, run, fields)
        if inserted is None:
            original = session.scalar(select(Execution).where(Execution.slot_key == run.key))
            base = {
                "app_id": run.app_id,
                "job": run.job,
                "account_id": run.account_id,
                "source": run.source,
                "scheduled_for": run.slot,
            }
            executions.record_skip(session, base, "duplicate", parent_id=original.id if original else None)
            return None
        return inserted, target

    # --- 2. checks ---------------------------------------------------------------------------

    def _run_started(self, session: Session, execution: Execution, target: Target) -> None:
        reason = _skip_reason(target)
        if reason is not None:
            self._finish_skipped(session, execution, reason)
            return
        assert target.schedule is not None and target.version is not None
        overlap_key = None
        if target.schedule.overlap == "skip":
            overlap_key = OVERLAP_KEY.format(
                app=execution.app_id, job=execution.job, account=execution.account_id
            )
            ttl = target.schedule.timeout + OVERLAP_GRACE_SECONDS
            if not self.redis.set(overlap_key, execution.id, nx=True, ex=ttl):
                holder = self.redis.get(overlap_key)
                if holder is None or int(holder) != execution.id:
                    self._finish_skipped(session, execution, "overlap")
                    return
        try:
            self._charge_and_run(session, execution, target)
        finally:
            if overlap_key is not None:
                _release(self.redis, overlap_key, execution.id)

    # --- 3 and 4. charge and run -------------------------------------------------------------

    def _charge_and_run(self, session: Session, execution: Execution, target: Target) -> None:
        assert target.schedule is not None and target.version is not None
        try:
            credits = target.schedule.credits
            _waiting_for_database(  # the charge's idempotency key makes a repeat a no-op
                session,
                lambda: self.meter.base(
                    key=f"base:{execution.id}",
                    account_id=execution.account_id,
                    execution_id=execution.id,
                    app_id=execution.app_id,
                    job=execution.job,
                    credits=credits,
                ),
            )
        except InsufficientCredits:
            self._finish_skipped(session, execution, "insufficient_credits")
            try:
                notices.out_of_credits(
                    self.sessions, self.settings, execution.account_id, target.app.slug, execution.job
                )
            except Exception:  # a notice that cannot go out must not fail the run's record
                log.exception("could not tell account %s it is out of credits", execution.account_id)
            return
        if session.in_transaction():  # a claimed run's fields; a scheduled run's row is complete already
            session.commit()

        bundle = _bundle_of(target.app, target.version)
        timeout = target.schedule.timeout
        capture = LogCapture()
        started = time.monotonic()
        outcome: str
        error: str | None = None
        result: Any = None
        with capture as logger, self.sessions() as data_session:
            try:
                with deadline(timeout) as ends_at:
                    if _current_hook is not None:
                        _current_hook(execution.id, time.monotonic() + timeout)
                    function = isolated_job_function(bundle, execution.job)
                    context = self._context(session, data_session, execution, target, logger, ends_at)
                    try:
                        result = function(context, **copy.deepcopy(execution.params or {}))
                    finally:
                        context.http.close()
                outcome = "succeeded"
            except JobTimeout as timed_out:
                outcome, error = "timed_out", f"{timed_out}\n{_job_traceback()}"
            except Exception:
                outcome, error = "failed", _job_traceback()
            finally:
                if _current_hook is not None:
                    _current_hook(None, None)
                data_session.rollback()  # anything a job left uncommitted is not kept
        logs = capture.text()
        _waiting_for_database(
            session, lambda: self._finish(session, execution, target, outcome, error, result, logs, started)
        )

    def _context(
        self,
        session: Session,
        data_session: Session,
        execution: Execution,
        target: Target,
        logger: logging.Logger,
        ends_at: float,
    ) -> JobContext:
        account_id, app_id = execution.account_id, execution.app_id
        env: Mapping[str, str] = {}
        secrets: Mapping[str, str] = {}
        if target.installation is not None:
            box = _secret_box(self.settings.secret_key)
            if target.has_settings:
                env, secrets = load_env(session, box, target.installation.id)
            else:  # what load_env gives for an installation without settings, without asking
                env, secrets = SettingsMapping("variable", {}), SettingsMapping("secret", {}, box)

        def enqueue_follow_up(job: str, params: dict[str, Any] | None = None) -> int:
            return enqueue_run(
                self.sessions, self.redis, app_id=execution.app_id, job=job, account_id=execution.account_id,
                source="followup", params=params, parent_id=execution.id,
            )  # fmt: skip

        return JobContext(
            account=_account_info(target),
            app=target.app.slug,
            job=execution.job,
            execution_id=execution.id,
            scheduled_for=execution.scheduled_for,
            source=execution.source,
            data_session=data_session,
            state=AppState(self.sessions, execution.app_id, execution.account_id),
            email=EmailSender(
                self.sessions,
                self.settings,
                self.meter,
                account_id=account_id,
                app_id=app_id,
                execution_id=execution.id,
            ),
            sms=SmsSender(
                self.sessions,
                self.settings,
                self.meter,
                account_id=account_id,
                app_id=app_id,
                execution_id=execution.id,
            ),
            ai=AIClient(
                self.sessions,
                self.settings,
                self.meter,
                account_id=account_id,
                app_id=app_id,
                execution_id=execution.id,
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
        execution: Execution,
        target: Target,
        outcome: str,
        error: str | None,
        result: Any,
        logs: str,
        started: float,
    ) -> None:
        assert target.schedule is not None
        now = clock.now()
        execution.logs = logs
        execution.usage = _usage_of(self.meter)
        execution.credits_charged = charged_for(session, execution.id)
        execution.duration_ms = int((time.monotonic() - started) * 1000)
        if outcome == "succeeded":
            execution.status = "succeeded"
            execution.result = executions.capped_result(result)
            execution.error = None
            execution.finished_at = now
            session.commit()
            return
        execution.error = error
        if execution.attempts <= target.schedule.retries:
            execution.status = "queued"
            session.commit()
            schedule_retry(self.redis, execution.id, execution.attempts, self.settings.retry_backoff_seconds)
            return
        execution.status = outcome
        execution.finished_at = now
        session.commit()

    def _finish_skipped(self, session: Session, execution: Execution, reason: str) -> None:
        now = clock.now()
        execution.status = "skipped"
        execution.skip_reason = reason
        execution.finished_at = now
        execution.duration_ms = 0
        session.commit()


DATABASE_WAIT_SECONDS = 300.0  # an unreachable database: how long a run waits to record itself
T = TypeVar("T")


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
    while True:
        try:
            return step()
        except OperationalError:
            if time.monotonic() > waited_until:
                raise
            log.warning("the database is unreachable; trying again in a second", exc_info=True)
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
    """The query behind ``_load_target``, built once: building it costs more than running it."""
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
        select(App, Account, Installation, JobSchedule, AppVersion, owner.email, owner.phone, has_settings)
        .select_from(App)
        .join(Account, Account.id == bindparam("account_id"))
        .outerjoin(Installation, and_(Installation.app_id == App.id, Installation.account_id == Account.id))
        .outerjoin(JobSchedule, and_(JobSchedule.app_id == App.id, JobSchedule.job == bindparam("job")))
        .outerjoin(AppVersion, AppVersion.id == App.active_version_id)
        .outerjoin(owner, owner.id == first_owner)
        .where(App.id == bindparam("app_id"))
        .options(defer(AppVersion.manifest), defer(AppVersion.code))
    )


_TARGET = _target_query()


def _load_target(session: Session, app_id: int, job: str, account_id: int) -> Target:
    """The app, account, installation, schedule, version and owner of a run, in one query.

    The version's manifest and code are left out (``_bundle_of`` reads them once per process
    and version); whether the installation has settings is asked, so that an installation
    without any costs no query for its env and secrets.
    """
    params = {"app_id": app_id, "job": job, "account_id": account_id}
    row = session.execute(_TARGET, params).first()
    assert row is not None, f"no app {app_id} or no account {account_id}"
    app, account, installation, schedule, version, owner_email, owner_phone, settings = row
    return Target(
        app=app,
        version=version,
        schedule=schedule,
        installation=installation,
        account=account,
        owner_email=owner_email,
        owner_phone=owner_phone,
        has_settings=bool(settings),
    )


@lru_cache(maxsize=512)
def _bundle(slug: str, version_id: int, manifest: str, code: str) -> AppBundle:
    """A stored version's bundle, validated once per process (versions never change)."""
    return parse_bundle(slug, manifest, code, origin=f"db:{slug}@{version_id}")


_bundles: dict[tuple[str, int, str], AppBundle] = {}


def _bundle_of(app: App, version: AppVersion) -> AppBundle:
    """The version's bundle; its manifest and code are read from the database once per process.

    Keyed by the version's checksum too, so a reused id (a database emptied and filled again)
    never finds another version's bundle.
    """
    key = (app.slug, version.id, version.checksum)
    bundle = _bundles.get(key)
    if bundle is None:
        if len(_bundles) >= 512:
            _bundles.clear()
        bundle = _bundles[key] = _bundle(app.slug, version.id, version.manifest, version.code)
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


def _release(redis: Redis, key: str, execution_id: int) -> None:
    redis.eval(_RELEASE, 1, key, str(execution_id))


def schedule_retry(redis: Redis, execution_id: int, attempts: int, backoff: tuple[int, ...]) -> None:
    """Queue the next attempt of an execution after its backoff (RQ's scheduler holds it)."""
    wait = backoff[min(attempts - 1, len(backoff) - 1)] if backoff else 0
    enqueue_execution(redis, execution_id, f"r{execution_id}-{attempts + 1}", delay_seconds=wait)


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
    enqueue_execution(redis, execution_id, f"e{execution_id}")
    return execution_id


__all__ = ["QUEUE_NAME", "Runner", "enqueue_run", "execute", "schedule_retry", "set_current_hook"]
