"""``ctx.data``: an account's collections of JSON records, stored in SQL.

Every statement a collection issues carries ``account_id = <its account>``: a job can name
any collection, but it only ever sees and changes its own account's rows.

Queries are small and typed: ``{"field": value}`` for equality, or ``{"field": {"$gte": a,
"$lt": b}}`` with ``$lt $lte $gt $gte $ne $in``. A comparison only matches values of the same
JSON type (a string bound never matches a number), so a stray value of another type in a
schemaless collection is skipped rather than breaking the query. Strings compare by code
point, which orders the ISO-8601 UTC timestamps ("2026-11-22T13:05:00Z") records use.
A missing field equals null; ``$ne`` is the exact complement of equality, so it also matches
records where the field is missing or holds another type. ``order_by`` sorts by JSON type
first (null/missing, numbers, strings, booleans, lists, objects), then by value, then by id,
identically on SQLite and PostgreSQL. ``created_at`` / ``updated_at`` are kept to the second,
as records show them.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    Numeric,
    Text,
    and_,
    case,
    delete,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import QueryableAttribute, Session

from tickwork import clock
from tickwork.errors import BadInput
from tickwork.models import Record

SYSTEM_FIELDS = ("id", "created_at", "updated_at")
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
COLLECTION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_RECORD_BYTES = 256 * 1024
OPERATORS = ("$lt", "$lte", "$gt", "$gte", "$ne", "$in")
# Whole numbers in a query must fit SQL's BIGINT (SQLite's INTEGER); larger ones raise in the driver.
MIN_INT, MAX_INT = -(2**63), 2**63 - 1
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "$eq": operator.eq,
    "$lt": operator.lt,
    "$lte": operator.le,
    "$gt": operator.gt,
    "$gte": operator.ge,
}
# The order of values of different JSON types in order_by, the same on every database.
_TYPE_RANKS = ("null", "number", "string", "boolean", "array", "object")


class DataError(BadInput):
    """A query or record the data API cannot accept; the message says which part."""


def iso_z(instant: datetime) -> str:
    """An aware datetime as record text: ``2026-11-22T13:05:00Z``."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(value: str, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise DataError(
            f"{field} compares with ISO-8601 times like 2026-11-22T13:05:00Z; got {value!r}"
        ) from None
    if parsed.tzinfo is None:
        raise DataError(f"{field} needs a time with its offset (or Z); got {value!r}")
    return parsed


class _Dialect:
    """Typed access to one top-level field of ``Record.data`` on SQLite or PostgreSQL."""

    def __init__(self, name: str) -> None:
        self.postgres = name == "postgresql"

    def json_type(self, field: str) -> ColumnElement[Any]:
        if self.postgres:
            return func.jsonb_typeof(Record.data.op("->")(literal(field)))
        return func.json_type(Record.data, literal(f'$."{field}"'))

    def typed(self, field: str, value: Any) -> ColumnElement[Any]:
        """The field as a SQL value of ``value``'s JSON type, NULL when the stored type differs."""
        if isinstance(value, bool):
            return self._as_type(field, "boolean")
        if isinstance(value, int | float):
            return self._as_type(field, "number")
        return self._as_type(field, "string")

    def _as_type(self, field: str, json_type: str) -> ColumnElement[Any]:
        """The field as a SQL value when it holds ``json_type`` (of ``_TYPE_RANKS``), else NULL.

        Strings compare by code point on both databases (``COLLATE "C"`` on PostgreSQL, whose
        default collation may be a locale's; SQLite compares UTF-8 bytes).
        """
        kind = self.json_type(field)
        if self.postgres:
            text = Record.data.op("->>", return_type=Text())(literal(field))
            converted = {
                "boolean": text.cast(Boolean()),
                "number": text.cast(Numeric()),
                "string": text.collate("C"),
            }[json_type]
            return case((kind == json_type, converted))
        sqlite_kinds = {"boolean": ["true", "false"], "number": ["integer", "real"], "string": ["text"]}
        extracted = func.json_extract(Record.data, literal(f'$."{field}"'))
        return case((kind.in_(sqlite_kinds[json_type]), extracted))

    def is_null(self, field: str) -> ColumnElement[bool]:
        kind = self.json_type(field)
        return or_(kind.is_(None), kind == "null")

    def ordering(self, field: str) -> list[ColumnElement[Any]]:
        """Sort keys for the field: its JSON type's rank (missing counts as null), then its value.

        Values of one type compare as in ``where``; values of different types order by
        ``_TYPE_RANKS``, so the order is the same on SQLite and PostgreSQL (their native orders
        of mixed JSON values differ, and PostgreSQL sorts a missing field after everything).
        """
        kind = self.json_type(field)
        if self.postgres:
            kinds = {name: [name] for name in _TYPE_RANKS}
        else:
            kinds = {
                "null": ["null"],
                "number": ["integer", "real"],
                "string": ["text"],
                "boolean": ["true", "false"],
                "array": ["array"],
                "object": ["object"],
            }
        rank = case(
            *((kind.in_(kinds[name]), literal(index, Integer())) for index, name in enumerate(_TYPE_RANKS)),
            else_=literal(0, Integer()),
        )
        return [rank, *(self._as_type(field, name) for name in ("number", "string", "boolean"))]

    def merged(self, changes: Mapping[str, Any]) -> ColumnElement[Any]:
        """``data`` with ``changes`` set at the top level (a shallow merge), in one statement."""
        if self.postgres:
            # The dict itself is the JSONB parameter (JSONB serializes it); casting its json.dumps
            # text would store one JSON string, and ``object || string`` makes an array.
            return Record.data.op("||")(literal(dict(changes), JSONB()))
        arguments: list[Any] = [Record.data]
        for key, value in changes.items():
            arguments += [literal(f'$."{key}"'), func.json(json.dumps(value))]
        return func.json_set(*arguments)

    def json_size(self, document: ColumnElement[Any]) -> ColumnElement[int]:
        """The length of ``document`` as JSON text, as the database writes it (PostgreSQL with
        the spaces json.dumps puts in, SQLite without): the size cap, measured in SQL."""
        if self.postgres:
            return func.octet_length(document.cast(Text))
        return func.length(document)


class Collection:
    """One named collection of one account's records."""

    def __init__(self, session: Session, account_id: int, name: str, autocommit: bool = False) -> None:
        if not isinstance(name, str) or not COLLECTION_NAME.match(name):
            raise DataError(
                f"collection names are lowercase letters, digits and _ (starting with a letter); got {name!r}"
            )
        self.session = session
        self.account_id = account_id
        self.name = name
        self.autocommit = autocommit  # jobs: every write commits at once, so progress survives a crash
        bind = session.get_bind()
        self._dialect = _Dialect(bind.dialect.name)

    def __repr__(self) -> str:
        return f"<Collection {self.name!r} of account {self.account_id}>"

    # --- reading -------------------------------------------------------------------------------

    def find(
        self, where: Mapping[str, Any] | None = None, *, order_by: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """The matching records as dicts with their id, created_at and updated_at."""
        query = select(Record).where(self._scope(), self._where(where))
        query = query.order_by(*self._order(order_by))
        if limit is not None:
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
                raise DataError(f"limit must be a whole number >= 0; got {limit!r}")
            query = query.limit(limit)
        return [_as_dict(record) for record in self.session.scalars(query)]

    def find_one(
        self, where: Mapping[str, Any] | None = None, *, order_by: str | None = None
    ) -> dict[str, Any] | None:
        found = self.find(where, order_by=order_by, limit=1)
        return found[0] if found else None

    def get(self, record_id: int) -> dict[str, Any] | None:
        return self.find_one({"id": record_id})

    def count(self, where: Mapping[str, Any] | None = None) -> int:
        query = select(func.count()).select_from(Record).where(self._scope(), self._where(where))
        return int(self.session.scalar(query) or 0)

    # --- writing -------------------------------------------------------------------------------

    def insert(self, record: Mapping[str, Any]) -> int:
        """Store a new record; returns its id."""
        return self.insert_many([record])[0]

    def insert_many(self, records: Iterable[Mapping[str, Any]]) -> list[int]:
        """Store new records; returns their ids. Every record is checked before any is stored."""
        checked = [_checked_record(record) for record in records]
        if not checked:
            return []
        now = _record_time()
        rows = [
            Record(
                account_id=self.account_id, collection=self.name, data=data, created_at=now, updated_at=now
            )
            for data in checked
        ]
        self.session.add_all(rows)
        self.session.flush()
        self._written()
        return [row.id for row in rows]

    def update(self, where: Mapping[str, Any] | None, changes: Mapping[str, Any]) -> int:
        """Merge ``changes`` into every matching record (top-level keys); returns how many matched.

        The size cap holds for the merged record, not only for the changes: an update that would
        make any matching record larger changes none of them. (The UPDATE repeats the check, so
        a concurrent update cannot slip one past it either.)
        """
        data = _checked_record(changes)
        if not data:
            return self.count(where)  # nothing to change, but still "how many matched"
        merged = self._dialect.merged(data)
        fits = self._dialect.json_size(merged) <= MAX_RECORD_BYTES
        too_big = self.session.scalar(
            select(Record.id).where(self._scope(), self._where(where), not_(fits)).limit(1)
        )
        if too_big is not None:
            raise DataError(
                f"a record may hold at most {MAX_RECORD_BYTES // 1024} KB of JSON; "
                f"this update would make record {too_big} larger"
            )
        statement = (
            update(Record)
            .where(self._scope(), self._where(where), fits)
            .values(data=merged, updated_at=_record_time())
            .execution_options(synchronize_session=False)
        )
        changed = int(self.session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]
        self._written()
        return changed

    def delete(self, where: Mapping[str, Any] | None) -> int:
        """Delete the matching records (``None`` or ``{}`` deletes the whole collection)."""
        statement = (
            delete(Record)
            .where(self._scope(), self._where(where))
            .execution_options(synchronize_session=False)
        )
        removed = int(self.session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]
        self._written()
        return removed

    def _written(self) -> None:
        if self.autocommit:
            self.session.commit()

    # --- query building ------------------------------------------------------------------------

    def _scope(self) -> ColumnElement[bool]:
        return and_(Record.account_id == self.account_id, Record.collection == self.name)

    def _where(self, where: Mapping[str, Any] | None) -> ColumnElement[bool]:
        if where is None:
            return true()
        if not isinstance(where, Mapping):
            raise DataError(f"where must be a dict of field conditions; got {type(where).__name__}")
        clauses = [self._condition(field, condition) for field, condition in where.items()]
        return and_(true(), *clauses)

    def _condition(self, field: str, condition: Any) -> ColumnElement[bool]:
        _check_field(field)
        if isinstance(condition, Mapping):
            if not condition:
                raise DataError(f"{field}: an empty condition matches nothing useful; give an operator")
            return and_(*(self._operator(field, op, operand) for op, operand in condition.items()))
        return self._operator(field, "$eq", condition)

    def _operator(self, field: str, op: str, operand: Any) -> ColumnElement[bool]:
        if op not in OPERATORS and op != "$eq":
            raise DataError(f"{field}: unknown operator {op!r}; use one of {', '.join(OPERATORS)}")
        if op == "$in":
            if not isinstance(operand, list | tuple | set | frozenset):
                raise DataError(f"{field}: $in takes a list; got {operand!r}")
            values = list(operand)
            return or_(false(), *(self._operator(field, "$eq", value) for value in values))
        if op == "$ne":
            return not_(self._operator(field, "$eq", operand))
        if field in SYSTEM_FIELDS:
            return self._system(field, op, operand)
        if operand is None:
            if op != "$eq":
                raise DataError(f"{field}: null can only be compared for equality")
            return self._dialect.is_null(field)
        if not isinstance(operand, str | int | float | bool):
            raise DataError(f"{field}: compare with a string, number, boolean or null; got {operand!r}")
        if isinstance(operand, bool) and op != "$eq":
            raise DataError(f"{field}: booleans can only be compared for equality")
        if isinstance(operand, float) and not math.isfinite(operand):
            raise DataError(f"{field}: compare with finite numbers; got {operand!r}")
        if isinstance(operand, int) and not isinstance(operand, bool) and not MIN_INT <= operand <= MAX_INT:
            raise DataError(
                f"{field}: whole numbers in a query are at most 2**63 - 1 in size; got {operand!r}"
            )
        if isinstance(operand, str) and "\x00" in operand:
            raise DataError(f"{field}: text cannot hold the NUL character (\\u0000); got {operand!r}")
        value = self._dialect.typed(field, operand)
        # Only the one comparison is built: SQLAlchemy refuses ``<`` and friends with a boolean.
        compare = _COMPARE[op](value, operand)
        # A field of another type yields NULL above; make that a plain False so $ne and not_ work.
        return and_(value.is_not(None), compare)

    def _system(self, field: str, op: str, operand: Any) -> ColumnElement[bool]:
        column: QueryableAttribute[Any]
        value: int | datetime
        if field == "id":
            if not isinstance(operand, int) or isinstance(operand, bool) or not MIN_INT <= operand <= MAX_INT:
                raise DataError(f"id compares with whole numbers; got {operand!r}")
            column, value = Record.id, operand
        else:
            column = Record.created_at if field == "created_at" else Record.updated_at
            if isinstance(operand, datetime):
                if operand.tzinfo is None or operand.utcoffset() is None:
                    raise DataError(
                        f"{field} needs a time with its offset (an aware datetime); got {operand!r}"
                    )
                value = operand
            elif isinstance(operand, str):
                value = _parse_iso(operand, field)
            else:
                raise DataError(f"{field} compares with ISO-8601 times; got {operand!r}")
        compare: ColumnElement[bool] = _COMPARE[op](column, value)
        return compare

    def _order(self, order_by: str | None) -> list[Any]:
        if order_by is None:
            return [Record.id]
        if not isinstance(order_by, str):
            raise DataError(f"order_by is a field name, '-' first for descending; got {order_by!r}")
        descending = order_by.startswith("-")
        field = order_by.removeprefix("-")
        _check_field(field)
        keys: list[Any] = (
            [getattr(Record, field)] if field in SYSTEM_FIELDS else self._dialect.ordering(field)
        )
        keys.append(Record.id)
        if descending:
            return [key.desc() for key in keys]
        return keys


class Collections:
    """``ctx.data``: ``ctx.data["orders"]`` is the account's orders collection."""

    def __init__(self, session: Session, account_id: int, autocommit: bool = False) -> None:
        self._session = session
        self._account_id = account_id
        self._autocommit = autocommit
        self._open: dict[str, Collection] = {}

    def __getitem__(self, name: str) -> Collection:
        if name not in self._open:
            self._open[name] = Collection(self._session, self._account_id, name, self._autocommit)
        return self._open[name]

    def names(self) -> list[str]:
        query = (
            select(Record.collection)
            .where(Record.account_id == self._account_id)
            .distinct()
            .order_by(Record.collection)
        )
        return list(self._session.scalars(query))


def _check_field(field: Any) -> None:
    if not isinstance(field, str) or not FIELD_NAME.match(field):
        raise DataError(f"field names are letters, digits and _ (starting with a letter or _); got {field!r}")


def _record_time() -> datetime:
    """Now, to the whole second: the precision records show (``iso_z``), so that a record's own
    ``created_at`` / ``updated_at`` text compares equal to what is stored."""
    return clock.now().replace(microsecond=0)


def _check_no_nul(value: Any) -> None:
    """PostgreSQL's jsonb cannot hold U+0000; refuse it on every database alike."""
    if isinstance(value, str):
        if "\x00" in value:
            raise DataError("text in a record cannot hold the NUL character (\\u0000)")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_no_nul(key)
            _check_no_nul(item)
    elif isinstance(value, list):
        for item in value:
            _check_no_nul(item)


def _checked_record(record: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(record, Mapping):
        raise DataError(f"a record is a dict; got {type(record).__name__}")
    data = dict(record)
    for key in data:
        _check_field(key)
        if key in SYSTEM_FIELDS:
            raise DataError(f"{key} is set by the platform; leave it out of the record")
    try:
        encoded = json.dumps(data, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise DataError(f"a record must be plain JSON (text, numbers, lists, dicts): {error}") from None
    if len(encoded) > MAX_RECORD_BYTES:
        raise DataError(f"a record may hold at most {MAX_RECORD_BYTES // 1024} KB of JSON")
    decoded: dict[str, Any] = json.loads(encoded)
    _check_no_nul(decoded)
    return decoded


def _as_dict(record: Record) -> dict[str, Any]:
    return {
        **record.data,
        "id": record.id,
        "created_at": iso_z(record.created_at),
        "updated_at": iso_z(record.updated_at),
    }
