"""A year of schedules: what the spawner finds due equals an independent brute-force count, every day.

The schedules: every example app's (apps/*/app.toml), hand-picked ones that sit on the DST
edges, and random ones generated from the grammar of DESIGN.md section 4 with a fixed seed
(H:MM with and without days, five-field cron, presets, and unions of several).

The brute force shares nothing with the platform's schedule code. It reads each expression
with its own small parser, converts every UTC minute of the Eastern year 2026 to
America/New_York with zoneinfo once, and applies the DST rules as DESIGN.md words them:

1. fixed-time (hour and minute fields both start with a digit): each local (date, H:MM) slot
   runs once; the slots of a spring gap run together at the first real minute after it; a
   reading that happens twice runs at its first pass only;
2. any other schedule runs at every real minute whose Eastern reading matches;
3. days are those of the local date, and a run is the UTC instant it fires at (so several
   slots or schedules landing on one instant are one run).

The brute force is itself checked against the figures DESIGN.md states and, around both DST
days, against cronsim (the reference for Debian cron's DST rules, which DESIGN.md adopts).

The platform side is the spawner's own due-set path: the bundles are synced into a database,
``load_index`` compiles the index a real tick uses, and ``JobIndex.due(MinuteInfo.at(slot))``
is asked for every minute of the year. Per Eastern day and job, the counts must be equal; on
the DST days the exact instants must be. A shorter window around each clock change then runs
the whole path for real: ``tickwork spawner --simulate`` enqueues into Redis, a burst worker
runs the jobs, and the executions recorded are exactly the brute-force instants.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
from cronsim import CronSim
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tickwork import db as tickwork_db
from tickwork import migrate
from tickwork.accounts import create_account, find_app, install
from tickwork.catalog import sync_catalog
from tickwork.models import App, Execution, Installation
from tickwork.schedule import MinuteInfo, ScheduleError, parse_many
from tickwork.spawner.index import load_index

from .conftest import Database
from .factories import fund
from .process_helpers import tickwork_env

REPO_ROOT = Path(__file__).resolve().parents[1]
NEW_YORK = ZoneInfo("America/New_York")
YEAR = 2026
SPRING_FORWARD = date(2026, 3, 8)
FALL_BACK = date(2026, 11, 1)
MINUTE = timedelta(minutes=1)
SEED = 20260308
RANDOM_SCHEDULES = 36
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)

# Schedules chosen to sit on the edges the DST rules talk about.
EDGE_SCHEDULES: list[list[str]] = [
    ["2:30"],  # a gap slot: 3:00 EDT on the spring day
    ["2:*/20"],  # real time: never on the spring day
    ["1:*/20"],  # real time: six runs on the fall-back day
    ["1:30"],  # fixed: the first (EDT) 1:30 only
    ["*:30"],  # 23 and 25 runs on the DST days
    ["0-3:00"],  # fixed: 2:00 collapses into 3:00 EDT, which also runs its own 3:00: one run
    ["2:00", "2:15", "3:00"],  # a union: every gap slot and 3:00 on one instant
    ["2,3:*/30"],  # fixed, several gap slots collapsing
    ["*/2:00"],  # real time: 2:00 never happens on the spring day
    ["1-2:*/15"],
    ["sun 1-3:05"],  # both DST days are Sundays
    ["mon-fri 8-19:*/15", "weekends 10:00"],
    ["30 2 * * *"],  # cron, fixed
    ["*/10 1 * * 0"],  # cron, real time, Sundays
    ["15 2 8 3 *"],  # cron, only ever on the spring-forward day
    ["0 1,2 1 11 *"],  # cron, only ever on the fall-back day
    ["0 2 8,15 * 0"],  # cron: day-of-month OR day-of-week
    ["0 2 */7 * sun"],  # cron: a day-of-month starting with * makes it AND
    ["weekly"],
    ["daily"],
    ["2h"],
    ["15m"],
]


# --- an independent reading of the schedule language ------------------------------------------------

PRESETS = {
    "5m": "*:*/5",
    "10m": "*:*/10",
    "15m": "*:*/15",
    "30m": "*:*/30",
    "1h": "*:00",
    "2h": "*/2:00",
    "4h": "*/4:00",
    "6h": "*/6:00",
    "12h": "*/12:00",
    "daily": "0:00",
    "weekly": "sun 0:00",
}
DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]  # Python's weekday() order
CRON_DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
CRON_MONTH_NAMES = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


@dataclass(frozen=True)
class Rule:
    """One expression as plain sets: what the brute force matches minutes against."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    fixed: bool
    weekdays: frozenset[int] = frozenset(range(7))  # Monday = 0
    days_of_month: frozenset[int] = frozenset(range(1, 32))
    months: frozenset[int] = frozenset(range(1, 13))
    day_and: bool = True

    def runs_on(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom, dow = day.day in self.days_of_month, day.weekday() in self.weekdays
        return (dom and dow) if self.day_and else (dom or dow)


def read_field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    def number(token: str) -> int:
        if names and token.lower() in names:
            return names[token.lower()]
        value = int(token)
        assert low <= value <= high, (text, token)
        return value

    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base == "*":
            first, last = low, high
        elif "-" in base:
            first_text, last_text = base.split("-")
            first, last = number(first_text), number(last_text)
        else:
            first = number(base)
            last = high if step_text else first  # cron's N/step runs from N to the end
        values.update(range(first, last + 1, step))
    return values


def read_rule(expression: str) -> Rule:
    text = PRESETS.get(expression.strip().lower(), expression.strip())
    tokens = text.split()
    if len(tokens) == 5:
        minute, hour, dom, month, dow = tokens
        cron_days = read_field(dow, 0, 7, {name: i for i, name in enumerate(CRON_DAY_NAMES)})
        return Rule(
            expression,
            frozenset(read_field(minute, 0, 59)),
            frozenset(read_field(hour, 0, 23)),
            fixed=minute[0].isdigit() and hour[0].isdigit(),
            weekdays=frozenset((day + 6) % 7 for day in cron_days),  # cron: 0 and 7 are Sunday
            days_of_month=frozenset(read_field(dom, 1, 31)),
            months=frozenset(read_field(month, 1, 12, {n: i + 1 for i, n in enumerate(CRON_MONTH_NAMES)})),
            day_and=dom.startswith("*") or dow.startswith("*"),
        )
    weekdays = set(range(7))
    if len(tokens) == 2:
        weekdays = set()
        for part in tokens[0].lower().split(","):
            if part == "weekdays":
                weekdays.update(range(5))
            elif part == "weekends":
                weekdays.update((5, 6))
            elif "-" in part:
                first, last = part.split("-")
                weekdays.update(range(DAY_NAMES.index(first), DAY_NAMES.index(last) + 1))
            else:
                weekdays.add(DAY_NAMES.index(part))
    hours_text, minutes_text = tokens[-1].split(":")
    return Rule(
        expression,
        frozenset(read_field(minutes_text, 0, 59)),
        frozenset(read_field(hours_text, 0, 23)),
        fixed=hours_text[0].isdigit() and minutes_text[0].isdigit(),
        weekdays=frozenset(weekdays),
    )


# --- random schedules from the grammar ------------------------------------------------------------


def _part(rng: random.Random, low: int, high: int, focus: list[int], cron: bool) -> str:
    number = (lambda: rng.choice(focus)) if rng.random() < 0.6 else (lambda: rng.randint(low, high))
    kind = rng.random()
    if kind < 0.45:
        return str(number())
    if kind < 0.7:
        first, last = sorted((number(), number()))
        return f"{first}-{last}" if first < last else str(first)
    if kind < 0.85:
        first, last = sorted((number(), number()))
        step = rng.randint(1, max(1, (high - low) // 3))
        return f"{first}-{last}/{step}" if first < last else str(first)
    if cron and rng.random() < 0.3:
        return f"{number()}/{rng.randint(2, 20)}"
    return f"*/{rng.randint(2, max(2, (high - low + 1) // 2))}"


def _field(rng: random.Random, low: int, high: int, focus: list[int], cron: bool = False) -> str:
    roll = rng.random()
    if roll < 0.12:
        return "*"
    if roll < 0.75:
        return _part(rng, low, high, focus, cron)
    return ",".join(_part(rng, low, high, focus, cron) for _ in range(rng.randint(2, 3)))


def _days(rng: random.Random) -> str:
    choices = [
        "mon-fri",
        "weekdays",
        "weekends",
        "sun",
        "sat,sun",
        "mon,wed,fri",
        "tue-thu",
        "fri-sun",
        "sun,mon",
    ]
    return rng.choice(choices)


def random_expression(rng: random.Random) -> str:
    hour_focus = [0, 1, 1, 2, 2, 2, 3, 3, 4, 23]  # the hours the clock changes around
    minute_focus = [0, 0, 15, 20, 30, 45, 59]
    roll = rng.random()
    if roll < 0.15:
        return rng.choice(sorted(PRESETS))
    if roll < 0.6:
        clock = f"{_field(rng, 0, 23, hour_focus)}:{_field(rng, 0, 59, minute_focus)}"
        return f"{_days(rng)} {clock}" if rng.random() < 0.3 else clock
    minute = _field(rng, 0, 59, minute_focus, cron=True)
    hour = _field(rng, 0, 23, hour_focus, cron=True)
    dom = rng.choice(["*", "*", "*", "1", "8", "1,8,15", "1-7", "*/7", "8-14", "31"])
    month = rng.choice(["*", "*", "*", "3", "11", "3,11", "mar-nov", "*/2", "jan,mar,nov"])
    dow = rng.choice(["*", "*", "*", "0", "7", "sun", "1-5", "mon-fri", "6,0", "5-7"])
    return f"{minute} {hour} {dom} {month} {dow}"


def random_schedules(count: int, seed: int = SEED) -> list[list[str]]:
    """``count`` valid schedule lists (about one in six a union of two), the same every run."""
    rng = random.Random(seed)
    found: list[list[str]] = []
    while len(found) < count:
        expressions = [random_expression(rng) for _ in range(2 if rng.random() < 0.17 else 1)]
        try:
            parse_many(expressions)  # only to leave out what the language rejects (e.g. 0 0 31 2 *)
        except ScheduleError:
            continue
        found.append(expressions)
    return found


# --- the brute force ----------------------------------------------------------------------------------


@dataclass
class Gap:
    """The first real minute after a spring gap, and the local readings the gap skipped."""

    minute: int
    skipped: list[tuple[int, int]]  # (day index, hour * 60 + minute) of each skipped reading


@dataclass
class Year:
    """Every UTC minute of the Eastern year, read in New York once."""

    start: datetime
    days: list[date]
    day_of: list[int] = field(default_factory=list)  # per minute: index into days
    hm_of: list[int] = field(default_factory=list)  # per minute: hour * 60 + minute
    repeated: list[bool] = field(default_factory=list)  # per minute: a reading seen before
    first: list[list[int]] = field(default_factory=list)  # per day: hm of readings seen once (no gap ends)
    again: list[list[int]] = field(default_factory=list)  # per day: hm of readings seen a second time
    gaps: dict[int, Gap] = field(default_factory=dict)  # by minute

    @property
    def size(self) -> int:
        return len(self.day_of)

    def instant(self, minute: int) -> datetime:
        return self.start + minute * MINUTE


@cache
def eastern_year(year: int = YEAR) -> Year:
    start = datetime(year, 1, 1, tzinfo=NEW_YORK).astimezone(UTC)
    end = datetime(year + 1, 1, 1, tzinfo=NEW_YORK).astimezone(UTC)
    first_day = date(year, 1, 1)
    days = [first_day + timedelta(days=n) for n in range((date(year + 1, 1, 1) - first_day).days)]
    result = Year(start, days, first=[[] for _ in days], again=[[] for _ in days])
    seen: set[datetime] = set()
    previous: datetime | None = None
    for minute in range((end - start) // MINUTE):
        local = (start + minute * MINUTE).astimezone(NEW_YORK)
        wall = local.replace(tzinfo=None)
        day = (wall.date() - first_day).days
        hm = wall.hour * 60 + wall.minute
        again = wall in seen
        assert again == bool(local.fold)  # a repeated reading is zoneinfo's second pass
        seen.add(wall)
        result.day_of.append(day)
        result.hm_of.append(hm)
        result.repeated.append(again)
        if previous is not None and wall - previous > MINUTE:
            skipped = []
            reading = previous + MINUTE
            while reading < wall:
                skipped.append(((reading.date() - first_day).days, reading.hour * 60 + reading.minute))
                reading += MINUTE
            result.gaps[minute] = Gap(minute, skipped)
        elif again:
            result.again[day].append(hm)
        else:
            result.first[day].append(hm)
        previous = wall
    return result


@dataclass
class BruteJob:
    """A job's schedules, each as a minute-of-day table and a day table over the year."""

    rules: list[Rule]
    tables: list[bytearray]
    day_ok: list[list[bool]]
    year: Year

    @classmethod
    def of(cls, expressions: list[str], year: Year) -> BruteJob:
        rules = [read_rule(expression) for expression in expressions]
        tables = []
        for rule in rules:
            table = bytearray(1440)
            for hour in rule.hours:
                for minute in rule.minutes:
                    table[hour * 60 + minute] = 1
            tables.append(table)
        day_ok = [[rule.runs_on(day) for day in year.days] for rule in rules]
        return cls(rules, tables, day_ok, year)

    def _gap_fires(self, gap: Gap, active: list[int]) -> bool:
        """Whether the job runs at a gap's end: by its own reading there, or for a skipped slot."""
        year = self.year
        hm = year.hm_of[gap.minute]
        if any(self.tables[i][hm] for i in active):
            return True
        return any(
            rule.fixed and self.day_ok[i][day] and self.tables[i][skipped_hm]
            for i, rule in enumerate(self.rules)
            for day, skipped_hm in gap.skipped
        )

    def _active(self, day: int) -> list[int]:
        return [i for i in range(len(self.rules)) if self.day_ok[i][day]]

    def fires(self, minute: int) -> bool:
        """Rules 1-3 for one real minute."""
        year = self.year
        day, hm = year.day_of[minute], year.hm_of[minute]
        active = self._active(day)
        if minute in year.gaps:
            return self._gap_fires(year.gaps[minute], active)
        if year.repeated[minute]:  # the second pass: only real-time schedules run again
            return any(not self.rules[i].fixed and self.tables[i][hm] for i in active)
        return any(self.tables[i][hm] for i in active)

    def per_day(self) -> list[int]:
        """Runs per Eastern day (counted per real minute, with the tables merged per day)."""
        year = self.year
        counts = [0] * len(year.days)
        merged: dict[tuple[int, ...], tuple[bytearray, bytearray]] = {}
        for day in range(len(year.days)):
            active = tuple(self._active(day))
            if active not in merged:
                once, twice = bytearray(1440), bytearray(1440)
                for i in active:
                    for hm, bit in enumerate(self.tables[i]):
                        if bit:
                            once[hm] = 1
                            if not self.rules[i].fixed:
                                twice[hm] = 1
                merged[active] = (once, twice)
            once, twice = merged[active]
            counts[day] = sum(map(once.__getitem__, year.first[day])) + sum(
                map(twice.__getitem__, year.again[day])
            )
        for gap in year.gaps.values():
            if self._gap_fires(gap, self._active(year.day_of[gap.minute])):
                counts[year.day_of[gap.minute]] += 1
        return counts

    def instants(self, start: datetime, end: datetime) -> list[datetime]:
        year = self.year
        first = max(0, (start - year.start) // MINUTE)
        last = min(year.size, (end - year.start) // MINUTE)
        return [year.instant(m) for m in range(first, last) if self.fires(m)]


# --- the schedules under test, as bundles -----------------------------------------------------------


@dataclass(frozen=True)
class JobUnderTest:
    app: str
    job: str
    expressions: tuple[str, ...]


def example_jobs() -> list[JobUnderTest]:
    jobs = []
    for manifest in sorted((REPO_ROOT / "apps").glob("*/app.toml")):
        data = tomllib.loads(manifest.read_text())
        for job in data.get("jobs", []):
            schedule = job["schedule"]
            expressions = (schedule,) if isinstance(schedule, str) else tuple(schedule)
            jobs.append(JobUnderTest(manifest.parent.name, job["name"], expressions))
    return jobs


def generated_jobs() -> list[JobUnderTest]:
    schedules = EDGE_SCHEDULES + random_schedules(RANDOM_SCHEDULES)
    return [JobUnderTest("year-probe", f"j{n:02d}", tuple(s)) for n, s in enumerate(schedules)]


def write_bundle(folder: Path, jobs: list[JobUnderTest]) -> None:
    """An app bundle whose jobs carry the given schedules and do nothing."""
    folder.mkdir(parents=True)
    lines = ['name = "Year probe"', 'description = "Schedules under test; the jobs do nothing."', ""]
    code = ['"""Jobs that only exist to be scheduled."""', ""]
    for job in jobs:
        schedule = ", ".join(f'"{expression}"' for expression in job.expressions)
        lines += ["[[jobs]]", f'name = "{job.job}"', f"schedule = [{schedule}]", "credits = 1"]
        lines += ['overlap = "allow"', 'catch_up = "none"', ""]
        code += [f"def {job.job}(ctx, **params):", "    return None", "", ""]
    (folder / "app.toml").write_text("\n".join(lines))
    (folder / "jobs.py").write_text("\n".join(code).rstrip() + "\n")


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example apps as shipped, plus the year-probe bundle of edge and random schedules."""
    root = tmp_path_factory.mktemp("year-apps")
    for bundle in sorted((REPO_ROOT / "apps").iterdir()):
        if (bundle / "app.toml").is_file():
            shutil.copytree(bundle, root / bundle.name)
    write_bundle(root / "year-probe", generated_jobs())
    return root


@pytest.fixture(scope="module")
def year_sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    """A migrated SQLite database of its own: the due-set code is the same on either database."""
    url = f"sqlite:///{tmp_path_factory.mktemp('year-db') / 'year.db'}"
    engine = tickwork_db.make_engine(url)
    migrate.upgrade(engine)
    yield sessionmaker(engine)
    engine.dispose()


# --- the tests ----------------------------------------------------------------------------------------


def test_the_brute_force_says_what_design_md_says_on_the_dst_days() -> None:
    """Anchor the oracle itself on the figures DESIGN.md states."""
    year = eastern_year()
    spring, fall = (day - year.days[0] for day in (SPRING_FORWARD, FALL_BACK))
    spring_index, fall_index = spring.days, fall.days

    def runs(*expressions: str) -> list[int]:
        return BruteJob.of(list(expressions), year).per_day()

    assert len(year.days) == 365 and year.size == 365 * 1440
    assert [year.day_of[gap.minute] for gap in year.gaps.values()] == [spring_index]
    assert runs("*:30")[spring_index] == 23 and runs("*:30")[fall_index] == 25
    assert runs("2:*/20")[spring_index] == 0
    assert runs("1:*/20")[fall_index] == 6
    assert runs("2:30")[spring_index] == 1 and runs("2:30")[fall_index] == 1
    assert runs("2:00", "2:30", "3:00")[spring_index] == 1  # one instant, 3:00 EDT
    assert runs("0-3:00")[spring_index] == 3 and runs("0-3:00")[fall_index] == 4
    assert runs("*:*")[spring_index] == 23 * 60 and runs("*:*")[fall_index] == 25 * 60
    assert sum(runs("*:*")) == 365 * 1440
    spring_gap = BruteJob.of(["2:30"], year).instants(*_day_bounds(SPRING_FORWARD))
    assert spring_gap == [datetime(2026, 3, 8, 7, 0, tzinfo=UTC)]  # 3:00 EDT
    fall_first = BruteJob.of(["1:30"], year).instants(*_day_bounds(FALL_BACK))
    assert fall_first == [datetime(2026, 11, 1, 5, 30, tzinfo=UTC)]  # 1:30 EDT, not EST


def as_cron(expression: str) -> str:
    """The expression as a five-field cron line, for cronsim (every schedule in H:MM has one)."""
    text = PRESETS.get(expression.strip().lower(), expression.strip())
    tokens = text.split()
    if len(tokens) == 5:
        return text
    hours, minutes = tokens[-1].split(":")
    weekdays = read_rule(text).weekdays
    dow = "*" if len(tokens) == 1 else ",".join(str((day + 1) % 7) for day in sorted(weekdays))
    return f"{minutes} {hours} * * {dow}"


def test_the_brute_force_agrees_with_cronsim_around_the_dst_days() -> None:
    """A third opinion: cronsim follows Debian cron's DST rules, which DESIGN.md adopts."""
    year = eastern_year()
    days = [SPRING_FORWARD + timedelta(days=n) for n in (-1, 0, 1)]
    days += [FALL_BACK + timedelta(days=n) for n in (-1, 0, 1)]
    for job in example_jobs() + generated_jobs():
        brute = BruteJob.of(list(job.expressions), year)
        for day in days:
            start, end = _day_bounds(day)
            theirs: set[datetime] = set()
            for expression in job.expressions:
                for run in CronSim(as_cron(expression), start.astimezone(NEW_YORK) - MINUTE):
                    instant = run.astimezone(UTC)
                    if instant >= end:
                        break
                    if instant >= start:
                        theirs.add(instant)
            assert brute.instants(start, end) == sorted(theirs), (job.job, job.expressions, day)


def test_the_random_schedules_cover_the_grammar_and_are_stable() -> None:
    schedules = random_schedules(RANDOM_SCHEDULES)
    assert schedules == random_schedules(RANDOM_SCHEDULES)  # a fixed seed: the same set every run
    flat = [expression for group in schedules for expression in group]
    assert any(len(expression.split()) == 5 for expression in flat), "cron lines"
    assert any(expression in PRESETS for expression in flat), "presets"
    assert any(len(expression.split()) == 2 for expression in flat), "days with a time"
    assert any(len(group) > 1 for group in schedules), "unions"
    rules = [read_rule(expression) for expression in flat]
    assert any(rule.fixed for rule in rules) and any(not rule.fixed for rule in rules)


@pytest.mark.slow
def test_a_year_of_due_sets_equals_the_brute_force_count_for_every_day(
    catalog_dir: Path, year_sessions: sessionmaker[Session]
) -> None:
    year = eastern_year()
    with year_sessions() as session:
        report = sync_catalog(session, catalog_dir)
        session.commit()
        assert not report.broken, report.broken
        index = load_index(session)
        slugs = {app_id: slug for app_id, slug in session.execute(select(App.id, App.slug))}
    jobs = example_jobs() + generated_jobs()
    assert index.count == len(jobs)
    expected = {(job.app, job.job): BruteJob.of(list(job.expressions), year) for job in jobs}

    # The platform: every minute of the year through the spawner's due-set code.
    counted: dict[tuple[str, str], list[int]] = {key: [0] * len(year.days) for key in expected}
    dst_days = {(day - year.days[0]).days for day in (SPRING_FORWARD, FALL_BACK)}
    dst_instants: dict[tuple[str, str], list[int]] = defaultdict(list)
    for minute in range(year.size):
        day = year.day_of[minute]
        for job in index.due(MinuteInfo.at(year.instant(minute))):
            key = (slugs[job.app_id], job.job)
            counted[key][day] += 1
            if day in dst_days:
                dst_instants[key].append(minute)

    mismatches = []
    for key, brute in expected.items():
        want = brute.per_day()
        got = counted[key]
        for n, (a, b) in enumerate(zip(want, got, strict=True)):
            if a != b:
                mismatches.append(
                    f"{key} {' | '.join(rule.expression for rule in brute.rules)!r} on {year.days[n]}: "
                    f"brute force {a}, spawner {b}"
                )
    assert not mismatches, f"{len(mismatches)} day(s) differ:\n" + "\n".join(mismatches[:40])

    # On the two DST days, the very instants agree too.
    dst_minutes = [minute for minute in range(year.size) if year.day_of[minute] in dst_days]
    for key, brute in expected.items():
        want_minutes = [minute for minute in dst_minutes if brute.fires(minute)]
        assert dst_instants[key] == want_minutes, key
    total = sum(sum(days) for days in counted.values())
    assert total > 100_000  # the year really ran


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=NEW_YORK).astimezone(UTC)
    following = day + timedelta(days=1)
    return start, datetime(following.year, following.month, following.day, tzinfo=NEW_YORK).astimezone(UTC)


# --- the whole path, for real, around each clock change ---------------------------------------------

REAL_WINDOWS = [
    # 01:30 EST to 03:30 EDT: the half hour before the gap, the gap's end, the hour after.
    (datetime(2026, 3, 8, 6, 30, tzinfo=UTC), datetime(2026, 3, 8, 7, 30, tzinfo=UTC)),
    # 01:30 EDT to 01:30 EST: the end of the repeated hour's first pass, the start of its second.
    (datetime(2026, 11, 1, 5, 30, tzinfo=UTC), datetime(2026, 11, 1, 6, 30, tzinfo=UTC)),
]


def real_run_jobs() -> list[JobUnderTest]:
    """Every example app's schedules, then the edge and random ones, as jobs of one bundle."""
    examples = [
        JobUnderTest("year-run", f"ex_{job.app.replace('-', '_')}_{job.job}", job.expressions)
        for job in example_jobs()
    ]
    generated = [JobUnderTest("year-run", job.job, job.expressions) for job in generated_jobs()]
    return examples + generated


def run_tickwork(db: Database, redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tickwork", *args],
        env=tickwork_env(db, redis_url),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_spawner_simulate_and_a_worker_run_exactly_the_brute_force_slots(
    db: Database, redis_conn: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    jobs = real_run_jobs()
    write_bundle(tmp_path / "apps" / "year-run", jobs)
    with db.session() as session:
        report = sync_catalog(session, tmp_path / "apps")
        assert not report.broken, report.broken
        account = create_account(session, "Year")
        install(session, account, find_app(session, "year-run"))
        fund(session, account.id)
        session.execute(update(Installation).values(status_changed_at=LONG_AGO))
        session.execute(update(App).values(enabled_changed_at=LONG_AGO))
        session.commit()
        account_id = account.id

    year = eastern_year()
    expected: dict[str, list[datetime]] = defaultdict(list)
    total = 0
    # Every job's catch_up is "none", so the months between the windows add nothing.
    for start, end in REAL_WINDOWS:
        spawned = run_tickwork(
            db, redis_url, "spawner", "--simulate", "--from", start.isoformat(), "--to", end.isoformat()
        )
        assert spawned.returncode == 0, spawned.stderr[-3000:]
        window_total = 0
        for job in jobs:
            instants = BruteJob.of(list(job.expressions), year).instants(start, end)
            expected[job.job] += instants
            window_total += len(instants)
        assert f"{window_total} jobs enqueued" in spawned.stdout, spawned.stdout
        total += window_total
    assert redis_conn.llen("rq:queue:tickwork") == total

    worked = run_tickwork(db, redis_url, "worker", "--burst", "--processes", "2")
    assert worked.returncode == 0, worked.stderr[-3000:]
    with db.session() as session:
        rows = session.execute(
            select(Execution.job, Execution.scheduled_for, Execution.status, Execution.source).where(
                Execution.account_id == account_id
            )
        ).all()
    statuses = Counter(status for _, _, status, _ in rows)
    assert statuses == Counter({"succeeded": total}), worked.stderr[-3000:]
    assert {source for _, _, _, source in rows} == {"schedule"}
    ran: dict[str, list[datetime]] = defaultdict(list)
    for job, scheduled_for, _, _ in rows:
        ran[job].append(scheduled_for.replace(tzinfo=UTC) if scheduled_for.tzinfo is None else scheduled_for)
    for job, instants in expected.items():
        assert sorted(ran.get(job, [])) == instants, job
    assert redis_conn.llen("rq:queue:tickwork") == 0
