"""English timing to schedules in the H:MM language: the rules docs/builder.md documents.

``read_timing("every 15 minutes during business hours on weekdays")`` gives the schedules
``mon-fri 8-18:*/15`` and ``mon-fri 19:00`` (both ends of a range are included). Where the
phrase is ambiguous the result holds questions instead of schedules; where the language
cannot express it, a rejection with the reason. A default (``every morning`` is 8:00) is only
ever applied together with an entry in ``assumptions``: the builder never guesses silently.

The reading works on a set of firing times per group of weekdays (minutes since midnight,
Eastern), so conversions between zones and inclusive ranges are plain arithmetic; the set
is turned into schedule strings at the end, and every string is checked by the real parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tickwork.schedule import parse
from tickwork.schedule.describe import clock
from tickwork.schedule.render import DAY_NAMES, render_days, render_field, render_minute

DAY_MINUTES = 1440
ALL_DAYS = frozenset(range(7))
WEEKDAYS = frozenset(range(5))
WEEKEND = frozenset({5, 6})
BUSINESS_HOURS = (8 * 60, 19 * 60)  # 8 AM to 7 PM, both ends included
LOOKAHEAD_INTERVALS = (60, 30, 15, 10, 5)  # minutes, largest first
MIN_LEAD_MINUTES = 4 * LOOKAHEAD_INTERVALS[-1]

#: Defaults for a part of the day named without a time: (minute of day, words for the assumption).
PART_OF_DAY_DEFAULTS = {
    "morning": (8 * 60, "8:00 AM Eastern"),
    "lunchtime": (12 * 60, "noon Eastern"),
    "afternoon": (14 * 60, "2:00 PM Eastern"),
    "evening": (18 * 60, "6:00 PM Eastern"),
    "night": (2 * 60, "2:00 AM Eastern, a quiet hour"),
}
#: How a part of the day settles a bare hour: False means AM, True PM.
PART_OF_DAY_PM = {"morning": False, "afternoon": True, "evening": True, "lunchtime": True}

#: US zones that change their clocks on the same dates as Eastern: minutes to add to reach Eastern.
US_ZONES = {
    "pacific": ("Pacific", 180),
    "pt": ("Pacific", 180),
    "pst": ("Pacific", 180),
    "pdt": ("Pacific", 180),
    "mountain": ("Mountain", 120),
    "mst": ("Mountain", 120),
    "mdt": ("Mountain", 120),
    "central": ("Central", 60),
    "cst": ("Central", 60),
    "cdt": ("Central", 60),
}
_DAY_WORDS = {
    "monday": 0, "mondays": 0, "mon": 0,
    "tuesday": 1, "tuesdays": 1, "tue": 1, "tues": 1,
    "wednesday": 2, "wednesdays": 2, "wed": 2,
    "thursday": 3, "thursdays": 3, "thu": 3, "thur": 3, "thurs": 3,
    "friday": 4, "fridays": 4, "fri": 4,
    "saturday": 5, "saturdays": 5, "sat": 5,
    "sunday": 6, "sundays": 6, "sun": 6,
}  # fmt: skip
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "twenty-four": 24, "thirty": 30, "forty-five": 45, "forty five": 45, "sixty": 60,
    "ninety": 90,
}  # fmt: skip
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DAY = r"(?:" + "|".join(sorted(_DAY_WORDS, key=len, reverse=True)) + r")"
_TIME = r"(?:\d{1,2}(?::\d{2})?(?:\s*(?:am|pm))?|noon|midnight)"
_UNIT_MINUTES = {"minute": 1, "min": 1, "hour": 60, "hr": 60, "day": DAY_MINUTES, "week": 7 * DAY_MINUTES}


@dataclass(frozen=True)
class Lookahead:
    """A "N before <event>" check: each run looks at [slot + lead, slot + lead + window)."""

    event: str
    lead_minutes: int
    window_minutes: int


@dataclass(frozen=True)
class Firing:
    """Firing times on a group of weekdays: minutes since Eastern midnight.

    ``interval`` marks a repetition ("every 15 minutes"), written with ``*`` fields so that it
    follows real time across DST; other times are fixed-time (DESIGN.md section 4).
    """

    days: frozenset[int]
    minutes: frozenset[int]
    interval: bool


@dataclass
class Timing:
    """What the timing words of a description came to."""

    schedules: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    reason: str | None = None  # set when the timing is rejected
    lookahead: Lookahead | None = None

    @property
    def status(self) -> str:
        if self.reason is not None:
            return "rejected"
        return "question" if self.questions or not self.schedules else "ok"


class _Question(Exception):
    """Raised while reading to stop at the first thing only the user can settle."""


# --- entry point ---------------------------------------------------------------------------------


def read_timing(description: str) -> Timing:
    """The schedules a description asks for, or the questions or rejection it leads to."""
    text = normalize(description)
    timing = Timing()
    rejection = rejection_reason(text)
    if rejection is not None:
        timing.reason = rejection
        return timing
    zone_question = foreign_zone_question(text)
    if zone_question is not None:
        timing.questions.append(zone_question)
        return timing
    try:
        firings = _read_clauses(text, timing)
    except _Question as question:
        timing.questions.append(str(question))
        return timing
    if timing.questions or not firings:
        return timing
    if timing.lookahead is None:
        firings = _convert_zone(text, firings, timing)
    timing.schedules = render(firings)
    return timing


def normalize(description: str) -> str:
    """Lower case, one spelling per idea: "a.m." is "am", number words are digits, dashes are "-"."""
    text = description.lower().replace("\u2013", "-").replace("\u2014", "-").replace("\u2019", "'")
    text = re.sub(r"\b([ap])\.\s?m\.?", r"\1m", text)
    text = re.sub(r"(\d)\s*([ap])m\b", r"\1\2m", text)
    text = text.replace("o'clock", "")
    for word, number in sorted(_NUMBER_WORDS.items(), key=lambda item: -len(item[0])):
        text = re.sub(rf"\b{word}\b", str(number), text)
    text = re.sub(r"(?<!the )\bhalf\s+(?:an\s+)?hour\b", "30 minutes", text)
    text = re.sub(r"(?<!the )\bquarter\s+(?:of\s+an\s+)?hour\b", "15 minutes", text)
    text = re.sub(r"\ban?\s+(minute|hour|day|week)\s+(before|ahead|prior|in advance)\b", r"1 \1 \2", text)
    text = re.sub(r"\b(\d+)\s*-\s*(minute|hour|day|week)\b", r"\1 \2", text)  # "24-hour" lead times
    text = re.sub(r"\b(\d{1,2})\.([0-5]\d)(?=\s*[ap]m\b)", r"\1:\2", text)  # 8.30 am
    text = re.sub(r"\bat (\d{1,2})\.([0-5]\d)\b", r"at \1:\2", text)  # at 17.45
    text = re.sub(r"\bhalf past (\d{1,2})\b", r"\1:30", text)
    text = re.sub(r"\bquarter past (\d{1,2})\b", r"\1:15", text)
    text = re.sub(r"\bquarter to (\d{1,2})\b", lambda m: f"{(int(m.group(1)) - 1) % 12 or 12}:45", text)
    text = re.sub(r"\b12\s*noon\b", "noon", text)
    text = re.sub(r"\b12\s*midnight\b", "midnight", text)
    return re.sub(r"\s+", " ", text).strip()


# --- what the language cannot express ----------------------------------------------------------------


def rejection_reason(text: str) -> str | None:
    """Why the timing cannot be written as a schedule, or None when it can."""
    if re.search(
        r"\bevery\s+(?:other|second|alternate|2nd)\s+(?:day|week|" + _DAY + r")|\bevery\s+([2-9]|\d{2,})\s+"
        r"(?:days|weeks)\b|\b(?:bi-?weekly|fortnightly|alternate days)\b",
        text,
    ):
        return (
            "schedules repeat on days of the week, and every other day (or week) falls on different "
            "weekdays each time; pick days of the week instead, e.g. mon,wed,fri"
        )
    if re.search(r"\b(?:\d+\s*)?(?:seconds|secs?)\b|\b\d+\s*second\b|\b(?:every|per|each) second\b", text):
        return (
            "schedules count in whole minutes: the shortest interval is every minute, so a timing in "
            "seconds cannot be expressed"
        )
    if re.search(
        r"\b\d{1,2}(?:st|nd|rd|th)\b|\bday of (?:the |each |every )?month|\b(?:monthly|quarterly|yearly|"
        r"annually)\b|\b(?:every|each|once a) (?:month|quarter|year)\b|\b(?:end|start|beginning) of "
        r"(?:the |each |every )?month|\b(?:first|last) (?:\w+ )?of (?:the |each |every )?month",
        text,
    ):
        return (
            "the schedule language has days of the week but no days of the month (or months), so a "
            "monthly or yearly timing cannot be expressed"
        )
    if re.search(
        rf"\b(?:{_MONTHS})\.? \d{{1,2}}\b|\b\d{{4}}-\d{{2}}-\d{{2}}\b"
        r"|\b(?!24/7\b)\d{1,2}/\d{1,2}(?:/\d{2,4})?\b"
        r"|^tomorrow\b|\btomorrow (?:at|morning|afternoon|evening|night|only)\b"
        r"|\b(?:run|send|do|once) (?:it )?tomorrow\b|\btonight\b"
        r"|\bnext (?:week|month|year|" + _DAY + r")\b|\b(?:just )?once on\b"
        r"|\b(?:one|1) time only\b|\bonly once\b",
        text,
    ):
        return (
            "a schedule repeats, so a one-off date or time cannot be expressed; describe how often it "
            "should run instead (every day at 9 AM, every Monday, ...)"
        )
    return None


def foreign_zone_question(text: str) -> str | None:
    """A question when the phrase names a zone with no fixed Eastern equivalent (UTC, offsets...)."""
    fixed = re.search(
        r"\b(?:utc|gmt|zulu)\b(?:\s*[+-]\s*\d{1,2}(?::?\d{2})?)?|\d(?::\d{2})?\s*z\b|"
        r"(?<=\d)\s*[+-]\d{2}:?\d{2}\b",
        text,
    )
    if fixed:
        return (
            f"Schedules run on Eastern time, which is UTC-5 in winter and UTC-4 in summer, so no fixed "
            f'Eastern time matches "{fixed.group(0).strip()}" all year. Which Eastern time should it run at '
            "(for example 9:00 AM Eastern, which is 14:00 UTC in winter and 13:00 UTC in summer)?"
        )
    other = re.search(
        r"\b(hawaii|hst|alaska|akst|akdt|arizona|london|bst|cet|cest|paris|berlin|europe|ist|india|jst|"
        r"tokyo|aest|sydney)\b",
        text,
    )
    if other:
        return (
            f'Schedules run on Eastern time, and "{other.group(1)}" time keeps a different daylight-saving '
            "calendar (or none), so no fixed Eastern time matches it all year. Which Eastern time should "
            "it run at?"
        )
    return None


# --- reading the timing ----------------------------------------------------------------------------


_CLAUSE_BREAK = re.compile(r"\s*[,;]?\s*\band\s+(?=(?:every|each|on)\b)|\s*;\s*")
_NO_TIMING = "When should it run?"


def _read_clauses(text: str, timing: Timing) -> list[Firing]:
    """The union of what each clause asks for: "every weekday at 9 and every saturday at 10".

    A clause without timing words ("... and email the owner") adds nothing; a clause that
    leads to a question makes the whole description a question.
    """
    clauses = [clause for clause in _CLAUSE_BREAK.split(text) if clause.strip()]
    if len(clauses) < 2 or _BEFORE.search(text) or _DAY_BEFORE.search(text):
        return _read(text, timing)
    firings: list[Firing] = []
    for clause in clauses:
        try:
            firings += _read(clause, timing)
        except _Question as question:
            if not str(question).startswith(_NO_TIMING):
                raise
    if not firings:
        raise _Question(_no_timing_question())
    return firings


def _no_timing_question() -> str:
    return (
        f"{_NO_TIMING} For example: every day at 8 AM, every 15 minutes during business hours, "
        "or every Monday at 9 AM (Eastern time)."
    )


def _read(text: str, timing: Timing) -> list[Firing]:
    """The firing times one phrase asks for (before any zone conversion)."""
    lookahead = _lookahead(text, timing)
    if lookahead is not None:
        if read_days(text) is not None:
            timing.assumptions.append(
                "the check runs every day, so that no event is missed; the days named do not limit it"
            )
        return lookahead
    days = read_days(text)
    every = _interval(text, timing)
    window = _window(text, timing)
    if every is not None:
        step, offset, hour_phrased = every
        if window is None:
            _no_open_ended_start(text, timing)
        start, end = window if window is not None else (0, DAY_MINUTES - 1)
        minutes = frozenset(t for t in range(start, end + 1) if (t - offset) % step == 0)
        if not minutes:
            raise _Question(
                f"No run of every {_every_words(step)} falls between {clock(*divmod(start, 60))} and "
                f"{clock(*divmod(end, 60))}. Which times should it run at?"
            )
        if hour_phrased and offset == 0 and not re.search(r"\bon the hour\b|:00\b", text):
            counted = ", counted from midnight" if step > 60 else ""
            timing.assumptions.append(f"every {_every_words(step)} runs on the hour{counted}")
        return [Firing(days or ALL_DAYS, minutes, interval=True)]
    times = _clock_times(text, timing)
    if times:
        if window is not None:
            raise _Question(
                "The description gives both a time range and fixed times. Should it run at the "
                "times, or repeatedly within the range (and how often)?"
            )
        _weekly_needs_a_day(text, days)
        return [Firing(days or ALL_DAYS, frozenset(times), interval=False)]
    if window is not None:
        start, end = window
        raise _Question(
            f"How often should it run between {clock(*divmod(start, 60))} and {clock(*divmod(end, 60))}: "
            "every 15 minutes, every 30 minutes, every hour?"
        )
    parts = parts_of_day(text)
    if parts:
        _weekly_needs_a_day(text, days)
        for part in parts:
            timing.assumptions.append(
                f'"{part}" read as {PART_OF_DAY_DEFAULTS[part][1]}; name a time to change it'
            )
        minutes = frozenset(PART_OF_DAY_DEFAULTS[part][0] for part in parts)
        return [Firing(days or ALL_DAYS, minutes, interval=False)]
    _no_open_ended_start(text, timing)
    if re.search(
        r"\b\d+ times (?:a|per|each) (?:day|hour)\b|\btwice (?:a|per|each) day\b|\btwice daily\b", text
    ):
        raise _Question("At which times of day should it run (Eastern), e.g. 9:00 AM and 5:00 PM?")
    if days:
        names = ", ".join(_day_name(day) for day in sorted(days))
        raise _Question(f"At what time should it run on {names} (Eastern)?")
    if re.search(r"\b(?:weekly|every week|each week|once a week)\b", text):
        raise _Question("Which day of the week, and at what time (Eastern), should it run?")
    if re.search(r"\b(?:daily|every day|each day|once a day|per day)\b", text):
        raise _Question("At what time of day should it run each day (Eastern), e.g. 8:00 AM?")
    raise _Question(_no_timing_question())


def _no_open_ended_start(text: str, timing: Timing) -> None:
    """ "every 15 minutes from 9 AM" gives no end: ask for it (a start at midnight needs none)."""
    match = _START_ONLY.search(text)
    if match is None:
        return
    start = _time_value(match.group(1).strip(), text, timing)
    if start:
        raise _Question(f"From {clock(*divmod(start, 60))} until what time should it run?")


def _weekly_needs_a_day(text: str, days: frozenset[int] | None) -> None:
    if days is None and re.search(r"\b(?:weekly|every week|each week|once a week)\b", text):
        raise _Question("Which day of the week should it run on?")


# --- "N before <event>" ------------------------------------------------------------------------------

_DETERMINERS = (
    r"(?:(?:the|their|each|every|an?|his|her|your|our|its|my|all|any|scheduled|upcoming|"
    r"customers?'?s?|clients?'?s?|users?'?s?|patients?'?s?)\s+)*"
)
_BEFORE = re.compile(
    r"\b(\d+)\s*(minutes?|mins?|hours?|hrs?|days?|weeks?)\s+(?:before|ahead of|prior to|in advance of)\s+"
    + _DETERMINERS
    + r"([a-z][a-z-]*)"
)
_DAY_BEFORE = re.compile(r"\b(?:the )?day before\s+" + _DETERMINERS + r"([a-z][a-z-]*)")


def _lookahead(text: str, timing: Timing) -> list[Firing] | None:
    """A recurring check for "N before <event>": the interval is the largest of 60, 30, 15, 10 and 5
    minutes that is at most a quarter of the lead time."""
    match = _BEFORE.search(text)
    if match is not None:
        unit = match.group(2).rstrip("s")
        lead = int(match.group(1)) * _UNIT_MINUTES["min" if unit == "min" else unit]
        event = match.group(3)
    else:
        day_before = _DAY_BEFORE.search(text)
        if day_before is None:
            return None
        lead, event = DAY_MINUTES, day_before.group(1)
    interval = next((step for step in LOOKAHEAD_INTERVALS if step * 4 <= lead), None)
    if interval is None:
        raise _Question(
            f"A reminder {_duration(lead)} ahead would need a check more often than every 5 minutes, "
            f"the shortest check the builder sets up. Remind {MIN_LEAD_MINUTES} minutes (or more) before "
            "instead?"
        )
    event = singular(event)
    timing.lookahead = Lookahead(event=event, lead_minutes=lead, window_minutes=interval)
    timing.assumptions.append(
        f"checked every {_every_words(interval)}: each check reminds the {plural(event)} starting "
        f"{_duration(lead)} to {_duration(lead + interval)} ahead, so each is reminded once"
    )
    return [Firing(ALL_DAYS, frozenset(range(0, DAY_MINUTES, interval)), interval=True)]


def singular(noun: str) -> str:
    """appointments -> appointment, classes -> class, deliveries -> delivery."""
    if noun.endswith("ies") and len(noun) > 4:
        return noun[:-3] + "y"
    if noun.endswith(("sses", "ches", "shes", "xes")):
        return noun[:-2]
    if noun.endswith("s") and not noun.endswith("ss"):
        return noun[:-1]
    return noun


def plural(noun: str) -> str:
    """appointment -> appointments, class -> classes, delivery -> deliveries."""
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "o", "u"):
        return noun[:-1] + "ies"
    if noun.endswith(("s", "ch", "sh", "x")):
        return noun + "es"
    return noun + "s"


# --- days ------------------------------------------------------------------------------------------


def read_days(text: str) -> frozenset[int] | None:
    """The weekdays the phrase names (Monday = 0), or None when it names none (every day)."""
    chosen: set[int] = set()
    found = False
    if re.search(
        r"\b(?:weekdays?|business days?|working days?|work days?|workdays?)\b|\bexcept (?:on )?weekends?\b|"
        r"\b(?:excluding|not on) weekends?\b",
        text,
    ):
        chosen |= WEEKDAYS
        found = True
    elif re.search(r"\bweekends?\b", text):
        chosen |= WEEKEND
        found = True
    ranges = re.finditer(rf"\b({_DAY})\s*(?:-|to|through|thru|until|till)\s*({_DAY})\b", text)
    covered: list[tuple[int, int]] = []
    for match in ranges:
        first, last = _DAY_WORDS[match.group(1)], _DAY_WORDS[match.group(2)]
        chosen |= {(first + step) % 7 for step in range((last - first) % 7 + 1)}
        covered.append(match.span())
        found = True
    excluded: set[int] = set()
    for match in re.finditer(rf"\b({_DAY})\b", text):
        if any(start <= match.start() < end for start, end in covered):
            continue
        before = text[max(0, match.start() - 20) : match.start()]
        if re.search(r"\b(?:except|but not|excluding|not on)\b[\w ,]*$", before):
            excluded.add(_DAY_WORDS[match.group(1)])
            continue
        chosen.add(_DAY_WORDS[match.group(1)])
        found = True
    if excluded:
        chosen = (chosen or set(ALL_DAYS)) - excluded
        found = True
    return frozenset(chosen) if found else None


def _day_name(day: int) -> str:
    return ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")[day]


# --- intervals -------------------------------------------------------------------------------------


def allowed_interval(minutes: int) -> bool:
    """Every N minutes is allowed when N divides 60, or N is 60 or more and divides 1,440."""
    return minutes >= 1 and (60 % minutes == 0 if minutes < 60 else DAY_MINUTES % minutes == 0)


def nearest_allowed(minutes: int, whole_hours: bool = False) -> list[int]:
    """The allowed intervals just below and just above ``minutes`` (whole hours only if asked)."""
    allowed = [
        n for n in range(1, DAY_MINUTES + 1) if allowed_interval(n) and (not whole_hours or n % 60 == 0)
    ]
    below = [n for n in allowed if n < minutes]
    above = [n for n in allowed if n > minutes]
    return ([below[-1]] if below else []) + ([above[0]] if above else [])


def _interval(text: str, timing: Timing) -> tuple[int, int, bool] | None:
    """(every N minutes, minute offset, phrased in hours) for a repetition, or None."""
    offset = _minute_past_the_hour(text)
    match = re.search(r"\bevery (\d+) ?(minutes?|mins?|m|hours?|hrs?|h)\b", text)
    if match is not None:
        count, unit = int(match.group(1)), match.group(2)
        hour_phrased = unit.startswith("h")
        step = count * 60 if hour_phrased else count
    elif re.search(r"\bevery minute\b|\beach minute\b|\bonce a minute\b|\bper minute\b", text):
        step, hour_phrased = 1, False
    elif re.search(r"\b(?:every|each|once an?|once per) hour\b|\bhourly\b", text):
        step, hour_phrased = 60, True
    elif re.search(r"\btwice an hour\b", text):
        step, hour_phrased = 30, False
    elif re.search(r"\b4 times an hour\b", text):
        step, hour_phrased = 15, False
    elif offset is not None and re.search(
        r"\b(?:every|each) hour\b|\bpast (?:the|each|every) hour\b|\bon the half hour\b", text
    ):
        step, hour_phrased = 60, True
    else:
        return None
    if step == 0:
        raise _Question("Every 0 minutes is not an interval. How often should it run?")
    if not allowed_interval(step):
        offers = nearest_allowed(step, whole_hours=hour_phrased)
        words = " or ".join(f"every {_every_words(n)}" for n in offers)
        raise _Question(
            f"Every {_every_words(step)} does not divide the day evenly (intervals must divide 60 "
            f"minutes, or be whole parts of the 1,440-minute day), so the runs would drift. "
            f"Run {words} instead?"
        )
    if offset is not None and step < 60:
        raise _Question(
            f"Every {_every_words(step)} and {offset} minutes past the hour disagree. Which one is meant?"
        )
    return step, offset or 0, hour_phrased


def _minute_past_the_hour(text: str) -> int | None:
    """ ":15 past every hour", "at 15 minutes past the hour", "on the half hour"."""
    match = re.search(
        r"\bat :(\d{2})\b|\b(?:at )?(\d{1,2}) (?:minutes? )?past(?: (?:the|each|every) hour)?\b(?! ?\d)", text
    )
    if match is not None:
        value = int(match.group(1) or match.group(2))
        if value > 59:
            raise _Question(f"{value} minutes past the hour is not a minute of the hour. Which minute?")
        return value
    if re.search(r"\bon the half hour\b|\bhalf past (?:the|each|every) hour\b", text):
        return 30
    if re.search(r"\bquarter past (?:the|each|every) hour\b", text):
        return 15
    return None


def _duration(minutes: int) -> str:
    """A lead time in words: "24 hours", "1 hour", "90 minutes"."""
    hours, rest = divmod(minutes, 60)
    hour_words = "" if not hours else "1 hour" if hours == 1 else f"{hours} hours"
    minute_words = "" if not rest else "1 minute" if rest == 1 else f"{rest} minutes"
    return " ".join(words for words in (hour_words, minute_words) if words)


def _every_words(minutes: int) -> str:
    """What follows "every": "minute", "15 minutes", "hour", "2 hours", "day"."""
    if minutes == DAY_MINUTES:
        return "day"
    if minutes % 60 == 0:
        hours = minutes // 60
        return "hour" if hours == 1 else f"{hours} hours"
    return "minute" if minutes == 1 else f"{minutes} minutes"


# --- times of day ----------------------------------------------------------------------------------


_RANGE = re.compile(rf"\b(?:between|from)\s+({_TIME})\s*(?:and|to|until|till|through|-)\s*({_TIME})(?![\d:])")
_SHORT_RANGE = re.compile(rf"(?<![\w:])(\d{{1,2}}(?::\d{{2}})?\s*(?:am|pm))\s*-\s*({_TIME})(?![\d:])")
_NOT_A_TIME = r"(?!\s*(?:minutes?|mins?|hours?|hrs?|days?|weeks?|%|percent|records?|items?|rows?))"
_START_ONLY = re.compile(
    rf"\b(?:from|starting(?: at| from)?|beginning at|after)\s+({_TIME})(?![\d:])"
    r"(?!\s+(?!am\b|pm\b|to\b|and\b|until\b|till\b|on\b|every\b|each\b|daily\b)[a-z])"
)


def _window(text: str, timing: Timing) -> tuple[int, int] | None:
    """A range of the day, both ends included: "between X and Y", "from X to Y", business hours."""
    if re.search(r"\b(?:business|working|office|work) hours\b", text):
        timing.assumptions.append(
            "business hours are 8 AM to 7 PM Eastern, both included"
            + ("" if read_days(text) else ", every day (name days, e.g. on weekdays, to limit them)")
        )
        return BUSINESS_HOURS
    match = _RANGE.search(text) or _SHORT_RANGE.search(text)
    if match is None:
        return None
    start = _time_value(match.group(1).strip(), text, timing)
    end = _time_value(match.group(2).strip(), text, timing)
    if start > end:
        raise _Question(
            f"The range {clock(*divmod(start, 60))} to {clock(*divmod(end, 60))} crosses midnight. Should "
            "it run overnight, or did you mean another end time?"
        )
    return start, end


def _clock_times(text: str, timing: Timing) -> list[int]:
    """Times named with "at" (or with AM/PM anywhere): 8 AM, 8:30, 17:00, noon, midnight, "at 9 and 5"."""
    found: list[int] = []
    text = _SHORT_RANGE.sub(" ", _RANGE.sub(" ", text))
    pattern = rf"\bat\s+({_TIME}(?:\s*(?:,|and|&)\s*{_TIME})*)(?![\d:]){_NOT_A_TIME}"
    for match in re.finditer(pattern, text):
        for part in re.split(r"\s*(?:,|and|&)\s*", match.group(1)):
            if part.strip():
                found.append(_time_value(part.strip(), text, timing))
    if not found:
        for match in re.finditer(
            r"(?<![\w:/])(\d{1,2}(?::\d{2})?\s*(?:am|pm)|\d{1,2}:\d{2}|noon|midnight)\b", text
        ):
            found.append(_time_value(match.group(1), text, timing))
    return sorted(set(found))


_PARTS_OF_DAY = {
    "morning": r"\bmornings?\b",
    "lunchtime": r"\b(?:lunchtime|lunch time|midday)\b",
    "afternoon": r"\bafternoons?\b",
    "evening": r"\bevenings?\b",
    "night": r"\b(?:nightly|every night|each night|at night|overnight)\b",
}


def parts_of_day(text: str) -> list[str]:
    """The parts of the day the phrase names ("every morning and evening"), in the day's order."""
    return [part for part, pattern in _PARTS_OF_DAY.items() if re.search(pattern, text)]


def _part_of_day(text: str) -> str | None:
    """The one part of the day that settles a bare hour, or None when none or several are named."""
    parts = parts_of_day(text)
    return parts[0] if len(parts) == 1 else None


def _time_value(part: str, text: str, timing: Timing | None) -> int:
    """A time as minutes since midnight, by the bare-hour rule: 7-11 are AM, 12 is noon, 1-6 ask."""
    if part == "noon":
        return 12 * 60
    if part == "midnight":
        return 0
    match = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?", part)
    if match is None:
        raise _Question(f'"{part}" is not a time the builder can read. At what time should it run?')
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), match.group(3)
    if minute > 59:
        raise _Question(f'"{part}" is not a time of day. At what time should it run?')
    if half is not None:
        if not 1 <= hour <= 12:
            raise _Question(f'"{part}" is not a time of day. At what time should it run?')
        return (hour % 12 + (12 if half == "pm" else 0)) * 60 + minute
    if hour == 0 or 13 <= hour <= 23:
        return hour * 60 + minute
    if hour > 23:
        raise _Question(f'"{part}" is not a time of day. At what time should it run?')
    part_of_day = _part_of_day(text)
    if part_of_day == "night":  # 6-11 in the evening, 12 is midnight, 1-5 the small hours
        return ((hour + 12) % 24 if 6 <= hour <= 11 else hour % 12) * 60 + minute
    if part_of_day in PART_OF_DAY_PM:
        pm = PART_OF_DAY_PM[part_of_day]
        return (hour % 12 + (12 if pm else 0)) * 60 + minute
    shown = f"{hour}:{minute:02d}"
    if 7 <= hour <= 11:
        if timing is not None:
            timing.assumptions.append(f"{shown} read as {clock(hour, minute)} (a bare 7 to 11 is morning)")
        return hour * 60 + minute
    if hour == 12:
        if timing is not None:
            timing.assumptions.append(f"{shown} read as {clock(12, minute)} (a bare 12 is noon)")
        return 12 * 60 + minute
    raise _Question(f"Did you mean {clock(hour, minute)} or {clock(hour + 12, minute)}?")


# --- zones -----------------------------------------------------------------------------------------


def _convert_zone(text: str, firings: list[Firing], timing: Timing) -> list[Firing]:
    """Firing times named in Pacific, Mountain or Central time, moved to Eastern (with a note).

    These zones change clocks on the same dates as Eastern, so the difference holds all year.
    A time pushed past midnight moves to the next weekday.
    """
    match = re.search(r"\b(" + "|".join(US_ZONES) + r")\b(?: time)?", text)
    if match is None:
        if re.search(r"\b(?:est|edt)\b", text):
            timing.assumptions.append("EST/EDT read as Eastern time, which changes with daylight saving")
        return firings
    zone, shift = US_ZONES[match.group(1)]
    converted: list[Firing] = []
    for firing in firings:
        same_day = frozenset(t + shift for t in firing.minutes if t + shift < DAY_MINUTES)
        next_day = frozenset(t + shift - DAY_MINUTES for t in firing.minutes if t + shift >= DAY_MINUTES)
        if same_day:
            converted.append(Firing(firing.days, same_day, firing.interval))
        if next_day:
            converted.append(Firing(frozenset((d + 1) % 7 for d in firing.days), next_day, firing.interval))
    example = min(firings[0].minutes)
    hours = shift // 60
    timing.assumptions.append(
        f"times given in {zone} time were converted to Eastern, {hours} hour{'s' if hours > 1 else ''} "
        f"ahead all year (both zones change clocks on the same dates): {clock(*divmod(example, 60))} "
        f"{zone} is {clock(*divmod((example + shift) % DAY_MINUTES, 60))} Eastern"
    )
    return converted


# --- firing times to schedule strings --------------------------------------------------------------


def render(firings: list[Firing]) -> list[str]:
    """Schedule strings (canonical H:MM forms) whose union fires at exactly these times.

    Times are grouped by hour (the hours sharing one set of minutes make one schedule) or by
    minute, whichever needs fewer schedules. Each string is parsed back as a check.
    """
    schedules: list[str] = []
    for firing in _merge_days(firings):
        by_hour: dict[int, set[int]] = {}
        for t in firing.minutes:
            by_hour.setdefault(t // 60, set()).add(t % 60)
        hour_groups: dict[frozenset[int], set[int]] = {}
        for hour, minutes in by_hour.items():
            hour_groups.setdefault(frozenset(minutes), set()).add(hour)
        by_minute: dict[int, set[int]] = {}
        for t in firing.minutes:
            by_minute.setdefault(t % 60, set()).add(t // 60)
        minute_groups: dict[frozenset[int], set[int]] = {}
        for minute, hours in by_minute.items():
            minute_groups.setdefault(frozenset(hours), set()).add(minute)
        groups: list[tuple[frozenset[int], frozenset[int]]]
        if len(minute_groups) < len(hour_groups):
            groups = [(hours, frozenset(minutes)) for hours, minutes in minute_groups.items()]
        else:
            groups = [(frozenset(hours), minutes) for minutes, hours in hour_groups.items()]
        for hour_set, minute_set in sorted(groups, key=lambda group: (min(group[0]), min(group[1]))):
            schedules.append(_schedule_text(firing.days, hour_set, minute_set, firing.interval))
    return schedules


def _merge_days(firings: list[Firing]) -> list[Firing]:
    """Groups of one kind on the same days become one; then those with the same times on different days."""
    same_days: dict[tuple[frozenset[int], bool], set[int]] = {}
    for firing in firings:
        same_days.setdefault((firing.days, firing.interval), set()).update(firing.minutes)
    merged: dict[tuple[frozenset[int], bool], set[int]] = {}
    for (days, interval), minutes in same_days.items():
        merged.setdefault((frozenset(minutes), interval), set()).update(days)
    return [Firing(frozenset(days), minutes, interval) for (minutes, interval), days in merged.items()]


def _progression_from_zero(values: frozenset[int], high: int) -> bool:
    """Whether values are exactly 0, s, 2s, ... up to ``high`` for some step s."""
    ordered = sorted(values)
    if ordered[0] != 0:
        return False
    step = ordered[1] if len(ordered) > 1 else high + 1
    return ordered == list(range(0, high + 1, step))


def _schedule_text(
    days: frozenset[int], hours: frozenset[int], minutes: frozenset[int], interval: bool
) -> str:
    hours_star = interval and _progression_from_zero(hours, 23) and len(hours) > 1
    minutes_star = interval and _progression_from_zero(minutes, 59) and len(minutes) > 1
    hour_field = render_field(hours, hours_star, 0, 23)
    minute_field = render_minute(minutes, minutes_star)
    prefix = "" if days == ALL_DAYS else render_days(days) + " "
    text = f"{prefix}{hour_field}:{minute_field}"
    return parse(text).canonical


__all__ = ["DAY_NAMES", "Lookahead", "Timing", "read_timing", "render"]
