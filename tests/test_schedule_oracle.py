"""Property tests against cronsim, the reference implementation of Debian cron's DST behaviour.

Random H:MM schedules (translated to ``MIN HOUR * * DOW``) and random five-field cron lines are
run from random instants in 2025-2027, always including the six DST days, and their next
fire instants are compared with cronsim's, as UTC.

One known cronsim difference is filtered out, and pinned by its own test below: started inside
the second (EST) pass of the fall-back hour, cronsim can yield fixed-time slots of that hour
whose only run (the first, EDT pass) is already in the past.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from cronsim import CronSim, CronSimError
from hypothesis import given, settings
from hypothesis import strategies as st

from tickwork.schedule import EASTERN, ScheduleError, parse

DST_DAYS = [
    date(2025, 3, 9),
    date(2025, 11, 2),
    date(2026, 3, 8),
    date(2026, 11, 1),
    date(2027, 3, 14),
    date(2027, 11, 7),
]
RUNS = 30


def cronsim_runs(cron: str, after: datetime, count: int) -> list[datetime]:
    """cronsim's next runs strictly after ``after``, as UTC (see the module docstring)."""
    runs: list[datetime] = []
    for run in CronSim(cron, after.astimezone(EASTERN)):
        instant = run.astimezone(UTC)
        if instant > after:  # cronsim may yield a past EDT slot when started in the EST pass
            runs.append(instant)
        if len(runs) == count:
            break
    return runs


# --- strategies -----------------------------------------------------------------------------------

# Start instants: any minute of 2025-2027, or around 0:00-4:00 local on a DST day, with stray seconds.
STARTS = st.one_of(
    st.builds(
        lambda day, minute, second: (
            datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(minutes=minute, seconds=second)
        ),
        st.dates(date(2025, 1, 1), date(2027, 12, 31)),
        st.integers(0, 1439),
        st.sampled_from([0, 0, 0, 1, 30, 59]),
    ),
    st.builds(
        lambda day, minute, second: (
            datetime.combine(day, datetime.min.time(), tzinfo=UTC)
            + timedelta(hours=4, minutes=minute, seconds=second)
        ),
        st.sampled_from(DST_DAYS),
        st.integers(-120, 300),
        st.sampled_from([0, 0, 1, 30]),
    ),
)


def _numbers(low: int, high: int, focus: int) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(low, focus), st.integers(low, high))


def _hhmm_field(low: int, high: int, focus: int) -> st.SearchStrategy[str]:
    """An H:MM field: *, N, N-M, N-M/s, */s and lists of them, biased toward ``low..focus``."""
    number = _numbers(low, high, focus)
    span = st.tuples(number, number).map(sorted).filter(lambda p: p[0] < p[1])
    part = st.one_of(
        number.map(str),
        span.map(lambda p: f"{p[0]}-{p[1]}"),
        st.tuples(span, st.integers(1, 12)).map(lambda x: f"{x[0][0]}-{x[0][1]}/{x[1]}"),
        st.integers(1, high - low + 1).map(lambda step: f"*/{step}"),
    )
    return st.one_of(st.just("*"), st.lists(part, min_size=1, max_size=3).map(",".join))


_DAY_NUMBER = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
_DAY_PART = st.one_of(
    st.sampled_from([*_DAY_NUMBER, "weekdays", "weekends"]),
    st.tuples(st.sampled_from(list(_DAY_NUMBER)), st.sampled_from(list(_DAY_NUMBER)))
    .filter(lambda p: _DAY_NUMBER[p[0]] < _DAY_NUMBER[p[1]])
    .map("-".join),
)
DAYS = st.one_of(st.none(), st.lists(_DAY_PART, min_size=1, max_size=3).map(",".join))


def hhmm_as_cron(days: str | None, hours: str, minutes: str) -> str:
    """The cron line meaning the same as ``[days] hours:minutes`` (mon=1 .. sun=7)."""
    if days is None:
        dow = "*"
    else:
        parts = []
        for part in days.split(","):
            if part == "weekdays":
                parts.append("1-5")
            elif part == "weekends":
                parts.append("6-7")
            else:
                parts.append("-".join(str(_DAY_NUMBER[name]) for name in part.split("-")))
        dow = ",".join(parts)
    return f"{minutes} {hours} * * {dow}"


def _cron_field(low: int, high: int, focus: int, names: list[str] | None = None) -> st.SearchStrategy[str]:
    """A cron field, including N/s, names and * inside lists; never a-a/s (cronsim reads it as a/s)."""
    number = _numbers(low, high, focus)
    value = number.map(str) if names is None else st.one_of(number.map(str), st.sampled_from(names))
    span = st.tuples(number, number).map(sorted).filter(lambda p: p[0] < p[1])
    part = st.one_of(
        value,
        span.map(lambda p: f"{p[0]}-{p[1]}"),
        st.tuples(span, st.integers(1, 10)).map(lambda x: f"{x[0][0]}-{x[0][1]}/{x[1]}"),
        st.tuples(number, st.integers(1, 10)).map(lambda x: f"{x[0]}/{x[1]}"),
        st.integers(1, high - low + 3).map(lambda step: f"*/{step}"),
    )
    return st.one_of(st.just("*"), st.lists(part, min_size=1, max_size=3).map(",".join))


CRON = st.builds(
    lambda *fields: " ".join(fields),
    _cron_field(0, 59, 59),
    _cron_field(0, 23, 3),
    st.one_of(st.just("*"), st.just("*"), _cron_field(1, 31, 31)),
    st.one_of(
        st.just("*"), st.just("*"), st.sampled_from(["3", "11", "3,11", "mar-nov/2"]), _cron_field(1, 12, 12)
    ),
    st.one_of(st.just("*"), _cron_field(0, 7, 7, ["sun", "mon", "Fri", "SAT"])),
)


# --- properties -------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(days=DAYS, hours=_hhmm_field(0, 23, 3), minutes=_hhmm_field(0, 59, 59), after=STARTS)
def test_hhmm_schedules_fire_when_cronsim_says(
    days: str | None, hours: str, minutes: str, after: datetime
) -> None:
    expression = f"{days} {hours}:{minutes}" if days else f"{hours}:{minutes}"
    cron = hhmm_as_cron(days, hours, minutes)
    schedule = parse(expression)
    assert schedule == parse(cron)
    assert schedule.next_runs(after, RUNS) == cronsim_runs(cron, after, RUNS), (expression, cron, after)


@settings(max_examples=150, deadline=None)
@given(cron=CRON, after=STARTS)
def test_cron_lines_fire_when_cronsim_says(cron: str, after: datetime) -> None:
    try:
        CronSim(cron, after.astimezone(EASTERN))
    except CronSimError:
        cronsim_accepts = False
    else:
        cronsim_accepts = True
    try:
        schedule = parse(cron)
    except ScheduleError:
        assert not cronsim_accepts, cron
        return
    assert cronsim_accepts, cron
    assert schedule.next_runs(after, RUNS) == cronsim_runs(cron, after, RUNS), (cron, after)


@settings(max_examples=100, deadline=None)
@given(cron=CRON, after=STARTS)
def test_canonical_form_keeps_the_fire_times_and_is_stable(cron: str, after: datetime) -> None:
    try:
        schedule = parse(cron)
    except ScheduleError:
        return
    again = parse(schedule.canonical)
    assert again.canonical == schedule.canonical
    assert again.fixed == schedule.fixed
    assert again.runs_per_day == schedule.runs_per_day
    assert again.next_runs(after, 10) == schedule.next_runs(after, 10)


# --- the one documented difference ------------------------------------------------------------------


def test_cronsim_started_in_the_est_pass_yields_a_past_edt_slot_which_we_do_not() -> None:
    """cronsim walks fixed-time schedules on naive wall times, so from 1:10 EST it finds 1:30 ahead
    and returns it as 1:30 EDT (fold=0), 40 minutes *before* the start. Rule 1 says that slot
    already ran at its EDT pass; strictly after the start, the next run is tomorrow's 1:30."""
    after = datetime(2026, 11, 1, 1, 10, tzinfo=EASTERN, fold=1)  # 06:10 UTC
    first_from_cronsim = next(CronSim("30 1 * * *", after)).astimezone(UTC)
    assert first_from_cronsim == datetime(2026, 11, 1, 5, 30, tzinfo=UTC) < after
    assert parse("1:30").next_runs(after, 1) == [datetime(2026, 11, 2, 6, 30, tzinfo=UTC)]


def test_cronsim_reads_a_single_value_range_with_a_step_as_running_to_the_field_end() -> None:
    """Vixie cron reads 5-5/10 as just 5; cronsim as 5/10 (5, 15, ..., 55). We follow Vixie, so the
    generators above never produce a-a/s."""
    start = datetime(2026, 6, 1, 12, 0, tzinfo=EASTERN)
    cronsim_minutes = [run.minute for run, _ in zip(CronSim("5-5/10 * * * *", start), range(3), strict=False)]
    assert cronsim_minutes == [5, 15, 25]
    assert parse("5-5/10 * * * *").canonical == "*:05"
