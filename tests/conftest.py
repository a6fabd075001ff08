"""Shared fixtures: real Redis, real databases on two lanes, and an isolated TICKWORK_HOME.

- Redis: the server at REDIS_URL when set, otherwise an embedded redis-server started once
  for the run. ``redis_conn`` flushes it before each test that asks for it.
- Databases: every test that asks for ``db`` runs on SQLite, and again on PostgreSQL when
  TEST_DATABASE_URL is set. The schema is built once per lane through the real migrations,
  then each test starts from empty tables.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from billing.models import BillingBase
from tickwork import db as tickwork_db
from tickwork import migrate
from tickwork.embedded_redis import EmbeddedRedis
from tickwork.models import Base
from tickwork.settings import reset_settings

REPO_ROOT = Path(__file__).resolve().parents[1]

pytest_plugins = ["tests.servers.fixtures", "tests.web_fixtures"]

hypothesis_settings.register_profile("ci", deadline=None, print_blob=True)
hypothesis_settings.load_profile("ci")


@pytest.fixture(scope="session", autouse=True)
def tickwork_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Keep every file the code under test writes out of the working tree."""
    home = tmp_path_factory.mktemp("tickwork-home")
    saved = {name: os.environ.get(name) for name in ("TICKWORK_HOME", "APPS_DIR", "SECRET_KEY")}
    os.environ["TICKWORK_HOME"] = str(home)
    os.environ["APPS_DIR"] = str(REPO_ROOT / "apps")
    os.environ["SECRET_KEY"] = "test-secret-key-not-for-production"
    reset_settings()
    yield home
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    reset_settings()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("REDIS_URL")
    if configured:
        yield configured
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), appendonly=False)
    url = server.start()
    os.environ["REDIS_URL"] = url  # worker subprocesses started by tests find it here
    reset_settings()
    try:
        yield url
    finally:
        os.environ.pop("REDIS_URL", None)
        reset_settings()
        server.stop()


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    """A client on a freshly flushed Redis database."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@dataclass
class Database:
    lane: str
    url: str
    engine: Engine
    sessions: sessionmaker[Session]

    def session(self) -> Session:
        return self.sessions()


def _lanes() -> list[object]:
    postgres = os.environ.get("TEST_DATABASE_URL")
    reason = "TEST_DATABASE_URL is not set: the PostgreSQL lane is off"
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgresql", id="postgresql", marks=[] if postgres else [pytest.mark.skip(reason=reason)]
        ),
    ]


def _lane_url(lane: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    if lane == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
    url = os.environ["TEST_DATABASE_URL"]
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


_migrated: dict[str, str] = {}


def _clean(engine: Engine) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    tables += [table.name for table in BillingBase.metadata.sorted_tables]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(params=_lanes())
def db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Database]:
    """An empty, fully migrated database on this test's lane, set as DATABASE_URL."""
    lane: str = request.param
    if lane not in _migrated:
        url = _lane_url(lane, tmp_path_factory)
        engine = tickwork_db.make_engine(url)
        if lane == "postgresql":
            with engine.begin() as connection:  # start from nothing: earlier runs may have left tables
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        migrate.upgrade(engine)
        engine.dispose()
        _migrated[lane] = url
    url = _migrated[lane]
    monkeypatch.setenv("DATABASE_URL", url)
    reset_settings()
    tickwork_db.dispose_engines()
    engine = tickwork_db.get_engine(url)
    _clean(engine)
    yield Database(lane=lane, url=url, engine=engine, sessions=tickwork_db.session_factory(url))
    tickwork_db.dispose_engines()
    reset_settings()


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    with db.session() as session:
        yield session
