"""The DST rules on real transition days, and ``is_due`` agreeing with the fire times minute by minute.

Spring forward: 2025-03-09 and 2026-03-08 (2:00-2:59 does not exist; 3:00 EDT = 07:00 UTC).
Fall back: 2025-11-02 and 2026-11-01 (1:00-1:59 happens twice: EDT at 05:xx UTC, EST at 06:xx UTC).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tickwork.schedule import EASTERN, MinuteInfo, ScheduleSet, parse, parse_many
from tickwork.schedule.eastern import day_bounds

SPRING = [date(2025, 3, 9), date(2026, 3, 8)]
FALL = [date(2025, 11, 2), date(2026, 11, 1)]
NORMAL = date(2026, 6, 15)


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def local(day: date, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=EASTERN, fold=fold).astimezone(UTC)


# --- rule 1: fixed-time schedules ---------------------------------------------------------------


@pytest.mark.parametrize("day", SPRING)
def test_fixed_slot_in_the_spring_gap_runs_once_at_3_edt(day: date) -> None:
    assert parse("2:30").fire_times_on(day) == [utc(day, 7, 0)]


@pytest.mark.parametrize("day", FALL)
def test_fixed_slot_in_the_repeated_hour_runs_once_at_its_edt_pass(day: date) -> None:
    assert parse("1:30").fire_times_on(day) == [utc(day, 5, 30)]


@pytest.mark.parametrize("day", SPRING)
def test_all_gap_slots_of_a_day_collapse_into_one_3_00_run(day: date) -> None:
    assert parse("2:00,20,40").fire_times_on(day) == [utc(day, 7, 0)]
    assert parse("0-3:00").fire_times_on(day) == [local(day, 0), local(day, 1), utc(day, 7, 0)]


@pytest.mark.parametrize("day", SPRING)
def test_gap_slots_and_a_real_3_00_slot_run_once_together(day: date) -> None:
    schedule = parse("2,3:00")
    assert schedule.fire_times_on(day) == [utc(day, 7, 0)]
    after = local(day, 0)
    next_day = day + timedelta(days=1)
    assert schedule.next_runs(after, 3) == [utc(day, 7, 0), local(next_day, 2), local(next_day, 3)]


@pytest.mark.parametrize("day", SPRING)
def test_gap_slots_and_later_real_slots_in_hour_3(day: date) -> None:
    assert parse("2,3:0,30").fire_times_on(day) == [utc(day, 7, 0), utc(day, 7, 30)]


@pytest.mark.parametrize("day", SPRING)
def test_fixed_schedule_whose_day_does_not_match_the_gap_day_does_not_run(day: date) -> None:
    assert day.weekday() == 6  # the spring-forward day is a Sunday
    assert parse("mon 2:30").fire_times_on(day) == []
    assert parse("sun 2:30").fire_times_on(day) == [utc(day, 7, 0)]
    monday = day + timedelta(days=1)
    assert parse("mon 2:30").next_runs(local(day, 0), 1) == [local(monday, 2, 30)]


@pytest.mark.parametrize("day", FALL)
def test_fixed_hour_range_across_fall_back_runs_each_slot_once(day: date) -> None:
    assert parse("0-3:00").fire_times_on(day) == [utc(day, 4), utc(day, 5), utc(day, 7), utc(day, 8)]
    assert len(parse("1:0-59").fire_times_on(day)) == 60


def test_cli_example_2_30_after_saturday_noon() -> None:
    after = datetime(2026, 3, 7, 12, 0, tzinfo=EASTERN)
    runs = [run.astimezone(EASTERN).isoformat() for run in parse("2:30").next_runs(after, 2)]
    assert runs == ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]


@pytest.mark.parametrize("day", FALL)
def test_fixed_schedule_started_inside_the_second_pass_waits_for_tomorrow(day: date) -> None:
    inside_est_pass = local(day, 1, 10, fold=1)
    assert parse("1:30").next_runs(inside_est_pass, 1) == [local(day + timedelta(days=1), 1, 30)]


# --- rule 2: real-time schedules ----------------------------------------------------------------


@pytest.mark.parametrize("day", SPRING)
def test_every_hour_at_30_runs_23_times_on_spring_forward(day: date) -> None:
    runs = parse("*:30").fire_times_on(day)
    assert len(runs) == 23
    assert utc(day, 7, 30) in runs and all(run.astimezone(EASTERN).hour != 2 for run in runs)


@pytest.mark.parametrize("day", FALL)
def test_every_hour_at_30_runs_25_times_on_fall_back(day: date) -> None:
    runs = parse("*:30").fire_times_on(day)
    assert len(runs) == 25
    assert utc(day, 5, 30) in runs and utc(day, 6, 30) in runs


@pytest.mark.parametrize("day", SPRING)
def test_real_time_slots_in_the_gap_do_not_run(day: date) -> None:
    assert parse("2:*/20").fire_times_on(day) == []
    assert parse("*/2:00").fire_times_on(day) == [local(day, hour) for hour in range(0, 24, 2) if hour != 2]


@pytest.mark.parametrize("day", FALL)
def test_real_time_slots_in_the_repeated_hour_run_in_both_passes(day: date) -> None:
    runs = parse("1:*/20").fire_times_on(day)
    assert runs == [utc(day, 5, m) for m in (0, 20, 40)] + [utc(day, 6, m) for m in (0, 20, 40)]


@pytest.mark.parametrize("day", SPRING + FALL)
def test_every_minute_follows_real_time(day: date) -> None:
    start, end = day_bounds(day)
    runs = parse("*:*").fire_times_on(day)
    assert len(runs) == (end - start) // timedelta(minutes=1)
    assert len(runs) == (1380 if day in SPRING else 1500)


def test_cron_five_field_lines_follow_the_same_rules() -> None:
    spring, fall = SPRING[1], FALL[1]
    assert parse("30 2 * * *").fire_times_on(spring) == [utc(spring, 7)]
    assert parse("30 1 * * *").fire_times_on(fall) == [utc(fall, 5, 30)]
    assert len(parse("30 * * * *").fire_times_on(fall)) == 25
    assert parse("*/20 2 * * *").fire_times_on(spring) == []


def test_a_set_of_schedules_merges_runs_by_instant() -> None:
    spring = SPRING[1]
    both = parse_many(["2:30", "3:00"])  # both land on 3:00 EDT on the spring-forward day
    assert both.fire_times_on(spring) == [utc(spring, 7)]
    assert both.next_runs(local(spring, 0), 3) == [
        utc(spring, 7),
        local(spring + timedelta(days=1), 2, 30),
        local(spring + timedelta(days=1), 3),
    ]


# --- MinuteInfo ---------------------------------------------------------------------------------


@pytest.mark.parametrize("day", SPRING)
def test_gap_hour_mask_is_set_only_at_the_first_minute_after_the_gap(day: date) -> None:
    start, end = day_bounds(day)
    minutes = [
        MinuteInfo.at(start + timedelta(minutes=n)) for n in range((end - start) // timedelta(minutes=1))
    ]
    flagged = [m for m in minutes if m.gap_hour_mask]
    assert [(m.hour, m.minute, m.gap_hour_mask) for m in flagged] == [(3, 0, 1 << 2)]
    assert flagged[0].utc == utc(day, 7)
    assert not any(m.repeated for m in minutes)


@pytest.mark.parametrize("day", FALL)
def test_repeated_marks_the_second_pass_of_the_fall_back_hour(day: date) -> None:
    first, second = MinuteInfo.at(utc(day, 5, 30)), MinuteInfo.at(utc(day, 6, 30))
    assert (first.hour, first.minute, first.repeated) == (1, 30, False)
    assert (second.hour, second.minute, second.repeated) == (1, 30, True)
    assert MinuteInfo.at(utc(day, 7, 0)).repeated is False


def test_minute_info_reads_the_local_calendar() -> None:
    m = MinuteInfo.at(datetime(2026, 1, 1, 4, 59, tzinfo=UTC))  # 23:59 EST on Wednesday Dec 31
    assert (m.local_date, m.hour, m.minute, m.weekday, m.day, m.month) == (
        date(2025, 12, 31),
        23,
        59,
        2,
        31,
        12,
    )


def test_minute_info_needs_an_aware_whole_minute() -> None:
    with pytest.raises(ValueError):
        MinuteInfo.at(datetime(2026, 1, 1, 12, 0))
    with pytest.raises(ValueError):
        MinuteInfo.at(datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC))


def test_is_due_fixed_schedule_at_the_gap_and_in_the_repeated_hour() -> None:
    spring, fall = SPRING[1], FALL[1]
    assert parse("2:30").is_due(MinuteInfo.at(utc(spring, 7)))
    assert not parse("mon 2:30").is_due(MinuteInfo.at(utc(spring, 7)))
    assert not parse("*/20 2 * * *").is_due(MinuteInfo.at(utc(spring, 7)))
    assert parse("1:30").is_due(MinuteInfo.at(utc(fall, 5, 30)))
    assert not parse("1:30").is_due(MinuteInfo.at(utc(fall, 6, 30)))
    assert parse("*:30").is_due(MinuteInfo.at(utc(fall, 6, 30)))


# --- is_due agrees with fire times, minute by minute ---------------------------------------------


def _day_minutes(day: date) -> list[MinuteInfo]:
    start, end = day_bounds(day)
    return [MinuteInfo.at(start + timedelta(minutes=n)) for n in range((end - start) // timedelta(minutes=1))]


WALKED_DAYS = (SPRING[1], FALL[1], NORMAL)
DAY_MINUTES = {day: _day_minutes(day) for day in WALKED_DAYS}


def _field(low: int, high: int, focus: int) -> st.SearchStrategy[str]:
    """H:MM field text; values biased toward ``low..focus`` so the DST hours come up often."""
    number = st.one_of(st.integers(low, focus), st.integers(low, high))
    pair = st.tuples(number, number).map(sorted)
    part = st.one_of(
        number.map(str),
        pair.map(lambda p: f"{p[0]}-{p[1]}"),
        st.tuples(pair, st.integers(1, 20)).map(lambda x: f"{x[0][0]}-{x[0][1]}/{x[1]}"),
        st.integers(1, high - low + 1).map(lambda s: f"*/{s}"),
    )
    return st.one_of(st.just("*"), st.lists(part, min_size=1, max_size=3).map(",".join))


DAY_TEXT = st.one_of(
    st.just(""),
    st.sampled_from(["mon-fri ", "sun ", "sat,sun ", "weekends ", "mon ", "sun,wed-fri "]),
)
HHMM = st.builds(lambda days, h, m: f"{days}{h}:{m}", DAY_TEXT, _field(0, 23, 3), _field(0, 59, 59))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=HHMM)
def test_is_due_is_true_exactly_at_the_fire_times(expression: str) -> None:
    schedule = parse(expression)
    for day in WALKED_DAYS:
        due = [m.utc for m in DAY_MINUTES[day] if schedule.is_due(m)]
        assert due == schedule.fire_times_on(day), (expression, day)


@settings(max_examples=20, deadline=None)
@given(expressions=st.lists(HHMM, min_size=1, max_size=3))
def test_is_due_of_a_set_is_true_exactly_at_its_fire_times(expressions: list[str]) -> None:
    schedules: ScheduleSet = parse_many(expressions)
    for day in WALKED_DAYS:
        due = [m.utc for m in DAY_MINUTES[day] if schedules.is_due(m)]
        assert due == schedules.fire_times_on(day), (expressions, day)


@pytest.mark.parametrize(
    "expression", ["0 1 * 11 0", "30 2 8 3 *", "*/30 1 1 11 *", "0 2 * * 0", "0 9 13 * 5"]
)
def test_is_due_agrees_with_fire_times_for_cron_day_rules(expression: str) -> None:
    schedule = parse(expression)
    for day in WALKED_DAYS:
        due = [m.utc for m in DAY_MINUTES[day] if schedule.is_due(m)]
        assert due == schedule.fire_times_on(day), day
