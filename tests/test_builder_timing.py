"""The builder's timing grammar: phrases in English against the exact times they fire at.

Expected results are firing sets, not schedule strings: every (weekday, minute of the day) a
proposal's schedules fire at over a plain week of Eastern time (no clock change), built here
from the rule the phrase states, so two different but equivalent schedules both pass.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tickwork.builder.timing import (
    allowed_interval,
    nearest_allowed,
    normalize,
    plural,
    read_timing,
    singular,
)
from tickwork.schedule import EASTERN, parse, parse_many

WEEK = date(2026, 11, 16)  # a Monday; the week has no clock change
ALL = range(7)
WEEKDAYS = range(5)
WEEKEND = (5, 6)
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def minute(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def at(*times: str, days: object = ALL) -> set[tuple[int, int]]:
    """Fixed times on the given weekdays."""
    return {(day, minute(time)) for day in days for time in times}  # type: ignore[attr-defined]


def every(step: int, start: str = "0:00", end: str = "23:59", days: object = ALL) -> set[tuple[int, int]]:
    """Every ``step`` minutes counted from midnight, from ``start`` to ``end`` inclusive."""
    return {
        (day, t)
        for day in days  # type: ignore[attr-defined]
        for t in range(minute(start), minute(end) + 1)
        if t % step == 0
    }


def fires(schedules: list[str]) -> set[tuple[int, int]]:
    """Where the schedules fire over the plain week, as (weekday, minute of the day) in Eastern."""
    union = parse_many(schedules)
    found = set()
    for offset in range(7):
        for instant in union.fire_times_on(WEEK + timedelta(days=offset)):
            local = instant.astimezone(EASTERN)
            found.add((local.weekday(), local.hour * 60 + local.minute))
    return found


OK_PHRASES = [
    # the two phrases from the product's docs
    (
        "add a background job that runs every morning at 8 AM and sends an email summary of all orders "
        "from the previous day to the account owner",
        at("8:00"),
    ),
    ("I want customers to get a reminder text message 24 hours before their appointment", every(60)),
    # fixed times
    ("every day at 9 AM", at("9:00")),
    ("daily at 5:30 pm", at("17:30")),
    ("at 17:45 every day", at("17:45")),
    ("every day at 0:15", at("0:15")),
    ("every day at noon", at("12:00")),
    ("every day at 12 noon", at("12:00")),
    ("every night at midnight", at("0:00")),
    ("at 9 a.m. and 5 p.m.", at("9:00", "17:00")),
    ("at 9:30 AM and 4:30 PM", at("9:30", "16:30")),
    ("at 8, 12 and 18:00", at("8:00", "12:00", "18:00")),
    ("every evening at 6", at("18:00")),
    ("every afternoon at 3", at("15:00")),
    ("every night at 11", at("23:00")),
    ("every morning at 7", at("7:00")),
    # bare hours 7-11 are morning, 12 is noon
    ("every day at 7", at("7:00")),
    ("every day at 11", at("11:00")),
    ("every day at 12", at("12:00")),
    ("every day at 10:45", at("10:45")),
    ("every day at 8.30 am", at("8:30")),
    ("every day at 17.45", at("17:45")),
    ("every day at half past 9", at("9:30")),
    ("every day at quarter to 8 in the evening", at("19:45")),
    ("every weekday at quarter past 10", at("10:15", days=WEEKDAYS)),
    # days of the week
    ("every weekday at 7:30 am", at("7:30", days=WEEKDAYS)),
    ("monday to friday at 9am", at("9:00", days=WEEKDAYS)),
    ("mon-fri at 6 pm", at("18:00", days=WEEKDAYS)),
    ("on weekends at 10 am", at("10:00", days=WEEKEND)),
    ("every monday at 9 am", at("9:00", days=[MON])),
    ("on mondays and thursdays at 8:15 am", at("8:15", days=[MON, THU])),
    ("every tuesday, wednesday and friday at 2 pm", at("14:00", days=[TUE, WED, FRI])),
    ("every day except sunday at 9 am", at("9:00", days=[MON, TUE, WED, THU, FRI, SAT])),
    ("every day except saturday and sunday at 8 am", at("8:00", days=WEEKDAYS)),
    ("thursday through saturday at 7pm", at("19:00", days=[THU, FRI, SAT])),
    ("friday to monday at noon", at("12:00", days=[FRI, SAT, SUN, MON])),
    ("weekly on sunday at 11 pm", at("23:00", days=[SUN])),
    ("every weekday except wednesday at 9am", at("9:00", days=[MON, TUE, THU, FRI])),
    # every N minutes: N divides 60
    ("every minute", every(1)),
    ("every 5 minutes", every(5)),
    ("every 10 mins", every(10)),
    ("every 15 minutes", every(15)),
    ("every quarter hour", every(15)),
    ("every half hour", every(30)),
    ("every 20 minutes on weekends", every(20, days=WEEKEND)),
    # N of 60 or more divides 1,440, counted from midnight
    ("every hour", every(60)),
    ("hourly", every(60)),
    ("every 2 hours", every(120)),
    ("every 3 hours", every(180)),
    ("every 90 minutes", every(90)),
    ("every 6 hours on weekdays", every(360, days=WEEKDAYS)),
    ("every 12 hours", every(720)),
    ("every 8 hours", every(480)),
    ("every 72 minutes", every(72)),
    # minutes past the hour
    ("every hour at 15 minutes past", {(day, t) for day in ALL for t in range(15, 1440, 60)}),
    ("every hour at :45", {(day, t) for day in ALL for t in range(45, 1440, 60)}),
    ("on the half hour", {(day, t) for day in ALL for t in range(30, 1440, 60)}),
    # between / from-to include both ends and nothing after the end
    ("every 15 minutes between 9 AM and 5 PM", every(15, "9:00", "17:00")),
    ("every 30 minutes from 8am to 6pm on weekdays", every(30, "8:00", "18:00", WEEKDAYS)),
    ("every hour from 9 am to 5 pm", every(60, "9:00", "17:00")),
    ("hourly between 10am and 2pm on saturdays", every(60, "10:00", "14:00", [SAT])),
    ("every 2 hours from 8 am to 8 pm", every(120, "8:00", "20:00")),
    ("every 10 minutes 9am-11am", every(10, "9:00", "11:00")),
    ("every 15 minutes between 9:30 am and 10:30 am", every(15, "9:30", "10:30")),
    # business hours are 8 AM to 7 PM, on the days the phrase gives
    ("every 15 minutes during business hours on weekdays", every(15, "8:00", "19:00", WEEKDAYS)),
    ("every hour during business hours", every(60, "8:00", "19:00")),
    ("every 30 minutes in business hours except weekends", every(30, "8:00", "19:00", WEEKDAYS)),
    # defaults, each with an assumption
    ("every morning", at("8:00")),
    ("every weekday morning", at("8:00", days=WEEKDAYS)),
    ("every evening", at("18:00")),
    ("nightly", at("2:00")),
    # "N before <event>"
    ("send an SMS 2 hours before each class", every(30)),
    ("email guests 1 hour before their reservation", every(15)),
    ("text patients 30 minutes before the visit", every(5)),
    ("a day before each booking, send a reminder", every(60)),
    ("remind members 1 week before the renewal", every(60)),
    ("40 minutes before the meeting", every(10)),
    # several clauses, run as their union
    ("every weekday at 9am and every saturday at 10am", at("9:00", days=WEEKDAYS) | at("10:00", days=[SAT])),
    ("every morning and every evening", at("8:00", "18:00")),
    ("every morning and evening", at("8:00", "18:00")),
    ("on weekdays at noon; on sundays at 5 pm", at("12:00", days=WEEKDAYS) | at("17:00", days=[SUN])),
    ("12:30 every day", at("12:30")),
    ("every 4 hours starting at midnight", every(240)),
    ("every hour pull orders from 3 shops", every(60)),
    # other US zones, converted
    ("every day at 9 am pacific", at("12:00")),
    ("every monday at 6 AM Mountain time", at("8:00", days=[MON])),
    ("every day at 7:30 pm central", at("20:30")),
    ("every friday at 10 pm PT", at("1:00", days=[SAT])),
    ("every 30 minutes from 8am to 6pm central", every(30, "9:00", "19:00")),
    ("weekdays at 9 am EST", at("9:00", days=WEEKDAYS)),
]


@pytest.mark.parametrize(("phrase", "expected"), OK_PHRASES, ids=[phrase[:50] for phrase, _ in OK_PHRASES])
def test_a_phrase_fires_exactly_at_the_times_it_describes(
    phrase: str, expected: set[tuple[int, int]]
) -> None:
    timing = read_timing(phrase)
    assert timing.status == "ok", (timing.questions, timing.reason)
    assert fires(timing.schedules) == expected
    for schedule in timing.schedules:
        assert ":" in schedule and parse(schedule).canonical == schedule  # H:MM, never cron


QUESTION_PHRASES = [
    ("every day at 4", ["4:00 AM or 4:00 PM"]),
    ("every day at 1:30", ["1:30 AM or 1:30 PM"]),
    ("at 6", ["6:00 AM or 6:00 PM"]),
    ("every hour between 9 and 5", ["5:00 AM or 5:00 PM"]),
    ("every 45 minutes", ["every 30 minutes or every hour"]),
    ("every 7 minutes", ["every 6 minutes or every 10 minutes"]),
    ("every 25 minutes", ["every 20 minutes or every 30 minutes"]),
    ("every 100 minutes", ["every 96 minutes or every 2 hours"]),
    ("every 5 hours", ["every 4 hours or every 6 hours"]),
    ("every 7 hours", ["every 6 hours or every 8 hours"]),
    ("every day at 9 UTC", ["UTC-5 in winter and UTC-4 in summer"]),
    ("at 14:00 GMT", ["no fixed Eastern time"]),
    ("at 9:00+02:00 every day", ["no fixed Eastern time"]),
    ("every day at 8 am london time", ["daylight-saving"]),
    ("every day at 9 am hawaii time", ["daylight-saving"]),
    ("10 minutes before the meeting", ["20 minutes (or more)"]),
    ("daily", ["At what time of day"]),
    ("weekly", ["Which day of the week"]),
    ("every monday", ["At what time should it run on Monday"]),
    ("between 9am and 5pm", ["How often"]),
    ("twice a day", ["At which times"]),
    ("send me an email summary", ["When should it run"]),
    ("every 15 minutes from 9 am", ["From 9:00 AM until what time"]),
    ("every day at 9 am and every saturday at 4", ["4:00 AM or 4:00 PM"]),
    ("every hour from 10 pm to 2 am", ["crosses midnight"]),
]


@pytest.mark.parametrize(("phrase", "asks"), QUESTION_PHRASES, ids=[phrase for phrase, _ in QUESTION_PHRASES])
def test_an_ambiguous_phrase_is_a_question_not_a_guess(phrase: str, asks: list[str]) -> None:
    timing = read_timing(phrase)
    assert timing.status == "question"
    assert timing.schedules == []
    text = " ".join(timing.questions)
    for words in asks:
        assert words in text, text


REJECTED_PHRASES = [
    ("every 30 seconds", "seconds"),
    ("every 10 secs", "seconds"),
    ("every second", "seconds"),
    ("every other day at 9 am", "every other day"),
    ("every 3 days at noon", "every other day"),
    ("biweekly on monday at 9", "every other day"),
    ("every second tuesday at 10 am", "every other day"),
    ("on the 1st of every month at 9 am", "days of the month"),
    ("monthly at 8 am", "days of the month"),
    ("on the last day of the month", "days of the month"),
    ("every year on new year's day", "days of the month"),
    ("on december 25 at 9 am", "one-off"),
    ("on 2026-12-01 at noon", "one-off"),
    ("tomorrow at 9 am", "one-off"),
    ("next friday at 5 pm", "one-off"),
    ("on 12/24 at 6 pm", "one-off"),
    ("one time only at 9 am", "one-off"),
]


@pytest.mark.parametrize(("phrase", "why"), REJECTED_PHRASES, ids=[phrase for phrase, _ in REJECTED_PHRASES])
def test_what_the_language_cannot_express_is_rejected_with_the_reason(phrase: str, why: str) -> None:
    timing = read_timing(phrase)
    assert timing.status == "rejected"
    assert timing.schedules == [] and timing.reason is not None and why in timing.reason


def test_the_phrase_tables_hold_at_least_sixty_phrases_of_our_own() -> None:
    assert len(OK_PHRASES) + len(QUESTION_PHRASES) + len(REJECTED_PHRASES) >= 60


@pytest.mark.parametrize(
    ("phrase", "assumed"),
    [
        ("every morning", "8:00 AM"),
        ("every evening", "6:00 PM"),
        ("nightly", "2:00 AM"),
        ("every afternoon", "2:00 PM"),
        ("every day at 9", "9:00 AM"),
        ("every day at 12", "noon"),
        ("every hour", "on the hour"),
        ("every 4 hours", "counted from midnight"),
        ("every hour during business hours", "8 AM to 7 PM"),
    ],
)
def test_a_default_is_applied_only_with_an_assumption_saying_so(phrase: str, assumed: str) -> None:
    timing = read_timing(phrase)
    assert timing.status == "ok"
    assert any(assumed in assumption for assumption in timing.assumptions), timing.assumptions


def test_an_explicit_time_needs_no_assumption() -> None:
    assert read_timing("every day at 8 AM").assumptions == []
    assert read_timing("every 15 minutes").assumptions == []
    assert read_timing("every monday at 17:00").assumptions == []


def test_business_hours_are_8_to_7_and_only_the_named_days() -> None:
    timing = read_timing("every 15 minutes during business hours on weekdays")
    assert timing.schedules == ["mon-fri 8-18:*/15", "mon-fri 19:00"]
    assert (4, minute("19:00")) in fires(timing.schedules)
    assert (4, minute("19:15")) not in fires(timing.schedules)  # nothing after the end
    assert (5, minute("12:00")) not in fires(timing.schedules)
    every_day = read_timing("every hour during business hours")
    assert any("every day" in assumption for assumption in every_day.assumptions)


def test_other_us_zones_are_converted_with_a_note_naming_the_zone() -> None:
    timing = read_timing("every day at 9 am pacific")
    assert timing.schedules == ["12:00"]
    (note,) = timing.assumptions
    assert "Pacific" in note and "9:00 AM Pacific is noon Eastern" in note and "all year" in note
    late = read_timing("every friday at 10 pm PT")
    assert late.schedules == ["sat 1:00"]  # past midnight in Eastern: the next weekday


@pytest.mark.parametrize(
    ("phrase", "lead", "interval"),
    [
        ("24 hours before their appointment", 1440, 60),
        ("2 hours before each class", 120, 30),
        ("1 hour before the reservation", 60, 15),
        ("45 minutes before the call", 45, 10),
        ("30 minutes before the visit", 30, 5),
        ("20 minutes before the meeting", 20, 5),
        ("3 hours before each delivery", 180, 30),
        ("4 hours before each shift", 240, 60),
        ("1 week before the renewal", 10080, 60),
    ],
)
def test_n_before_an_event_is_a_check_at_the_largest_interval_within_a_quarter_of_the_lead(
    phrase: str, lead: int, interval: int
) -> None:
    timing = read_timing(phrase)
    assert timing.status == "ok"
    assert timing.lookahead is not None
    assert (timing.lookahead.lead_minutes, timing.lookahead.window_minutes) == (lead, interval)
    assert fires(timing.schedules) == every(interval)
    assert interval * 4 <= lead


def test_the_reminder_from_the_docs_is_an_hourly_check_looking_24_to_25_hours_ahead() -> None:
    timing = read_timing("I want customers to get a reminder text message 24 hours before their appointment")
    assert timing.schedules == ["*:00"]
    assert timing.lookahead is not None and timing.lookahead.event == "appointment"
    assert (timing.lookahead.lead_minutes, timing.lookahead.window_minutes) == (24 * 60, 60)
    assert "24 hours to 25 hours ahead" in timing.assumptions[0]


def test_interval_rules_and_the_nearest_allowed_values() -> None:
    assert [n for n in range(1, 61) if allowed_interval(n)] == [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60]
    assert allowed_interval(90) and allowed_interval(1440) and not allowed_interval(100)
    assert nearest_allowed(45) == [30, 60]
    assert nearest_allowed(300, whole_hours=True) == [240, 360]
    assert nearest_allowed(2000) == [1440]


def test_every_n_minutes_over_the_whole_day_follows_real_time_across_dst() -> None:
    """Repetitions are written with * fields: on the fall-back day every 30 minutes runs 50 times."""
    timing = read_timing("every 30 minutes")
    assert timing.schedules == ["*:*/30"]
    assert len(parse_many(timing.schedules).fire_times_on(date(2026, 11, 1))) == 50


def test_words_are_normalized_before_reading() -> None:
    assert normalize("Every Fifteen minutes at 9 A.M.") == "every 15 minutes at 9am"
    assert singular("classes") == "class" and singular("deliveries") == "delivery"
    assert plural("class") == "classes" and plural("delivery") == "deliveries" and plural("day") == "days"


def test_a_check_before_an_event_runs_every_day_even_when_days_are_named() -> None:
    timing = read_timing("text customers 2 hours before their appointment on weekdays")
    assert fires(timing.schedules) == every(30)
    assert any("the days named do not limit it" in assumption for assumption in timing.assumptions)
