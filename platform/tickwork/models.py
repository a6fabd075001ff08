"""The core tables (DESIGN.md section 2): accounts, users, apps and their versions,
installations, job schedules and executions. Billing keeps its own tables in ``billing``.

Times are stored as UTC and always come back aware (``UTCDateTime``), whatever the database.
Constraint names follow one convention so that Alembic migrations are the same on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from tickwork import clock

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime, stored without zone (SQLite cannot keep one) and read back aware."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use tickwork.clock.now() or an aware value")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _now() -> datetime:
    return clock.now()


ACCOUNT_STATUSES = ("active", "suspended")
ROLES = ("owner", "member")
APP_KINDS = ("catalog", "custom")
SCHEDULE_STATUSES = ("on", "off")
EXECUTION_STATUSES = ("queued", "running", "succeeded", "failed", "timed_out", "skipped")
EXECUTION_SOURCES = ("schedule", "catch_up", "manual", "followup", "api")
OVERLAP_POLICIES = ("skip", "allow")
CATCH_UP_POLICIES = ("latest", "all", "none")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class Account(Base):
    """A customer organization: its users, its credit balance, its apps."""

    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint(_one_of("status", ACCOUNT_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)

    users: Mapped[list[User]] = relationship(back_populates="account")
    installations: Mapped[list[Installation]] = relationship(back_populates="account")

    @property
    def is_active(self) -> bool:
        return self.status == "active"


class User(Base):
    """A person: an owner or member of one account, or platform staff (no account)."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "(account_id IS NULL AND role IS NULL AND is_staff) OR "
            f"(account_id IS NOT NULL AND {_one_of('role', ROLES)})",
            name="role_or_staff",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    role: Mapped[str | None] = mapped_column(String(16))
    is_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)

    account: Mapped[Account | None] = relationship(back_populates="users")


class ApiKey(Base):
    """An API key: it acts as its user, in its user's account.

    Only a SHA-256 digest of the secret is stored; ``prefix`` (the key's first characters) lets
    people tell their keys apart in lists without the key ever being shown again.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class App(Base):
    """An app: a catalog bundle synced from APPS_DIR, or an account's custom app.

    ``enabled`` is the platform-wide switch staff use to stop a catalog app everywhere; it
    overrides every installation's own schedule status. ``load_error`` holds the latest
    problem found when syncing a catalog bundle; the last good version keeps running.
    """

    __tablename__ = "apps"
    __table_args__ = (
        CheckConstraint(_one_of("kind", APP_KINDS), name="kind"),
        CheckConstraint(
            "(kind = 'catalog' AND account_id IS NULL) OR (kind = 'custom' AND account_id IS NOT NULL)",
            name="custom_has_account",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    enabled_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    active_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_versions.id", use_alter=True, ondelete="SET NULL")
    )
    source_path: Mapped[str | None] = mapped_column(Text)
    load_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now, onupdate=_now)

    versions: Mapped[list[AppVersion]] = relationship(
        back_populates="app", foreign_keys="AppVersion.app_id", order_by="AppVersion.number"
    )
    active_version: Mapped[AppVersion | None] = relationship(foreign_keys=[active_version_id])
    schedules: Mapped[list[JobSchedule]] = relationship(back_populates="app", cascade="all, delete-orphan")


class AppVersion(Base):
    """One immutable version of an app's bundle (manifest and code), numbered from 1.

    Every worker host runs the code stored here, so all hosts agree on what a version is.
    """

    __tablename__ = "app_versions"
    __table_args__ = (UniqueConstraint("app_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    manifest: Mapped[str] = mapped_column(Text)
    code: Mapped[str] = mapped_column(Text)
    checksum: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    created_by: Mapped[str | None] = mapped_column(String(254))

    app: Mapped[App] = relationship(back_populates="versions", foreign_keys=[app_id])


class Installation(Base):
    """An account's use of an app, with that account's schedule status (the admin toggle).

    ``status_changed_at`` lets the spawner's catch-up skip slots that passed while the
    installation was off: switching back on never replays them.
    """

    __tablename__ = "installations"
    __table_args__ = (
        UniqueConstraint("account_id", "app_id"),
        CheckConstraint(_one_of("schedule_status", SCHEDULE_STATUSES), name="schedule_status"),
        Index("ix_installations_app_status", "app_id", "schedule_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    schedule_status: Mapped[str] = mapped_column(String(8), default="on")
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)

    account: Mapped[Account] = relationship(back_populates="installations")
    app: Mapped[App] = relationship()

    @property
    def is_on(self) -> bool:
        return self.schedule_status == "on"


class JobSchedule(Base):
    """One job of an app's active version, as the spawner reads it.

    Rows are derived from the bundle manifest when a version becomes active and removed
    when the job goes away ("manifest in files, switch in the database").
    """

    __tablename__ = "schedules"
    __table_args__ = (
        UniqueConstraint("app_id", "job"),
        CheckConstraint("credits BETWEEN 1 AND 10", name="credits"),
        CheckConstraint("timeout BETWEEN 1 AND 300", name="timeout"),
        CheckConstraint(_one_of("overlap", OVERLAP_POLICIES), name="overlap"),
        CheckConstraint(_one_of("catch_up", CATCH_UP_POLICIES), name="catch_up"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    app_version_id: Mapped[int] = mapped_column(ForeignKey("app_versions.id", ondelete="CASCADE"))
    job: Mapped[str] = mapped_column(String(100))
    expressions: Mapped[list[str]] = mapped_column(JSONType)
    credits: Mapped[int] = mapped_column(Integer)
    timeout: Mapped[int] = mapped_column(Integer)
    overlap: Mapped[str] = mapped_column(String(8))
    catch_up: Mapped[str] = mapped_column(String(8))
    retries: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    app: Mapped[App] = relationship(back_populates="schedules")


# The predicates of the partial indexes on running and on queued executions: the spawner reads
# those few rows every minute from a table that grows by millions a day.
RUNNING = "status = 'running'"
QUEUED = "status = 'queued'"
# And on the few executions with a parent (follow-ups, duplicates): deleting an execution sets
# its children's parent_id to NULL, which must not scan the table once per deleted row.
HAS_PARENT = "parent_id IS NOT NULL"


class Execution(Base):
    """One run (or skipped run) of a job for an account.

    ``slot_key`` is set for scheduled and catch-up runs only: unique on (app, job, account,
    slot), it is the last line of defence against running a slot twice. It doubles as the
    RQ job id, so it uses only [A-Za-z0-9_-].
    """

    __tablename__ = "executions"
    __table_args__ = (
        CheckConstraint(_one_of("status", EXECUTION_STATUSES), name="status"),
        CheckConstraint(_one_of("source", EXECUTION_SOURCES), name="source"),
        Index("ix_executions_account_created", "account_id", "created_at"),
        Index("ix_executions_app_job_status", "app_id", "job", "status"),
        # Partial (0.06 ms against 22 ms through the index above at 2 million rows).
        *(
            Index(name, column, postgresql_where=text(predicate), sqlite_where=text(predicate))
            for name, column, predicate in (
                ("ix_executions_running", "started_at", RUNNING),
                ("ix_executions_queued", "id", QUEUED),
                ("ix_executions_parent", "parent_id", HAS_PARENT),
            )
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    slot_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    app_version_id: Mapped[int | None] = mapped_column(ForeignKey("app_versions.id", ondelete="SET NULL"))
    job: Mapped[str] = mapped_column(String(100))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    installation_id: Mapped[int | None] = mapped_column(ForeignKey("installations.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(16))
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    skip_reason: Mapped[str | None] = mapped_column(String(64))
    skipped_slots: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("executions.id", ondelete="SET NULL"))
    rq_job_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    logs: Mapped[str | None] = mapped_column(Text)
    result: Mapped[Any | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    credits_charged: Mapped[int] = mapped_column(BigInteger, default=0)  # micro-credits
    usage: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    worker: Mapped[str | None] = mapped_column(String(200))
    # A random token of the delivery that started the run: a worker whose commit's reply was
    # lost (the connection dropped mid-COMMIT) finds its own row by it, instead of taking it
    # for another delivery's and leaving it running.
    delivery: Mapped[str | None] = mapped_column(String(32))

    app: Mapped[App] = relationship()
    account: Mapped[Account] = relationship()


class Record(Base):
    """One JSON record of an account's collection (``ctx.data``); always queried by account."""

    __tablename__ = "records"
    __table_args__ = (Index("ix_records_account_collection", "account_id", "collection", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    collection: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)


class AppStateValue(Base):
    """``ctx.state``: a JSON value kept per (app, account, key) across executions."""

    __tablename__ = "app_state"
    __table_args__ = (UniqueConstraint("app_id", "account_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    value: Mapped[Any] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now, onupdate=_now)


SETTING_KINDS = ("variable", "secret")


class InstallationSetting(Base):
    """A variable (``ctx.env``) or secret (``ctx.secrets``) of one installation.

    A secret's value is a Fernet token; it is decrypted only inside a job's context and is
    never shown again once set.
    """

    __tablename__ = "installation_settings"
    __table_args__ = (
        UniqueConstraint("installation_id", "name"),
        CheckConstraint(_one_of("kind", SETTING_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    installation_id: Mapped[int] = mapped_column(ForeignKey("installations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now, onupdate=_now)


MESSAGE_CHANNELS = ("email", "sms")
MESSAGE_TRANSPORTS = ("smtp", "twilio", "outbox")


class Message(Base):
    """An email or SMS a job sent (or kept in the outbox when no provider is configured).

    ``idempotency_key`` is derived from the execution and the message's content, so a job
    re-run after a crash does not send (or pay for) the same message twice.
    """

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(_one_of("channel", MESSAGE_CHANNELS), name="channel"),
        CheckConstraint(_one_of("transport", MESSAGE_TRANSPORTS), name="transport"),
        Index("ix_messages_account_created", "account_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    app_id: Mapped[int | None] = mapped_column(ForeignKey("apps.id", ondelete="SET NULL"))
    execution_id: Mapped[int | None] = mapped_column(
        ForeignKey("executions.id", ondelete="SET NULL"), index=True
    )
    channel: Mapped[str] = mapped_column(String(8))
    transport: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)
    segments: Mapped[int] = mapped_column(Integer, default=1)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now, onupdate=_now)


class AiCall(Base):
    """One AI model call a job made, with its token usage by kind.

    The response is kept so that a re-run of the same execution asking the same question
    gets the same answer without a second (billed) call.
    """

    __tablename__ = "ai_calls"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    app_id: Mapped[int | None] = mapped_column(ForeignKey("apps.id", ondelete="SET NULL"))
    execution_id: Mapped[int | None] = mapped_column(
        ForeignKey("executions.id", ondelete="SET NULL"), index=True
    )
    model: Mapped[str] = mapped_column(String(100))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    reasoning_tokens: Mapped[int] = mapped_column(Integer, default=0)
    response_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=_now)


class SpawnerTick(Base):
    """One completed spawner tick: the slot it covered and how it went.

    The newest row's slot is the last completed slot, from which the next tick (on any
    replica) works out what was missed.
    """

    __tablename__ = "spawner_ticks"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    slot: Mapped[datetime] = mapped_column(UTCDateTime, unique=True)
    owner: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due: Mapped[int] = mapped_column(Integer, default=0)
    enqueued: Mapped[int] = mapped_column(Integer, default=0)
    catch_up_slots: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    lag_ms: Mapped[int] = mapped_column(Integer, default=0)
