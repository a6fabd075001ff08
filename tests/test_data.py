"""``ctx.data``: account-scoped collections of JSON records, on both database lanes.

Every test runs on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL; the two must agree
on every result, including the typed comparisons and the order of mixed values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tickwork import clock
from tickwork.data import MAX_RECORD_BYTES, Collection, Collections, DataError
from tickwork.errors import BadInput
from tickwork.models import Account, Record

T0 = datetime(2026, 11, 22, 13, 5, tzinfo=UTC)

# One field ``v`` holding every JSON type (and missing once), to check what each query matches.
MIXED: list[dict[str, Any]] = [
    {"name": "int0", "v": 0},
    {"name": "int1", "v": 1},
    {"name": "int2", "v": 2},
    {"name": "float2.5", "v": 2.5},
    {"name": "int10", "v": 10},
    {"name": "neg", "v": -3},
    {"name": "str10", "v": "10"},
    {"name": "str2", "v": "2"},
    {"name": "strabc", "v": "abc"},
    {"name": "strB", "v": "B"},
    {"name": "true", "v": True},
    {"name": "false", "v": False},
    {"name": "null", "v": None},
    {"name": "missing"},
    {"name": "list", "v": [10]},
    {"name": "object", "v": {"x": 10}},
]
ALL_MIXED = {record["name"] for record in MIXED}


# --- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture
def move_clock() -> Iterator[Callable[[datetime], None]]:
    """The clock frozen at T0; call the fixture's value to move it."""
    with clock.frozen_at(T0) as move_to:
        yield move_to


@pytest.fixture
def accounts(session: Session) -> tuple[int, int]:
    acme = Account(slug="acme", name="Acme")
    globex = Account(slug="globex", name="Globex")
    session.add_all([acme, globex])
    session.flush()
    return acme.id, globex.id


@pytest.fixture
def data(session: Session, accounts: tuple[int, int]) -> Collections:
    """``ctx.data`` of the first account."""
    return Collections(session, accounts[0])


@pytest.fixture
def other_data(session: Session, accounts: tuple[int, int]) -> Collections:
    """``ctx.data`` of the second account."""
    return Collections(session, accounts[1])


@pytest.fixture
def items(data: Collections) -> Collection:
    return data["items"]


@pytest.fixture
def mixed(data: Collections) -> Collection:
    collection = data["mixed"]
    collection.insert_many(MIXED)
    return collection


def names(records: Iterable[dict[str, Any]]) -> list[str]:
    return [record["name"] for record in records]


def matching(collection: Collection, where: dict[str, Any]) -> set[str]:
    """The names ``find`` returns, checked against ``count`` on the same query."""
    found = names(collection.find(where))
    assert collection.count(where) == len(found)
    assert len(set(found)) == len(found)
    return set(found)


def stored_rows(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Record)) or 0)


# --- insert and find ---------------------------------------------------------------------------


def test_insert_returns_ids_and_find_returns_the_records_with_system_fields(
    items: Collection, move_clock: Callable[[datetime], None]
) -> None:
    first = items.insert({"sku": "MUG-01", "quantity": 7})
    move_clock(T0 + timedelta(minutes=1))
    second, third = items.insert_many([{"sku": "CAP-02", "quantity": 0}, {}])

    assert isinstance(first, int) and first < second < third
    assert items.find() == [
        {
            "sku": "MUG-01",
            "quantity": 7,
            "id": first,
            "created_at": "2026-11-22T13:05:00Z",
            "updated_at": "2026-11-22T13:05:00Z",
        },
        {
            "sku": "CAP-02",
            "quantity": 0,
            "id": second,
            "created_at": "2026-11-22T13:06:00Z",
            "updated_at": "2026-11-22T13:06:00Z",
        },
        {"id": third, "created_at": "2026-11-22T13:06:00Z", "updated_at": "2026-11-22T13:06:00Z"},
    ]
    assert items.get(second) == items.find()[1]
    assert items.find_one({"sku": "MUG-01"}) == items.find()[0]
    assert items.get(third + 1000) is None
    assert items.find_one({"sku": "nothing"}) is None
    assert items.insert_many([]) == []


def test_records_read_back_are_copies_not_live_views(items: Collection) -> None:
    record_id = items.insert({"tags": ["a"]})
    record = items.get(record_id)
    assert record is not None
    record["tags"].append("b")
    record["extra"] = 1
    again = items.get(record_id)
    assert again is not None
    assert again["tags"] == ["a"]
    assert "extra" not in again


def test_values_round_trip_unicode_and_nested_lists_and_dicts(items: Collection) -> None:
    record = {
        "name": "Zoë Ærøskøbing — 日本語 😀",
        "quote": 'she said "hi" \\ back\nslash\ttab',
        "tags": ["a", 1, 2.5, None, True, False, [], {}],
        "meta": {"nested": {"deep": [{"x": 1.5, "y": ["z", {"ü": "ß"}]}]}, "keys with spaces": 1},
        "big": 2**53 + 1,
        "negative": -0.25,
        "empty_text": "",
        "nothing": None,
    }
    record_id = items.insert(record)
    found = items.get(record_id)
    assert found is not None
    assert {key: found[key] for key in record} == record
    assert items.find({"name": "Zoë Ærøskøbing — 日本語 😀"}) == [found]
    assert items.find({"quote": record["quote"]}) == [found]
    assert items.count({"empty_text": ""}) == 1


def test_large_whole_numbers_round_trip_and_compare(items: Collection) -> None:
    items.insert_many(
        [
            {"name": "huge", "n": 2**70},
            {"name": "max", "n": 2**63 - 1},
            {"name": "min", "n": -(2**63)},
            {"name": "small", "n": 1},
        ]
    )
    assert [record["n"] for record in items.find()] == [2**70, 2**63 - 1, -(2**63), 1]
    assert matching(items, {"n": {"$gt": 2**62}}) == {"huge", "max"}
    assert matching(items, {"n": {"$lt": -(2**62)}}) == {"min"}
    assert matching(items, {"n": {"$gte": -(2**63), "$lte": 2**63 - 1, "$ne": 1}}) == {"max", "min"}
    assert names(items.find(order_by="-n")) == ["huge", "max", "small", "min"]


def test_a_tuple_is_stored_as_a_list(items: Collection) -> None:
    record_id = items.insert({"pair": (1, "two")})
    assert (items.get(record_id) or {})["pair"] == [1, "two"]


# --- equality ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("abc", {"strabc"}, id="string"),
        pytest.param("10", {"str10"}, id="numeric-string-is-not-a-number"),
        pytest.param(10, {"int10"}, id="int-is-not-a-string"),
        pytest.param(2.5, {"float2.5"}, id="float"),
        pytest.param(2.0, {"int2"}, id="float-equals-equal-int"),
        pytest.param(1, {"int1"}, id="one-is-not-true"),
        pytest.param(0, {"int0"}, id="zero-is-not-false"),
        pytest.param(True, {"true"}, id="true-is-not-one"),
        pytest.param(False, {"false"}, id="false-is-not-zero"),
        pytest.param(None, {"null", "missing"}, id="null-includes-missing"),
        pytest.param("b", set(), id="strings-are-case-sensitive"),
        pytest.param(-3, {"neg"}, id="negative"),
    ],
)
def test_equality_matches_the_same_json_type_only(mixed: Collection, value: Any, expected: set[str]) -> None:
    assert matching(mixed, {"v": value}) == expected


def test_several_fields_are_anded(items: Collection) -> None:
    items.insert_many(
        [
            {"name": "a", "kind": "x", "n": 1},
            {"name": "b", "kind": "x", "n": 2},
            {"name": "c", "kind": "y", "n": 2},
        ]
    )
    assert matching(items, {"kind": "x", "n": 2}) == {"b"}
    assert matching(items, {"kind": "x", "n": {"$gte": 1}}) == {"a", "b"}
    assert matching(items, {}) == {"a", "b", "c"}


def test_nested_values_are_not_compared(mixed: Collection) -> None:
    """A list or dict operand is refused: only top-level scalars are queryable."""
    with pytest.raises(DataError, match="compare with a string, number, boolean or null"):
        mixed.find({"v": [10]})
    with pytest.raises(DataError, match="unknown operator 'x'"):
        mixed.find({"v": {"x": 10}})


# --- typed ranges ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        pytest.param({"$lt": 3}, {"int0", "int1", "int2", "float2.5", "neg"}, id="lt-3-numeric-not-text"),
        pytest.param({"$gt": 5}, {"int10"}, id="gt-5"),
        pytest.param({"$gte": 2}, {"int2", "float2.5", "int10"}, id="gte-2"),
        pytest.param({"$lte": 2}, {"int0", "int1", "int2", "neg"}, id="lte-2"),
        pytest.param({"$gt": 2.25}, {"float2.5", "int10"}, id="gt-float"),
        pytest.param({"$lt": 0}, {"neg"}, id="lt-0"),
        pytest.param(
            {"$gt": -1e300, "$lt": 1e300}, {"int0", "int1", "int2", "float2.5", "int10", "neg"}, id="all"
        ),
    ],
)
def test_number_ranges_compare_numerically_and_skip_other_types(
    mixed: Collection, where: dict[str, Any], expected: set[str]
) -> None:
    assert matching(mixed, {"v": where}) == expected


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        pytest.param({"$gt": "1"}, {"str10", "str2", "strabc", "strB"}, id="gt-1"),
        pytest.param({"$lt": "2"}, {"str10"}, id="text-10-before-2"),
        pytest.param({"$gte": "a"}, {"strabc"}, id="lowercase-after-uppercase"),
        pytest.param({"$lt": "a"}, {"str10", "str2", "strB"}, id="code-point-order"),
        pytest.param({"$lte": "B"}, {"str10", "str2", "strB"}, id="lte"),
    ],
)
def test_string_ranges_compare_by_code_point_and_skip_other_types(
    mixed: Collection, where: dict[str, Any], expected: set[str]
) -> None:
    assert matching(mixed, {"v": where}) == expected


def test_a_string_field_never_matches_a_number_range_and_does_not_break_the_query(items: Collection) -> None:
    items.insert_many(
        [
            {"name": "text-ten", "n": "10"},
            {"name": "not-a-number", "n": "abc"},
            {"name": "empty", "n": ""},
            {"name": "list", "n": [1, 2]},
            {"name": "object", "n": {"$gt": 5}},
            {"name": "bool", "n": True},
            {"name": "number", "n": 6},
        ]
    )
    assert matching(items, {"n": {"$gt": 5}}) == {"number"}
    assert matching(items, {"n": {"$lt": 100}}) == {"number"}
    assert matching(items, {"n": {"$gte": ""}}) == {"text-ten", "not-a-number", "empty"}


def test_non_ascii_strings_compare_by_code_point(items: Collection) -> None:
    items.insert_many([{"name": n, "s": n} for n in ["z", "é", "日本", "😀", "Z", ""]])
    assert matching(items, {"s": {"$gt": "z"}}) == {"é", "日本", "😀"}
    assert matching(items, {"s": {"$gt": "日本"}}) == {"😀"}
    assert names(items.find(order_by="s")) == ["", "Z", "z", "é", "日本", "😀"]


def test_iso_timestamp_strings_compare_chronologically(items: Collection) -> None:
    """The order-digest query: placed_at in [start, end), as ISO-8601 UTC text."""
    items.insert_many(
        [
            {"name": "before", "placed_at": "2026-11-22T04:59:59Z"},
            {"name": "at-start", "placed_at": "2026-11-22T05:00:00Z"},
            {"name": "late", "placed_at": "2026-11-23T04:59:59Z"},
            {"name": "morning", "placed_at": "2026-11-22T13:05:00Z"},
            {"name": "at-end", "placed_at": "2026-11-23T05:00:00Z"},
            {"name": "no-date"},
            {"name": "wrong-type", "placed_at": 20261122},
        ]
    )
    where = {"placed_at": {"$gte": "2026-11-22T05:00:00Z", "$lt": "2026-11-23T05:00:00Z"}}
    assert names(items.find(where, order_by="placed_at")) == ["at-start", "morning", "late"]
    assert names(items.find({"placed_at": {"$lt": "2026-11-22T05:00:00Z"}})) == ["before"]


def test_appointment_reminders_query(items: Collection) -> None:
    """starts_at in the window, not yet reminded (reminded_at missing or null)."""
    items.insert_many(
        [
            {"name": "due", "starts_at": "2026-11-23T13:30:00Z"},
            {"name": "due-null", "starts_at": "2026-11-23T13:00:00Z", "reminded_at": None},
            {"name": "reminded", "starts_at": "2026-11-23T13:10:00Z", "reminded_at": "2026-11-22T13:00:00Z"},
            {"name": "later", "starts_at": "2026-11-23T14:00:00Z"},
        ]
    )
    window = {"$gte": "2026-11-23T13:00:00Z", "$lt": "2026-11-23T14:00:00Z"}
    assert names(items.find({"starts_at": window, "reminded_at": None}, order_by="starts_at")) == [
        "due-null",
        "due",
    ]
    assert names(items.find({"starts_at": window, "reminded_at": {"$ne": None}})) == ["reminded"]


# --- $ne, $in and combined operators -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "excluded"),
    [
        pytest.param(10, {"int10"}, id="number"),
        pytest.param("10", {"str10"}, id="string"),
        pytest.param(True, {"true"}, id="boolean"),
        pytest.param(2.5, {"float2.5"}, id="float"),
        pytest.param(None, {"null", "missing"}, id="null-means-present-and-not-null"),
    ],
)
def test_ne_is_the_complement_of_equality_so_it_includes_missing_null_and_other_types(
    mixed: Collection, value: Any, excluded: set[str]
) -> None:
    assert matching(mixed, {"v": {"$ne": value}}) == ALL_MIXED - excluded
    assert matching(mixed, {"v": value}) | matching(mixed, {"v": {"$ne": value}}) == ALL_MIXED


def test_ne_on_a_field_no_record_has_matches_everything(mixed: Collection) -> None:
    assert matching(mixed, {"absent": {"$ne": 1}}) == ALL_MIXED
    assert matching(mixed, {"absent": {"$ne": None}}) == set()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([10, "abc", None], {"int10", "strabc", "null", "missing"}, id="mixed-types"),
        pytest.param([2, 2.5, 99], {"int2", "float2.5"}, id="numbers"),
        pytest.param(["2", "10"], {"str2", "str10"}, id="strings-are-not-numbers"),
        pytest.param([True], {"true"}, id="true-is-not-one"),
        pytest.param([1, 0], {"int1", "int0"}, id="numbers-are-not-booleans"),
        pytest.param([], set(), id="empty-matches-nothing"),
        pytest.param((10,), {"int10"}, id="tuple"),
        pytest.param({"abc"}, {"strabc"}, id="set"),
    ],
)
def test_in_matches_any_listed_value_of_the_same_type(
    mixed: Collection, values: Any, expected: set[str]
) -> None:
    assert matching(mixed, {"v": {"$in": values}}) == expected


def test_several_operators_on_one_field_are_anded(mixed: Collection) -> None:
    assert matching(mixed, {"v": {"$gt": 0, "$lt": 10, "$ne": 2}}) == {"int1", "float2.5"}
    assert matching(mixed, {"v": {"$gte": 0, "$in": [0, 10, "10"]}}) == {"int0", "int10"}
    assert matching(mixed, {"v": {"$gt": 5, "$lt": 1}}) == set()
    assert matching(mixed, {"v": {"$gte": "1", "$lt": "3"}}) == {"str10", "str2"}


# --- system fields -----------------------------------------------------------------------------


@pytest.fixture
def timeline(items: Collection, move_clock: Callable[[datetime], None]) -> list[int]:
    """Four records created an hour apart from T0; the third updated two hours after that."""
    ids = []
    for hour in range(4):
        move_clock(T0 + timedelta(hours=hour))
        ids.append(items.insert({"name": f"h{hour}"}))
    move_clock(T0 + timedelta(hours=5))
    assert items.update({"id": ids[2]}, {"touched": True}) == 1
    return ids


def test_id_in_where(items: Collection, timeline: list[int]) -> None:
    assert names(items.find({"id": timeline[1]})) == ["h1"]
    assert names(items.find({"id": {"$gt": timeline[1]}})) == ["h2", "h3"]
    assert names(items.find({"id": {"$lte": timeline[1]}})) == ["h0", "h1"]
    assert names(items.find({"id": {"$in": [timeline[0], timeline[3], 10**9]}})) == ["h0", "h3"]
    assert names(items.find({"id": {"$ne": timeline[0]}})) == ["h1", "h2", "h3"]
    assert items.count({"id": {"$gte": timeline[1], "$lt": timeline[3]}}) == 2


@pytest.mark.parametrize(
    "bound",
    [
        pytest.param("2026-11-22T14:05:00Z", id="iso-z"),
        pytest.param("2026-11-22T14:05:00+00:00", id="iso-offset-zero"),
        pytest.param("2026-11-22T09:05:00-05:00", id="iso-eastern-offset"),
        pytest.param(T0 + timedelta(hours=1), id="aware-utc-datetime"),
        pytest.param(
            (T0 + timedelta(hours=1)).astimezone(timezone(timedelta(hours=-5))), id="aware-eastern-datetime"
        ),
    ],
)
def test_created_at_compares_with_iso_strings_and_aware_datetimes(
    items: Collection, timeline: list[int], bound: str | datetime
) -> None:
    assert names(items.find({"created_at": bound})) == ["h1"]
    assert names(items.find({"created_at": {"$lt": bound}})) == ["h0"]
    assert names(items.find({"created_at": {"$lte": bound}})) == ["h0", "h1"]
    assert names(items.find({"created_at": {"$gt": bound}})) == ["h2", "h3"]
    assert names(items.find({"created_at": {"$gte": bound}})) == ["h1", "h2", "h3"]
    assert names(items.find({"created_at": {"$ne": bound}})) == ["h0", "h2", "h3"]
    assert names(items.find({"created_at": {"$in": [bound, "2026-11-22T16:05:00Z"]}})) == ["h1", "h3"]


def test_updated_at_in_where_and_order_by(items: Collection, timeline: list[int]) -> None:
    assert names(items.find({"updated_at": {"$gt": "2026-11-22T16:05:00Z"}})) == ["h2"]
    assert names(items.find(order_by="-updated_at")) == ["h2", "h3", "h1", "h0"]
    assert names(items.find(order_by="updated_at")) == ["h0", "h1", "h3", "h2"]


def test_system_fields_in_order_by(items: Collection, timeline: list[int]) -> None:
    assert names(items.find(order_by="id")) == ["h0", "h1", "h2", "h3"]
    assert names(items.find(order_by="-id")) == ["h3", "h2", "h1", "h0"]
    assert names(items.find(order_by="created_at")) == ["h0", "h1", "h2", "h3"]
    assert names(items.find(order_by="-created_at", limit=2)) == ["h3", "h2"]


def test_a_records_own_created_at_finds_it_with_the_real_clock(items: Collection) -> None:
    """The times a record shows are exactly the ones it is compared by (no hidden fractions)."""
    record_id = items.insert({"name": "now"})
    record = items.get(record_id)
    assert record is not None
    assert items.find({"created_at": record["created_at"]}) == [record]
    assert items.find({"updated_at": record["updated_at"], "id": record_id}) == [record]
    assert items.count({"created_at": {"$gt": record["created_at"]}}) == 0
    assert items.count({"created_at": {"$lte": record["created_at"]}}) == 1


def test_system_fields_can_be_paged_by_created_at(items: Collection) -> None:
    """Reading "everything created after the last one seen" never returns the last one again."""
    first = items.insert({"name": "a"})
    items.insert({"name": "b"})
    last_seen = items.get(first)
    assert last_seen is not None
    after = items.find({"created_at": {"$gt": last_seen["created_at"]}})
    assert first not in [record["id"] for record in after]


# --- order_by and limit ------------------------------------------------------------------------


def test_order_by_a_data_field_with_id_as_tiebreaker(items: Collection) -> None:
    ids = items.insert_many(
        [
            {"name": "a", "rank": 3},
            {"name": "b", "rank": 1},
            {"name": "c", "rank": 2},
            {"name": "d", "rank": 1},
            {"name": "e", "rank": 3},
            {"name": "f", "rank": 10},
        ]
    )
    assert names(items.find(order_by="rank")) == ["b", "d", "c", "a", "e", "f"]
    assert names(items.find(order_by="-rank")) == ["f", "e", "a", "c", "d", "b"]
    assert items.find_one(order_by="rank") == items.get(ids[1])
    assert items.find_one(order_by="-rank") == items.get(ids[5])
    assert names(items.find({"rank": {"$lt": 3}}, order_by="-rank")) == ["c", "d", "b"]


def test_order_by_strings_is_by_code_point(items: Collection) -> None:
    items.insert_many([{"name": n} for n in ["banana", "Apple", "apple", "cherry", "Banana", "10", "9"]])
    assert names(items.find(order_by="name")) == ["10", "9", "Apple", "Banana", "apple", "banana", "cherry"]
    assert names(items.find(order_by="-name")) == ["cherry", "banana", "apple", "Banana", "Apple", "9", "10"]


def test_order_by_iso_timestamps(items: Collection) -> None:
    items.insert_many(
        [
            {"name": "c", "at": "2026-11-23T00:00:00Z"},
            {"name": "a", "at": "2026-11-22T13:05:00Z"},
            {"name": "b", "at": "2026-11-22T13:05:01Z"},
        ]
    )
    assert names(items.find(order_by="at")) == ["a", "b", "c"]
    assert names(items.find(order_by="-at", limit=1)) == ["c"]


def test_order_by_puts_missing_and_null_first_then_numbers_strings_booleans_the_same_on_both_lanes(
    mixed: Collection,
) -> None:
    """Mixed values order by type (null/missing, numbers, strings, booleans, lists, objects), then by
    value within a type, then by id: the same on SQLite and PostgreSQL, whatever the server's collation.
    """
    ascending = names(mixed.find(order_by="v"))
    assert ascending == [
        "null",
        "missing",
        "neg",
        "int0",
        "int1",
        "int2",
        "float2.5",
        "int10",
        "str10",
        "str2",
        "strB",
        "strabc",
        "false",
        "true",
        "list",
        "object",
    ]
    assert names(mixed.find(order_by="-v")) == list(reversed(ascending))


def test_limit(items: Collection) -> None:
    items.insert_many([{"name": str(n), "n": n} for n in range(5)])
    assert names(items.find(limit=2)) == ["0", "1"]
    assert names(items.find(order_by="-n", limit=3)) == ["4", "3", "2"]
    assert names(items.find({"n": {"$gte": 3}}, limit=10)) == ["3", "4"]
    assert items.find(limit=0) == []
    assert len(items.find(limit=None)) == 5


# --- update ------------------------------------------------------------------------------------


def test_update_merges_top_level_keys_and_replaces_nested_values(
    items: Collection, move_clock: Callable[[datetime], None]
) -> None:
    record_id = items.insert(
        {"status": "pending", "rows": 10, "meta": {"a": 1, "b": 2}, "tags": ["x", "y"], "keep": "me"}
    )
    move_clock(T0 + timedelta(minutes=30))
    changes = {"status": "processing", "meta": {"c": 3}, "tags": ["z"], "new": None, "flag": False}
    assert items.update({"id": record_id}, changes) == 1
    assert items.get(record_id) == {
        "status": "processing",
        "rows": 10,
        "meta": {"c": 3},
        "tags": ["z"],
        "keep": "me",
        "new": None,
        "flag": False,
        "id": record_id,
        "created_at": "2026-11-22T13:05:00Z",
        "updated_at": "2026-11-22T13:35:00Z",
    }
    assert items.count({"new": None}) == 1
    assert items.count({"flag": False}) == 1


def test_update_values_round_trip_every_json_type(items: Collection) -> None:
    record_id = items.insert({"name": "x"})
    changes = {
        "text": '日本 😀 "quoted" \\',
        "int": 7,
        "float": 0.5,
        "true": True,
        "null": None,
        "list": [1, "a", None, {"k": [True]}],
        "obj": {"nested": {"deep": "ü"}},
        "empty": {},
    }
    assert items.update({"id": record_id}, changes) == 1
    record = items.get(record_id)
    assert record is not None
    assert {key: record[key] for key in changes} == changes
    assert items.count({"text": changes["text"], "int": 7, "float": 0.5, "true": True}) == 1
    assert items.count({"int": {"$gt": 6}}) == 1
    assert items.count({"obj": {"$ne": None}}) == 1


def test_update_returns_the_number_of_matched_records(items: Collection) -> None:
    items.insert_many([{"name": "a", "status": "done"}, {"name": "b", "status": "done"}, {"name": "c"}])
    assert items.update({"status": "done"}, {"status": "done"}) == 2  # matched, even if unchanged
    assert items.update({"status": "missing"}, {"x": 1}) == 0
    assert items.update({}, {"seen": True}) == 3
    assert items.update(None, {"seen": False}) == 3
    assert items.count({"seen": False}) == 3


def test_update_with_no_changes_still_counts_the_matches_and_checks_the_query(
    items: Collection, move_clock: Callable[[datetime], None]
) -> None:
    record_id = items.insert({"status": "done"})
    move_clock(T0 + timedelta(hours=1))
    assert items.update({"status": "done"}, {}) == 1
    assert items.update({"status": "other"}, {}) == 0
    assert (items.get(record_id) or {})["updated_at"] == "2026-11-22T13:05:00Z"
    with pytest.raises(DataError, match="unknown operator"):
        items.update({"status": {"$like": "d%"}}, {})


def test_update_is_a_conditional_claim(items: Collection) -> None:
    """The import-processor claim: only one of two updates of a pending batch wins."""
    batch = items.insert({"batch": "leads", "status": "pending"})
    assert items.update({"id": batch, "status": "pending"}, {"status": "processing"}) == 1
    assert items.update({"id": batch, "status": "pending"}, {"status": "processing"}) == 0
    assert (items.get(batch) or {})["status"] == "processing"


def test_update_with_in_and_ranges(items: Collection, move_clock: Callable[[datetime], None]) -> None:
    ids = items.insert_many([{"sku": f"S{n}", "quantity": n} for n in range(6)])
    move_clock(T0 + timedelta(minutes=5))
    assert items.update({"sku": {"$in": ["S1", "S3", "S9"]}}, {"low_alerted_at": "2026-11-22T13:10:00Z"}) == 2
    assert items.update({"quantity": {"$gte": 2, "$lt": 4}}, {"band": "mid"}) == 2
    assert items.update({"id": {"$in": ids[4:]}}, {"band": "high"}) == 2
    by_sku = {record["sku"]: record for record in items.find()}
    assert {sku for sku, r in by_sku.items() if r.get("low_alerted_at")} == {"S1", "S3"}
    assert {sku: r.get("band") for sku, r in by_sku.items()} == {
        "S0": None,
        "S1": None,
        "S2": "mid",
        "S3": "mid",
        "S4": "high",
        "S5": "high",
    }
    assert {sku for sku, r in by_sku.items() if r["updated_at"] != r["created_at"]} == {
        "S1",
        "S2",
        "S3",
        "S4",
        "S5",
    }
    assert by_sku["S0"]["updated_at"] == "2026-11-22T13:05:00Z"
    assert by_sku["S1"]["updated_at"] == "2026-11-22T13:10:00Z"


def test_an_update_cannot_grow_a_record_past_the_size_cap(items: Collection) -> None:
    half = MAX_RECORD_BYTES // 2
    record_id = items.insert({"a": "x" * half})
    other = items.insert({"a": "small"})
    with pytest.raises(DataError, match=f"at most 256 KB of JSON; this update would make record {record_id}"):
        items.update(None, {"b": "y" * half})
    assert set(items.get(record_id) or {}) >= {"a"} and "b" not in (items.get(record_id) or {})
    assert "b" not in (items.get(other) or {}), "an update that does not fit changes no record"
    # Replacing a big field with a small one is fine, and so is growing one up to the cap.
    assert items.update({"id": record_id}, {"a": "short"}) == 1
    assert items.update({"id": record_id}, {"b": "y" * half}) == 1
    assert (items.get(record_id) or {})["b"] == "y" * half


def test_update_of_records_read_in_the_same_session_shows_the_change(items: Collection) -> None:
    record_id = items.insert({"status": "pending"})
    assert (items.get(record_id) or {})["status"] == "pending"
    items.update({"id": record_id}, {"status": "done"})
    assert (items.get(record_id) or {})["status"] == "done"
    assert items.find({"status": "done"}) == [items.get(record_id)]


# --- delete and count --------------------------------------------------------------------------


def test_delete_with_where(items: Collection) -> None:
    items.insert_many([{"name": str(n), "n": n} for n in range(5)])
    assert items.delete({"n": {"$gte": 3}}) == 2
    assert items.delete({"n": {"$gte": 3}}) == 0
    assert items.delete({"name": "0"}) == 1
    assert names(items.find()) == ["1", "2"]
    assert items.count() == 2


def test_delete_all_of_a_collection(data: Collections) -> None:
    data["items"].insert_many([{"n": 1}, {"n": 2}])
    data["others"].insert({"n": 3})
    assert data["items"].delete({}) == 2
    assert data["items"].count() == 0
    assert data["others"].count() == 1
    assert data["others"].delete(None) == 1
    assert data["others"].count() == 0


def test_delete_by_created_at_cutoff(items: Collection, move_clock: Callable[[datetime], None]) -> None:
    """The nightly-cleanup query: idempotent, a second run deletes nothing."""
    for days_ago in (100, 91, 90, 89, 1):
        move_clock(T0 - timedelta(days=days_ago))
        items.insert({"age": days_ago})
    move_clock(T0)
    cutoff = "2026-08-24T13:05:00Z"  # T0 - 90 days
    assert items.delete({"created_at": {"$lt": cutoff}}) == 2
    assert items.delete({"created_at": {"$lt": cutoff}}) == 0
    assert [record["age"] for record in items.find()] == [90, 89, 1]


def test_count(mixed: Collection, data: Collections) -> None:
    assert mixed.count() == len(MIXED)
    assert mixed.count({}) == len(MIXED)
    assert mixed.count(None) == len(MIXED)
    assert mixed.count({"v": {"$gt": 1}}) == 3
    assert data["empty"].count() == 0


# --- account scope and collection names --------------------------------------------------------


def test_an_account_never_sees_changes_counts_or_deletes_another_accounts_records(
    session: Session, data: Collections, other_data: Collections
) -> None:
    mine = data["orders"].insert({"number": "1", "status": "pending"})
    theirs = other_data["orders"].insert({"number": "1", "status": "pending"})
    orders, their_orders = data["orders"], other_data["orders"]

    assert [r["id"] for r in orders.find()] == [mine]
    assert [r["id"] for r in orders.find({})] == [mine]
    assert orders.find({"number": "1"}) == [orders.get(mine)]
    assert orders.get(theirs) is None
    assert orders.find({"id": theirs}) == []
    assert orders.find({"id": {"$in": [mine, theirs]}}) == [orders.get(mine)]
    assert orders.count() == 1
    assert orders.count({"id": theirs}) == 0

    assert orders.update({"id": theirs}, {"status": "hijacked"}) == 0
    assert orders.update({}, {"status": "mine"}) == 1
    assert orders.update(None, {"status": "mine"}) == 1
    assert (their_orders.get(theirs) or {})["status"] == "pending"

    assert orders.delete({"id": theirs}) == 0
    assert orders.delete({}) == 1
    assert orders.count() == 0
    assert their_orders.find() == [their_orders.get(theirs)]
    assert their_orders.count() == 1
    assert stored_rows(session) == 1


def test_the_same_collection_name_in_two_accounts_is_two_collections(
    data: Collections, other_data: Collections
) -> None:
    data["contacts"].insert_many([{"email": "a@x.test"}, {"email": "b@x.test"}])
    other_data["contacts"].insert({"email": "a@x.test"})
    assert data["contacts"].count({"email": "a@x.test"}) == 1
    assert other_data["contacts"].count() == 1
    assert other_data["contacts"].delete(None) == 1
    assert data["contacts"].count() == 2
    assert other_data.names() == []
    assert data.names() == ["contacts"]


def test_collection_names_are_separate(data: Collections) -> None:
    first = data["batches"].insert({"status": "pending"})
    data["rows"].insert({"status": "pending"})
    assert data["batches"].count({"status": "pending"}) == 1
    assert data["rows"].get(first) is None
    assert data["rows"].update({"id": first}, {"status": "x"}) == 0
    assert data["rows"].delete({"id": first}) == 0
    assert data["batches"].get(first) is not None
    assert data.names() == ["batches", "rows"]
    assert data["batches"] is data["batches"]
    assert data["batches"].name == "batches" and "batches" in repr(data["batches"])


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Orders", "1orders", "my-orders", "orders.x", "", "_x", "a" * 65, "ö"])
def test_bad_collection_names_are_refused(data: Collections, name: str) -> None:
    with pytest.raises(DataError, match="collection names are lowercase letters, digits and _"):
        data[name]


@pytest.mark.parametrize("name", [None, 7, b"orders"])
def test_a_collection_name_that_is_not_text_is_refused(data: Collections, name: Any) -> None:
    with pytest.raises(DataError, match="collection names"):
        data[name]


def test_the_longest_names_are_accepted(data: Collections) -> None:
    field = "f" * 64
    collection = data["c" * 64]
    record_id = collection.insert({field: 1})
    assert collection.find({field: 1}, order_by=field) == [collection.get(record_id)]
    assert data.names() == ["c" * 64]


BAD_FIELDS = ["bad-field", "", "1st", "a.b", "$where", "with space", "x" * 65, "é"]


@pytest.mark.parametrize("field", BAD_FIELDS)
def test_bad_field_names_are_refused_everywhere(items: Collection, field: str) -> None:
    message = "field names are letters, digits and _"
    with pytest.raises(DataError, match=message):
        items.find({field: 1})
    with pytest.raises(DataError, match=message):
        items.count({field: {"$gt": 1}})
    with pytest.raises(DataError, match=message):
        items.insert({field: 1})
    with pytest.raises(DataError, match=message):
        items.update({}, {field: 1})
    with pytest.raises(DataError, match=message):
        items.delete({field: 1})
    with pytest.raises(DataError, match=message):
        items.find(order_by=field)
    with pytest.raises(DataError, match=message):
        items.find(order_by=f"-{field}")


def test_a_field_name_that_is_not_text_is_refused(items: Collection) -> None:
    with pytest.raises(DataError, match="field names"):
        items.find({1: "x"})  # type: ignore[dict-item]
    with pytest.raises(DataError, match="field names"):
        items.insert({None: "x"})  # type: ignore[dict-item]


BAD_QUERIES: list[Any] = [
    pytest.param({"v": {"$regex": "a.*"}}, "unknown operator '\\$regex'", id="unknown-operator"),
    pytest.param({"v": {"$or": [1]}}, "unknown operator", id="unknown-operator-or"),
    pytest.param({"v": {"lt": 5}}, "unknown operator 'lt'", id="operator-without-dollar"),
    pytest.param({"v": {}}, "empty condition", id="empty-condition"),
    pytest.param({"v": {"$in": "abc"}}, "\\$in takes a list", id="in-string"),
    pytest.param({"v": {"$in": 5}}, "\\$in takes a list", id="in-number"),
    pytest.param({"v": {"$in": None}}, "\\$in takes a list", id="in-null"),
    pytest.param({"v": {"$in": {"a": 1}}}, "\\$in takes a list", id="in-dict"),
    pytest.param({"v": {"$in": [[1]]}}, "compare with a string, number, boolean or null", id="in-nested"),
    pytest.param({"v": {"$lt": True}}, "booleans can only be compared for equality", id="bool-lt"),
    pytest.param({"v": {"$gte": False}}, "booleans can only be compared for equality", id="bool-gte"),
    pytest.param({"v": {"$gt": None}}, "null can only be compared for equality", id="null-gt"),
    pytest.param({"v": {"x": 1}}, "unknown operator", id="nested-dict"),
    pytest.param({"v": [1, 2]}, "compare with a string, number, boolean or null", id="list"),
    pytest.param({"v": datetime(2026, 1, 1, tzinfo=UTC)}, "compare with a string", id="datetime-on-data"),
    pytest.param({"v": Decimal("1.5")}, "compare with a string", id="decimal"),
    pytest.param({"v": float("nan")}, "finite", id="nan"),
    pytest.param({"v": {"$lt": float("inf")}}, "finite", id="infinity"),
    pytest.param({"v": {"$gt": -math.inf}}, "finite", id="minus-infinity"),
    pytest.param({"v": 2**64}, "at most 2\\*\\*63 - 1", id="int-beyond-64-bits"),
    pytest.param({"v": {"$gt": -(2**63) - 1}}, "at most 2\\*\\*63 - 1", id="int-below-64-bits"),
    pytest.param({"v": {"$in": [1, 2**63]}}, "at most 2\\*\\*63 - 1", id="in-int-beyond-64-bits"),
    pytest.param({"id": 2**63}, "id compares with whole numbers", id="id-beyond-64-bits"),
    pytest.param({"id": "1"}, "id compares with whole numbers", id="id-string"),
    pytest.param({"id": True}, "id compares with whole numbers", id="id-bool"),
    pytest.param({"id": 1.5}, "id compares with whole numbers", id="id-float"),
    pytest.param({"id": None}, "id compares with whole numbers", id="id-null"),
    pytest.param({"id": {"$in": [1, "2"]}}, "id compares with whole numbers", id="id-in-string"),
    pytest.param({"created_at": "yesterday"}, "ISO-8601", id="created-at-not-iso"),
    pytest.param({"created_at": "2026-11-22"}, "offset", id="created-at-date-only"),
    pytest.param({"created_at": "2026-11-22T13:05:00"}, "offset", id="created-at-naive-string"),
    pytest.param({"created_at": datetime(2026, 11, 22, 13, 5)}, "offset", id="created-at-naive-datetime"),
    pytest.param({"updated_at": {"$lt": 1700000000}}, "ISO-8601", id="updated-at-number"),
    pytest.param({"created_at": None}, "ISO-8601", id="created-at-null"),
]


@pytest.mark.parametrize(("where", "message"), BAD_QUERIES)
def test_bad_queries_raise_data_error_with_a_clear_message(
    mixed: Collection, where: dict[str, Any], message: str
) -> None:
    with pytest.raises(DataError, match=message):
        mixed.find(where)
    with pytest.raises(DataError, match=message):
        mixed.count(where)
    with pytest.raises(DataError, match=message):
        mixed.update(where, {"touched": True})
    with pytest.raises(DataError, match=message):
        mixed.delete(where)
    assert mixed.count() == len(MIXED)
    assert mixed.count({"touched": True}) == 0


@pytest.mark.parametrize("where", [[("v", 1)], "v = 1", 5])
def test_where_must_be_a_dict(mixed: Collection, where: Any) -> None:
    with pytest.raises(DataError, match="where must be a dict"):
        mixed.find(where)


@pytest.mark.parametrize("order_by", [5, ["v"], "-", "v desc"])
def test_bad_order_by_is_refused(mixed: Collection, order_by: Any) -> None:
    with pytest.raises(DataError, match="order_by is a field name|field names"):
        mixed.find(order_by=order_by)


@pytest.mark.parametrize("limit", [-1, 1.5, True, "10"])
def test_bad_limits_are_refused(mixed: Collection, limit: Any) -> None:
    with pytest.raises(DataError, match="limit must be a whole number >= 0"):
        mixed.find(limit=limit)


BAD_RECORDS: list[Any] = [
    pytest.param({"id": 5}, "id is set by the platform", id="id"),
    pytest.param(
        {"created_at": "2026-11-22T13:05:00Z"}, "created_at is set by the platform", id="created-at"
    ),
    pytest.param({"updated_at": None}, "updated_at is set by the platform", id="updated-at"),
    pytest.param({"when": datetime(2026, 11, 22, tzinfo=UTC)}, "plain JSON", id="datetime"),
    pytest.param({"tags": {"a", "b"}}, "plain JSON", id="set"),
    pytest.param({"n": float("nan")}, "plain JSON", id="nan"),
    pytest.param({"n": float("inf")}, "plain JSON", id="infinity"),
    pytest.param({"deep": {"list": [-math.inf]}}, "plain JSON", id="nested-infinity"),
    pytest.param({"price": Decimal("1.50")}, "plain JSON", id="decimal"),
    pytest.param({"raw": b"bytes"}, "plain JSON", id="bytes"),
    pytest.param({"thing": object()}, "plain JSON", id="object"),
    pytest.param({"text": "nul \x00 inside"}, "NUL", id="nul-character-in-text"),
    pytest.param({"deep": [{"k\x00": 1}]}, "NUL", id="nul-character-in-nested-key"),
    pytest.param({"blob": "x" * MAX_RECORD_BYTES}, "at most 256 KB", id="over-the-size-cap"),
]


@pytest.mark.parametrize(("record", "message"), BAD_RECORDS)
def test_bad_records_are_refused_on_insert_and_update_and_nothing_is_stored(
    session: Session,
    items: Collection,
    move_clock: Callable[[datetime], None],
    record: dict[str, Any],
    message: str,
) -> None:
    existing = items.insert({"name": "ok"})
    with pytest.raises(DataError, match=message):
        items.insert(record)
    with pytest.raises(DataError, match=message):
        items.insert_many([{"name": "fine"}, record])
    with pytest.raises(DataError, match=message):
        items.update({"id": existing}, record)
    assert items.find() == [
        {
            "name": "ok",
            "id": existing,
            "created_at": "2026-11-22T13:05:00Z",
            "updated_at": "2026-11-22T13:05:00Z",
        }
    ]
    assert stored_rows(session) == 1


@pytest.mark.parametrize("record", [[("name", "x")], "name=x", None])
def test_a_record_must_be_a_dict(items: Collection, record: Any) -> None:
    with pytest.raises(DataError, match="a record is a dict"):
        items.insert(record)


def test_the_size_cap_allows_a_record_just_under_it(items: Collection) -> None:
    overhead = len('{"blob": ""}')
    record_id = items.insert({"blob": "x" * (MAX_RECORD_BYTES - overhead)})
    assert len((items.get(record_id) or {})["blob"]) == MAX_RECORD_BYTES - overhead
    with pytest.raises(DataError, match="at most 256 KB"):
        items.insert({"blob": "x" * (MAX_RECORD_BYTES - overhead + 1)})


def test_a_nul_character_in_a_query_string_is_refused(mixed: Collection) -> None:
    with pytest.raises(DataError, match="NUL"):
        mixed.find({"v": "a\x00b"})
    with pytest.raises(DataError, match="NUL"):
        mixed.find({"v": {"$in": ["ok", "\x00"]}})


def test_data_errors_are_bad_input() -> None:
    assert issubclass(DataError, BadInput)
    assert DataError.exit_code == 2
