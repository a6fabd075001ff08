"""``ctx.state``: small JSON values an app keeps per account between runs (cursors, marks).

Each ``set`` is an upsert committed at once, so progress survives a crash or a timeout in
the middle of a job: the import processor's cursor is exactly where its last batch ended.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from tickwork import clock
from tickwork.errors import BadInput
from tickwork.models import AppStateValue

MAX_KEY_LENGTH = 200
MAX_VALUE_BYTES = 64 * 1024


class StateError(BadInput):
    pass


class AppState:
    """The state of one app for one account."""

    def __init__(self, sessions: sessionmaker[Session], app_id: int, account_id: int) -> None:
        self._sessions = sessions
        self.app_id = app_id
        self.account_id = account_id

    def get(self, key: str, default: Any = None) -> Any:
        _check_key(key)
        with self._sessions() as session:
            value = session.scalar(
                select(AppStateValue.value).where(
                    AppStateValue.app_id == self.app_id,
                    AppStateValue.account_id == self.account_id,
                    AppStateValue.key == key,
                )
            )
        return default if value is None else value

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` (plain JSON) under ``key``; ``None`` deletes it."""
        _check_key(key)
        if value is None:
            self.delete(key)
            return
        try:
            encoded = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise StateError(f"state values must be plain JSON: {error}") from None
        if len(encoded) > MAX_VALUE_BYTES:
            raise StateError(f"a state value may hold at most {MAX_VALUE_BYTES // 1024} KB of JSON")
        stored = json.loads(encoded)
        row = {"app_id": self.app_id, "account_id": self.account_id, "key": key, "value": stored}
        with self._sessions() as session:
            insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            statement = insert(AppStateValue).values(**row, updated_at=clock.now())
            statement = statement.on_conflict_do_update(
                index_elements=["app_id", "account_id", "key"],
                set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
            )
            session.execute(statement)
            session.commit()

    def delete(self, key: str) -> None:
        _check_key(key)
        with self._sessions() as session:
            session.execute(
                delete(AppStateValue).where(
                    AppStateValue.app_id == self.app_id,
                    AppStateValue.account_id == self.account_id,
                    AppStateValue.key == key,
                )
            )
            session.commit()

    def all(self) -> dict[str, Any]:
        with self._sessions() as session:
            rows = session.execute(
                select(AppStateValue.key, AppStateValue.value).where(
                    AppStateValue.app_id == self.app_id, AppStateValue.account_id == self.account_id
                )
            )
            return {key: value for key, value in rows}


def _check_key(key: Any) -> None:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise StateError(f"state keys are non-empty text of at most {MAX_KEY_LENGTH} characters; got {key!r}")
