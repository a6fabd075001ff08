"""The PostgreSQL engine's connection settings: bounded connects, keepalives on a dead peer."""

from __future__ import annotations

import pytest

from tickwork.db import POSTGRES_CONNECT_ARGS, make_engine

from .conftest import Database


def test_postgresql_connections_give_up_and_notice_a_dead_peer(db: Database) -> None:
    if db.lane != "postgresql":
        pytest.skip("libpq settings: the PostgreSQL lane only")
    separator = "&" if "?" in db.url else "?"
    engine = make_engine(f"{db.url}{separator}connect_timeout=3")
    try:
        with engine.connect() as connection:
            dsn = connection.connection.dbapi_connection.info.dsn  # type: ignore[union-attr]
    finally:
        engine.dispose()
    settings = dict(part.split("=", 1) for part in dsn.split())
    assert settings["connect_timeout"] == "3", "the URL's own value wins"
    for key in ("keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count"):
        assert settings[key] == str(POSTGRES_CONNECT_ARGS[key]), key
