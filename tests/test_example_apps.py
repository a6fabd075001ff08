"""The apps shipped in apps/: they load cleanly, schedule what they mean, and follow the job rules.

The jobs themselves run against the real job context in the runner's tests; here we check the
bundles statically and exercise a few pure helpers (DST-sensitive day windows, formatting).
"""

from __future__ import annotations

import ast
import inspect
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from tickwork.bundles import AppBundle, forget_modules, load_catalog, load_job_function

REPO_APPS = Path(__file__).resolve().parents[1] / "apps"

# slug: (job, canonical schedule, runs per day, credits, timeout, overlap, catch_up, retries)
EXPECTED: dict[str, tuple[str, str, Fraction, int, int, str, str, int]] = {
    "order-digest": ("daily_summary", "8:00", Fraction(1), 2, 120, "skip", "latest", 2),
    "appointment-reminders": ("send_reminders", "*:00", Fraction(24), 1, 120, "skip", "all", 2),
    "import-processor": ("process_batch", "*:*", Fraction(1440), 1, 60, "skip", "none", 0),
    "inventory-sync": ("sync_stock", "*:10", Fraction(24), 3, 240, "skip", "latest", 2),
    "nightly-cleanup": ("purge_old_records", "3:15", Fraction(1), 1, 300, "skip", "latest", 1),
    "feedback-insights": ("summarize_feedback", "mon-fri 17:30", Fraction(5, 7), 3, 180, "skip", "latest", 1),
}


@pytest.fixture(scope="module")
def catalog() -> dict[str, AppBundle]:
    loaded = load_catalog(REPO_APPS)
    assert loaded.broken == []
    return {bundle.slug: bundle for bundle in loaded.bundles}


@pytest.fixture(autouse=True)
def _fresh_modules() -> Iterator[None]:
    yield
    forget_modules()


def job_function(catalog: dict[str, AppBundle], slug: str) -> Callable[..., Any]:
    return load_job_function(catalog[slug], EXPECTED[slug][0])


def helper(catalog: dict[str, AppBundle], slug: str, name: str) -> Any:
    """A module-level helper of an app's jobs.py (the module is compiled and run, the job is not)."""
    return job_function(catalog, slug).__globals__[name]


def test_every_shipped_app_loads_without_problems(catalog: dict[str, AppBundle]) -> None:
    assert sorted(catalog) == sorted(EXPECTED)
    assert not (REPO_APPS / "__init__.py").exists()
    assert list(REPO_APPS.rglob("__init__.py")) == []


@pytest.mark.parametrize("slug", sorted(EXPECTED))
def test_schedule_and_policies_are_as_intended(catalog: dict[str, AppBundle], slug: str) -> None:
    name, canonical, runs_per_day, credits, timeout, overlap, catch_up, retries = EXPECTED[slug]
    [job] = catalog[slug].jobs
    assert job.name == name
    assert job.expressions == (canonical,)
    assert job.schedule.canonical == canonical
    assert job.schedule.runs_per_day == runs_per_day
    assert (job.credits, job.timeout, job.overlap, job.catch_up, job.retries) == (
        credits,
        timeout,
        overlap,
        catch_up,
        retries,
    )


@pytest.mark.parametrize("slug", sorted(EXPECTED))
def test_job_function_compiles_with_the_job_signature(catalog: dict[str, AppBundle], slug: str) -> None:
    function = job_function(catalog, slug)
    parameters = list(inspect.signature(function).parameters.values())
    first, *middle, last = parameters
    assert first.kind in (first.POSITIONAL_ONLY, first.POSITIONAL_OR_KEYWORD) and first.name == "ctx"
    assert last.kind is last.VAR_KEYWORD
    assert all(p.kind is p.KEYWORD_ONLY and p.default is not p.empty for p in middle)
    # Every param the manifest passes is one the function names (no silently ignored typos).
    [job] = catalog[slug].jobs
    assert set(job.params) <= {p.name for p in middle}
    assert inspect.getdoc(function)
    assert function.__module__.startswith(f"tickwork_app_{slug.replace('-', '_')}_")


@pytest.mark.parametrize("slug", sorted(EXPECTED))
def test_job_code_uses_only_the_standard_library_and_the_platform_clock(
    catalog: dict[str, AppBundle], slug: str
) -> None:
    tree = ast.parse(catalog[slug].code)
    assert ast.get_docstring(tree)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module
            imported.add(node.module.split(".")[0])
        elif isinstance(node, ast.Attribute):
            assert node.attr not in {"now", "utcnow", "today", "time"} or (
                isinstance(node.value, ast.Name) and node.value.id == "ctx"
            ), f"{slug} reads a clock other than ctx.now() at line {node.lineno}"
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert [f.name for f in functions if not ast.get_docstring(f)] == []


@pytest.mark.parametrize(
    ("scheduled_for", "day", "hours"),
    [
        (datetime(2026, 11, 23, 13, 0, tzinfo=UTC), "2026-11-22", 24),  # 8:00 EST, an ordinary day
        (datetime(2026, 3, 9, 12, 0, tzinfo=UTC), "2026-03-08", 23),  # the day after spring forward
        (datetime(2026, 11, 2, 13, 0, tzinfo=UTC), "2026-11-01", 25),  # the day after fall back
        (datetime(2026, 11, 23, 4, 30, tzinfo=UTC), "2026-11-21", 24),  # 11:30 PM Eastern on the 22nd
    ],
)
def test_order_digest_covers_the_previous_eastern_day(
    catalog: dict[str, AppBundle], scheduled_for: datetime, day: str, hours: int
) -> None:
    previous_eastern_day = helper(catalog, "order-digest", "previous_eastern_day")
    local_day, start, end = previous_eastern_day(scheduled_for)
    assert local_day.isoformat() == day
    assert end - start == timedelta(hours=hours)
    assert start.tzinfo is not None and start.utcoffset() == timedelta(0)
    assert (
        start.astimezone(helper(catalog, "order-digest", "EASTERN")).strftime("%Y-%m-%d %H:%M")
        == f"{day} 00:00"
    )


def test_order_digest_summary_and_money(catalog: dict[str, AppBundle]) -> None:
    summarize = helper(catalog, "order-digest", "summarize")
    money = helper(catalog, "order-digest", "money")
    orders = [
        {"customer": "Ada", "total_cents": 3000, "items": [{"sku": "MUG", "name": "Mug", "qty": 2}]},
        {"customer": "Bob", "total_cents": 1999, "items": [{"sku": "TEA", "name": "Tea", "qty": 5}]},
        {"customer": "Ada", "total_cents": 1500, "items": [{"sku": "MUG", "name": "Mug", "qty": 1}]},
    ]
    summary = summarize(orders, 5)
    assert summary["orders"] == 3 and summary["total_cents"] == 6499
    assert summary["top_items"] == [("Tea", 5), ("Mug", 3)]
    assert summary["top_customers"] == [("Ada", 4500), ("Bob", 1999)]
    assert (money(123456), money(5), money(-250)) == ("$1,234.56", "$0.05", "-$2.50")
    assert summarize([], 5)["orders"] == 0


@pytest.mark.parametrize(
    ("instant", "label"),
    [
        (datetime(2026, 11, 24, 19, 30, tzinfo=UTC), "Tue Nov 24 at 2:30 PM"),
        (datetime(2026, 7, 4, 4, 5, tzinfo=UTC), "Sat Jul 4 at 12:05 AM"),
        (datetime(2026, 3, 8, 17, 0, tzinfo=UTC), "Sun Mar 8 at 1:00 PM"),
    ],
)
def test_reminders_name_the_time_in_eastern(
    catalog: dict[str, AppBundle], instant: datetime, label: str
) -> None:
    assert helper(catalog, "appointment-reminders", "eastern_label")(instant) == label


def test_import_rows_are_checked_for_an_email(catalog: dict[str, AppBundle]) -> None:
    check_row = helper(catalog, "import-processor", "check_row")
    assert check_row({"email": "  Ada@Example.COM "}) == ("ada@example.com", None)
    assert check_row({"email": ""}) == (None, "missing email")
    assert check_row({"name": "no email"}) == (None, "missing email")
    assert check_row({"email": "ada@example"}) == (None, "invalid email")


def test_feedback_day_starts_at_eastern_midnight_and_stats_are_exact(catalog: dict[str, AppBundle]) -> None:
    start = helper(catalog, "feedback-insights", "start_of_eastern_day")
    assert start(datetime(2026, 11, 23, 22, 30, tzinfo=UTC)) == datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    assert start(datetime(2026, 7, 1, 21, 30, tzinfo=UTC)) == datetime(2026, 7, 1, 4, 0, tzinfo=UTC)
    stats = helper(catalog, "feedback-insights", "feedback_stats")
    records = [{"rating": 5}, {"rating": 2}, {"rating": True}, {"text": "no rating"}, {"rating": 4}]
    assert stats(records) == {
        "count": 5,
        "rated": 3,
        "average_rating": 3.67,
        "ratings": {"2": 1, "4": 1, "5": 1},
    }


def test_cleanup_refuses_params_that_could_delete_the_wrong_data(catalog: dict[str, AppBundle]) -> None:
    checked_params = helper(catalog, "nightly-cleanup", "checked_params")
    assert checked_params(90, ["a", "b", "a"]) == (90, ["a", "b"])
    assert checked_params(30, "orders") == (30, ["orders"])
    for bad in [(0, ["a"]), (True, ["a"]), (90.5, ["a"]), (90, [3]), (90, ["../x"])]:
        with pytest.raises(ValueError):
            checked_params(*bad)
