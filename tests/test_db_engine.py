"""The PostgreSQL engine's connection settings: bounded connects, keepalives on a dead peer."""

from __future__ import annotations

import os

import pytest

from tickwork.db import POSTGRES_CONNECT_ARGS, make_engine

POSTGRES = os.environ.get("TEST_DATABASE_URL", "")


@pytest.mark.skipif(not POSTGRES, reason="TEST_DATABASE_URL is not set: the PostgreSQL lane is off")
def test_postgresql_connections_give_up_and_notice_a_dead_peer() -> None:
    url = "postgresql+psycopg://" + POSTGRES.split("://", 1)[1]
    engine = make_engine(f"{url}{'&' if '?' in url else '?'}connect_timeout=3")
    try:
        with engine.connect() as connection:
            dsn = connection.connection.dbapi_connection.info.dsn  # type: ignore[union-attr]
    finally:
        engine.dispose()
    settings = dict(part.split("=", 1) for part in dsn.split())
    assert settings["connect_timeout"] == "3", "the URL's own value wins"
    for key in ("keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count"):
        assert settings[key] == str(POSTGRES_CONNECT_ARGS[key]), key
