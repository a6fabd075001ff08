"""Parsing schedule expressions: accepted forms, canonical text, English, errors, runs per day."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest

from tickwork.errors import BadInput
from tickwork.schedule import PRESETS, Schedule, ScheduleError, ScheduleSet, parse, parse_many
from tickwork.schedule.frequency import CYCLE_DAYS, day_classes

# --- accepted forms and their canonical text -----------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "canonical", "fixed"),
    [
        ("9:00", "9:00", True),
        ("09:00", "9:00", True),
        ("  9:5  ", "9:05", True),
        ("*:00", "*:00", False),
        ("*:15", "*:15", False),
        ("8-19:00", "8-19:00", True),
        ("mon-fri 8-19:*/15", "mon-fri 8-19:*/15", False),
        ("MON-FRI   8-19:*/15", "mon-fri 8-19:*/15", False),
        ("*:*", "*:*", False),
        ("9,17:30", "9,17:30", True),
        ("0-23:30", "0-23:30", True),
        ("0-23:0-59", "0-23:0-59", True),
        ("*:0,15,30,45", "*:0-59/15", False),
        ("*:*/15", "*:*/15", False),
        ("*:*/15,5", "*:*/15,5", False),
        ("8,9,10,11,14:00", "8-11,14:00", True),
        ("8,13,18:00", "8-18/5:00", True),
        ("1-3:5-35/15", "1-3:5-35/15", True),
        ("weekdays 9:00", "mon-fri 9:00", True),
        ("weekends 10:00", "sat,sun 10:00", True),
        ("sun,mon,tue 9:00", "mon,tue,sun 9:00", True),
        ("mon,tue,wed,sat 9:00", "mon-wed,sat 9:00", True),
        ("mon-sun 9:00", "9:00", True),
        ("fri,weekends 23:59", "fri-sun 23:59", True),
        ("*/2:00", "*/2:00", False),
        ("0-22/2:00", "0-23/2:00", True),
        ("*/24:00", "*/24:00", False),
    ],
)
def test_accepted_forms_have_a_canonical_form(expression: str, canonical: str, fixed: bool) -> None:
    schedule = parse(expression)
    assert schedule.canonical == canonical
    assert schedule.fixed is fixed
    assert schedule.source == expression


@pytest.mark.parametrize(
    ("preset", "canonical"),
    [
        ("5m", "*:*/5"),
        ("10m", "*:*/10"),
        ("15m", "*:*/15"),
        ("30m", "*:*/30"),
        ("1h", "*:00"),
        ("2h", "*/2:00"),
        ("4h", "*/4:00"),
        ("6h", "*/6:00"),
        ("12h", "*/12:00"),
        ("daily", "0:00"),
        ("weekly", "sun 0:00"),
        (" Daily ", "0:00"),
    ],
)
def test_presets_are_aliases_whose_canonical_form_is_their_expansion(preset: str, canonical: str) -> None:
    schedule = parse(preset)
    assert schedule.canonical == canonical
    assert schedule == parse(canonical)
    assert schedule.source == preset


def test_every_documented_preset_is_tested() -> None:
    assert set(PRESETS) == {"5m", "10m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "daily", "weekly"}


@pytest.mark.parametrize(
    ("cron", "canonical"),
    [
        ("*/15 8-19 * * 1-5", "mon-fri 8-19:*/15"),
        ("0 9 * * *", "9:00"),
        ("0 9 * * mon-fri", "mon-fri 9:00"),
        ("0 9 * * MON,wed,Fri", "mon,wed,fri 9:00"),
        ("0 9 * * 0", "sun 9:00"),
        ("0 9 * * 7", "sun 9:00"),
        ("0 9 * * 6-7", "sat,sun 9:00"),
        ("0 9 * * 5-7", "fri-sun 9:00"),
        ("0 9 * * 0-7", "9:00"),
        ("0 9 * * 1/2", "mon,wed,fri,sun 9:00"),
        ("0 9 * * */2", "tue,thu,sat,sun 9:00"),
        ("*/30 * * * *", "*:*/30"),
        ("0,30 * * * *", "*:00,30"),
        ("5/15 * * * *", "*:5-59/15"),
        ("0 */4 * * *", "*/4:00"),
        ("0 1/4 * * *", "1-23/4:00"),
        ("0 9 * jan-mar *", "0 9 * 1-3 *"),
        ("0 9 * JAN,jul *", "0 9 * 1,7 *"),
        ("0 9 1 * *", "0 9 1 * *"),
        ("0 9 1,15 * *", "0 9 1,15 * *"),
        ("0 9 */2 * *", "0 9 1-31/2 * *"),
        ("0 9 13 * 5", "0 9 13 * 5"),
        ("0 9 13 * fri", "0 9 13 * 5"),
        ("0 9 */2 * 1-5", "0 9 */2 * 1-5"),
        ("0 9 1 * */2", "0 9 1 * */2"),
        ("0 9 1-31 * 1", "9:00"),
        ("0 9 1 * 0-6", "9:00"),
        ("0 9 * 1-12 *", "9:00"),
        ("*/60 * * * *", "*:*/60"),
        ("*/100 * * * *", "*:*/60"),
        ("0 0 29 2 *", "0 0 29 2 *"),
    ],
)
def test_cron_lines_are_read_like_cronsim_and_print_canonically(cron: str, canonical: str) -> None:
    assert parse(cron).canonical == canonical


@pytest.mark.parametrize(
    "expression",
    [
        "9:00",
        "*:30",
        "0-23:30",
        "mon-fri 8-19:*/15",
        "*:*/15,5",
        "*/24:00",
        "8-18/5:5,20,47",
        "0 9 13 * 5",
        "0 9 */2 * 1-5",
        "0 9 1 * */2",
        "0 9 1-31/2 * *",
        "*/5 2 * 3,11 0",
        "0 0 29 2 *",
        "weekly",
    ],
)
def test_canonical_form_parses_back_to_the_same_schedule(expression: str) -> None:
    schedule = parse(expression)
    again = parse(schedule.canonical)
    assert again.canonical == schedule.canonical
    assert again.fixed == schedule.fixed
    assert again == schedule
    start = datetime(2026, 3, 1, tzinfo=UTC)
    assert again.next_runs(start, 40) == schedule.next_runs(start, 40)


def test_star_leading_and_digit_leading_fields_with_equal_values_stay_distinct() -> None:
    real_time, fixed_time = parse("*:30"), parse("0-23:30")
    assert real_time.hour_mask == fixed_time.hour_mask
    assert real_time.canonical != fixed_time.canonical
    assert real_time != fixed_time
    assert (real_time.fixed, fixed_time.fixed) == (False, True)


def test_cron_fixed_flag_follows_the_minute_and_hour_fields() -> None:
    assert parse("30 2 * * *").fixed
    assert parse("0-59/20 1 * * *").fixed
    assert not parse("*/20 1 * * *").fixed
    assert not parse("30 * * * *").fixed
    assert not parse("0 */2 * * *").fixed


def test_parse_is_cached_and_schedules_are_hashable() -> None:
    assert parse("mon-fri 8-19:*/15") is parse("mon-fri 8-19:*/15")
    assert len({parse("9:00"), parse("09:00"), parse("0 9 * * *")}) == 1


# --- English -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "english"),
    [
        ("9:00", "every day at 9:00 AM, Eastern"),
        ("*:*", "every minute, Eastern"),
        ("*:00", "every hour, on the hour, Eastern"),
        ("*:15", "every hour at 15 minutes past the hour, Eastern"),
        ("8-19:00", "every hour from 8 AM to 7 PM, Eastern"),
        ("mon-fri 8-19:00", "every hour from 8 AM to 7 PM, Monday to Friday, Eastern"),
        ("9,17:30", "every day at 9:30 AM and 5:30 PM, Eastern"),
        ("*:*/15", "every 15 minutes, Eastern"),
        ("mon-fri 8-19:*/15", "every 15 minutes from 8:00 AM to 7:45 PM, Monday to Friday, Eastern"),
        ("0:00", "every day at midnight, Eastern"),
        ("12:00", "every day at noon, Eastern"),
        ("0:30", "every day at 12:30 AM, Eastern"),
        ("weekly", "every Sunday at midnight, Eastern"),
        ("sat,sun 10:00", "at 10:00 AM, Saturday and Sunday, Eastern"),
        ("*/2:00", "every 2 hours from midnight to 10 PM, Eastern"),
        ("8,13,18:5,20,47", "at minutes 5, 20 and 47 past 8 AM, 1 PM and 6 PM, Eastern"),
        ("9,17:*/15", "every 15 minutes during the 9 AM and 5 PM hours, Eastern"),
        ("*:5-59/15", "every 15 minutes, at 5, 20, 35 and 50 minutes past the hour, Eastern"),
        ("0 9 1 * *", "at 9:00 AM, on the 1st of the month, Eastern"),
        ("0 0 29 2 *", "at midnight, on the 29th of February, Eastern"),
        ("0 9 13 * 5", "at 9:00 AM, on the 13th of the month and every Friday, Eastern"),
        ("0 9 * 1-3 *", "every day at 9:00 AM in January to March, Eastern"),
    ],
)
def test_descriptions_read_as_plain_english(expression: str, english: str) -> None:
    assert parse(expression).describe() == english


# --- errors ------------------------------------------------------------------------------------


def test_error_message_points_at_the_offending_text() -> None:
    with pytest.raises(ScheduleError) as caught:
        parse("25:00")
    assert str(caught.value) == (
        'invalid schedule "25:00": hour 25 is out of range (the hour field allows 0-23)\n  25:00\n  ^^'
    )


def test_schedule_error_is_bad_input_with_exit_code_2() -> None:
    with pytest.raises(BadInput) as caught:
        parse("9:60")
    assert isinstance(caught.value, ScheduleError)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("expression", "field", "position", "allowed", "says"),
    [
        ("25:00", "hour", 0, "0-23", "hour 25 is out of range"),
        ("9:60", "minute", 2, "0-59", "minute 60 is out of range"),
        ("9-7:00", "hour", 0, "0-23", "runs backwards"),
        ("22-2:00", "hour", 0, "0-23", "22-23,0-2"),
        ("*/0:00", "hour", 2, "0-23", "step of 0"),
        ("9:*/0", "minute", 4, "0-59", "step of 0"),
        ("9:5/15", "minute", 2, "0-59", "a step needs * or a range before it, e.g. 5-59/15"),
        ("9:*/61", "minute", 4, "0-59", "longer than the whole field"),
        ("1,,2:00", "hour", 2, "0-23", "empty part"),
        ("9,:00", "hour", 2, "0-23", "empty part"),
        (":00", "hour", 0, "0-23", "hour is missing"),
        ("9:", "minute", 2, "0-59", "minute is missing"),
        ("x:00", "hour", 0, "0-23", '"x" is not a valid hour'),
        ("*,5:00", "hour", 0, "0-23", "* must be the whole field"),
        ("tues 9:00", "days", 0, "weekdays", 'did you mean "tue"'),
        ("monday 9:00", "days", 0, "mon tue wed", 'did you mean "mon"'),
        ("mon,funday 9:00", "days", 4, "weekends", 'unknown day "funday"'),
        ("fri-mon 9:00", "days", 0, "mon-fri", "fri-sun,mon"),
        ("mon, 9:00", "days", 4, "mon tue", "a day is missing"),
        ("mon fri 9:00", "days", 4, "mon tue", "separate days with commas"),
        ("", "schedule", 0, "H:MM", "empty"),
        ("   ", "schedule", 0, "H:MM", "empty"),
        ("9am", "schedule", 0, "H:MM", "write 9:00"),
        ("9:00 PM", "schedule", 0, "H:MM", "write 21:00"),
        ("12am", "schedule", 0, "H:MM", "write 0:00"),
        ("mon 5:30pm", "schedule", 4, "H:MM", "write 17:30"),
        ("every 5 minutes", "schedule", 0, "H:MM", "*:*/5 for every 5 minutes (or the preset 5m)"),
        ("every minute", "schedule", 0, "H:MM", "*:*"),
        ("every 2 hours", "schedule", 0, "H:MM", "*/2:00"),
        ("every day", "schedule", 0, "H:MM", "daily"),
        ("9", "schedule", 0, "H:MM", "write 9:00"),
        ("mon", "schedule", 3, "H:MM", "need a time"),
        ("9:00 mon", "schedule", 0, "H:MM", "put the days before the time: mon 9:00"),
        ("9:00:00", "schedule", 4, "H:MM", "seconds are not supported"),
        ("@daily", "schedule", 0, "H:MM", "write daily"),
        ("hourly", "schedule", 0, "H:MM", "write 1h"),
        ("0 0 * * * *", "schedule", 0, "H:MM", "6 fields"),
        ("0 0 0 * * * 2026", "schedule", 0, "H:MM", "7 fields"),
        ("0 0 * *", "schedule", 0, "H:MM", "found 4 parts"),
        ("60 * * * *", "minute (cron)", 0, "0-59", "minute 60 is out of range"),
        ("0 24 * * *", "hour (cron)", 2, "0-23", "hour 24 is out of range"),
        ("0 0 0 * *", "day-of-month", 4, "1-31", "day of month 0 is out of range"),
        ("0 0 32 * *", "day-of-month", 4, "1-31", "out of range"),
        ("0 0 * 13 *", "month", 6, "jan-dec", "month 13 is out of range"),
        ("0 0 * foo *", "month", 6, "jan-dec", '"foo" is not a valid month'),
        ("0 0 * * 8", "day-of-week", 8, "0 and 7 are both Sunday", "day of week 8 is out of range"),
        ("0 0 * * sun-sat/0", "day-of-week", 16, "sun-sat", "step of 0"),
        ("0 0 * * fri-mon", "day-of-week", 8, "sun-sat", "runs backwards"),
        ("0 0 L * *", "day-of-month", 4, "1-31", "not supported"),
        ("0 0 15W * *", "day-of-month", 4, "1-31", "not supported"),
        ("0 0 LW * *", "day-of-month", 4, "1-31", "not supported"),
        ("0 0 * * 5L", "day-of-week", 8, "sun-sat", "not supported"),
        ("0 0 * * 1#2", "day-of-week", 8, "sun-sat", "not supported"),
        ("0 0 ? * 1", "day-of-month", 4, "1-31", "not supported"),
        ("0 0 30 2 *", "day-of-month", 4, "1-31", "February never has a day 30"),
        ("0 0 31 4,6 *", "day-of-month", 4, "1-31", "April and June never have a day 31"),
    ],
)
def test_errors_name_the_field_position_and_what_is_allowed(
    expression: str, field: str, position: int, allowed: str, says: str
) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse(expression)
    error = caught.value
    assert error.expression == expression
    assert error.field == field
    assert error.position == position
    assert allowed in error.allowed
    assert says in error.reason
    assert says in str(error)
    if field != "schedule":
        assert f"the {field} field allows {error.allowed}" in str(error)


def test_error_carets_sit_under_the_bad_part() -> None:
    with pytest.raises(ScheduleError) as caught:
        parse("mon-fri 8-19:*/0")
    lines = str(caught.value).splitlines()
    assert lines[1:] == ["  mon-fri 8-19:*/0", "                 ^"]


def test_cron_dom_and_dow_both_restricted_match_either() -> None:
    """Debian cron: 13th-of-the-month OR Friday when neither day field starts with *."""
    either = parse("0 9 13 * 5")
    fired = {d for d in _dates(date(2026, 2, 1), 28) if either.fire_times_on(d)}
    fridays = {d for d in _dates(date(2026, 2, 1), 28) if d.weekday() == 4}
    assert fired == fridays | {date(2026, 2, 13)}


def test_cron_day_field_starting_with_star_makes_both_must_match() -> None:
    both = parse("0 9 */2 * 5")  # odd days that are Fridays
    fired = [d for d in _dates(date(2026, 1, 1), 60) if both.fire_times_on(d)]
    assert fired == [d for d in _dates(date(2026, 1, 1), 60) if d.weekday() == 4 and d.day % 2 == 1]


def test_cron_sunday_is_both_0_and_7() -> None:
    assert parse("0 9 * * 0") == parse("0 9 * * 7") == parse("0 9 * * sun") == parse("sun 9:00")


# --- runs per day -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "runs_per_day", "on_active_day"),
    [
        ("*:*", Fraction(1440), 1440),
        ("9:00", Fraction(1), 1),
        ("mon-fri 8-19:00", Fraction(60, 7), 12),
        ("mon-fri 8-19:*/15", Fraction(240, 7), 48),
        ("weekly", Fraction(1, 7), 1),
        ("*:30", Fraction(24), 24),
        ("0 0 1 * *", Fraction(4800, 146097), 1),
        ("0 0 29 2 *", Fraction(97, 146097), 1),
        ("0 0 31 * *", Fraction(7 * 400, 146097), 1),
    ],
)
def test_runs_per_day_is_exact_over_the_gregorian_cycle(
    expression: str, runs_per_day: Fraction, on_active_day: int
) -> None:
    schedule = parse(expression)
    assert schedule.runs_per_day == runs_per_day
    assert schedule.runs_on_active_day == on_active_day


def test_runs_per_day_of_an_or_day_rule_counts_each_date_once() -> None:
    thirteenth_or_friday = parse("0 9 13 * 5")
    thirteenth, friday = parse("0 9 13 * *"), parse("fri 9:00")
    friday_thirteenths = Fraction(688, 146097)  # Friday the 13th: 688 times in 400 years
    assert (
        thirteenth_or_friday.runs_per_day
        == thirteenth.runs_per_day + friday.runs_per_day - friday_thirteenths
    )


# --- several schedules --------------------------------------------------------------------------


def test_parse_many_is_the_union_of_its_schedules() -> None:
    both = parse_many(["8:00", "17:30"])
    assert isinstance(both, ScheduleSet)
    assert both.canonical == "8:00 | 17:30"
    assert both.describe() == "every day at 8:00 AM; and every day at 5:30 PM, Eastern"
    assert both.runs_per_day == 2
    assert both.fire_times_on(date(2026, 6, 1)) == [
        datetime(2026, 6, 1, 12, 0, tzinfo=UTC),
        datetime(2026, 6, 1, 21, 30, tzinfo=UTC),
    ]


def test_parse_many_counts_shared_slots_once() -> None:
    assert parse_many(["*:00", "*:*/30"]).runs_per_day == 48
    assert parse_many(["mon-fri 9:00", "9:00"]).runs_per_day == 1
    overlapping = parse_many(["mon-fri 9:00,30", "sat 9:00"])
    assert overlapping.runs_per_day == Fraction(11, 7)
    assert overlapping.runs_on_active_day == 2
    start = datetime(2026, 6, 1, tzinfo=UTC)
    runs = parse_many(["*:00", "*:*/30"]).next_runs(start, 10)
    assert runs == [start + timedelta(minutes=30 * step) for step in range(1, 11)]


def test_one_element_parse_many_behaves_like_the_schedule() -> None:
    alone: Schedule = parse("mon-fri 8-19:*/15")
    wrapped = parse_many(["mon-fri 8-19:*/15"])
    start = datetime(2026, 3, 6, 23, 0, tzinfo=UTC)
    assert wrapped.canonical == alone.canonical
    assert wrapped.describe() == alone.describe()
    assert wrapped.runs_per_day == alone.runs_per_day
    assert wrapped.runs_on_active_day == alone.runs_on_active_day
    assert wrapped.fixed == alone.fixed
    assert wrapped.next_runs(start, 20) == alone.next_runs(start, 20)
    assert wrapped.fire_times_on(date(2026, 3, 9)) == alone.fire_times_on(date(2026, 3, 9))


def test_parse_many_reads_its_own_canonical_form_back() -> None:
    many = parse_many(["mon-fri 9:00", "0 0 1 * *", "*:30"])
    assert parse_many(many.canonical) == many
    assert parse_many(["9:00", "0 9 * * *"]).canonical == "9:00"


def test_parse_many_errors_point_into_the_whole_text() -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_many("9:00 | 25:00")
    assert (caught.value.field, caught.value.position) == ("hour", 7)
    with pytest.raises(ScheduleError) as caught:
        parse_many("9:00 || 10:00")
    assert caught.value.position == 6
    with pytest.raises(ScheduleError):
        parse_many([])


def _dates(start: date, count: int) -> list[date]:
    return [start + timedelta(days=offset) for offset in range(count)]


def test_each_weekday_occurs_equally_often_in_the_400_year_cycle() -> None:
    """Why a weekday-only schedule's share of days is exactly k/7."""
    per_weekday = {bit: 0 for bit in (1 << day for day in range(7))}
    for weekday_bit, _, _, count in day_classes():
        per_weekday[weekday_bit] += count
    assert set(per_weekday.values()) == {CYCLE_DAYS // 7}
    assert CYCLE_DAYS % 7 == 0


def test_schedule_error_survives_pickling() -> None:
    with pytest.raises(ScheduleError) as caught:
        parse("mon-fri 8-19:*/0")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.field, copy.position, copy.allowed, str(copy)) == (
        "minute",
        15,
        "0-59",
        str(caught.value),
    )
