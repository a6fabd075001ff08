"""One field of a schedule (hours, minutes, or a cron field) read into a set of values.

Both languages share the list/range/step syntax but differ in detail: H:MM fields insist
that a step follow ``*`` or a range, while cron fields also take ``N/step``, names and a
bare ``*`` inside a list, exactly as cronsim does. Every field also remembers whether its
text starts with ``*``, because that flag alone changes how a schedule meets DST.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from tickwork.schedule.errors import ScheduleError


@dataclass(frozen=True)
class FieldSpec:
    """What one field accepts: its name in errors, its bounds, and the names it knows."""

    name: str  # as reported in ScheduleError.field
    noun: str  # as used in a sentence: "hour 25 is out of range"
    low: int
    high: int
    allowed: str
    cron: bool = False
    names: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FieldValue:
    """The values a field selects, and whether its text started with ``*``."""

    values: frozenset[int]
    star: bool


_UNSUPPORTED = "L, W, # and ? are cron extensions Tickwork does not support"
#: Quartz/cronsim extensions: last day (L, 5L), nearest weekday (15W, LW), nth weekday (1#2), "no value" (?).
_EXTENSION = re.compile(r"(\d+|[a-z]{3})?[lw]|lw|\?|.*#.*")


class _Reader:
    """Reads one field's text, reporting errors at positions in the whole expression."""

    def __init__(self, spec: FieldSpec, expression: str, offset: int) -> None:
        self.spec = spec
        self.expression = expression
        self.offset = offset

    def fail(self, reason: str, position: int, length: int = 1) -> ScheduleError:
        return ScheduleError(
            self.expression, self.spec.name, self.offset + position, reason, self.spec.allowed, length
        )

    def read(self, text: str) -> FieldValue:
        if text == "":
            raise self.fail(f"the {self.spec.noun} is missing", 0)
        if text == "*":
            return FieldValue(frozenset(range(self.spec.low, self.spec.high + 1)), True)
        values: set[int] = set()
        position = 0
        for part in text.split(","):
            if part == "":
                raise self.fail("a list has an empty part (two commas, or a comma at an end)", position)
            values |= self.part(part, position)
            position += len(part) + 1
        return FieldValue(frozenset(values), text.startswith("*"))

    def part(self, part: str, at: int) -> set[int]:
        spec = self.spec
        if "/" in part:
            base, step_text = part.split("/", 1)
            step = self.step(step_text, at + len(base) + 1)
            if base == "*":
                span = range(spec.low, spec.high + 1)
            elif "-" in base:
                first, last = self.range(base, at)
                # Vixie cron: a-b/s counts from a; cronsim reads a-a/s as a/s, see the tests.
                span = range(first, last + 1)
            elif spec.cron:
                span = range(self.number(base, at), spec.high + 1)
            elif base == "":
                raise self.fail("a step needs * or a range before it, e.g. */15 or 5-59/15", at)
            else:
                raise self.fail(
                    f"a step needs * or a range before it, e.g. {base}-{spec.high}/{step_text} "
                    f"(H:MM does not read {part} as cron does)",
                    at,
                    len(part),
                )
            return set(span[::step])
        if part == "*":
            if spec.cron:
                return set(range(spec.low, spec.high + 1))
            raise self.fail("* must be the whole field (or */step inside a list)", at)
        if "-" in part:
            first, last = self.range(part, at)
            return set(range(first, last + 1))
        return {self.number(part, at)}

    def range(self, text: str, at: int) -> tuple[int, int]:
        first_text, last_text = text.split("-", 1)
        first = self.number(first_text, at)
        last = self.number(last_text, at + len(first_text) + 1)
        if last < first:
            spec = self.spec
            wrap = (
                f", or {first_text}-{spec.high},{spec.low}-{last_text} to wrap around"
                if spec.low < last and first_text.isdigit() and last_text.isdigit()
                else ""
            )
            raise self.fail(
                f"the range {text} runs backwards; write the smaller end first "
                f"({last_text}-{first_text}){wrap}",
                at,
                len(text),
            )
        return first, last

    def step(self, text: str, at: int) -> int:
        if not text.isdigit() or not text.isascii():
            raise self.fail(f'the step "{text}" is not a whole number', at, len(text))
        step = int(text)
        if step == 0:
            raise self.fail("a step of 0 never moves on; use 1 or more", at, len(text))
        size = self.spec.high - self.spec.low + 1
        if not self.spec.cron and step > size:
            raise self.fail(
                f"a step of {step} is longer than the whole field (at most {size})", at, len(text)
            )
        return step

    def number(self, text: str, at: int) -> int:
        spec = self.spec
        if text.isdigit() and text.isascii():
            value = int(text)
            if not spec.low <= value <= spec.high:
                raise self.fail(f"{spec.noun} {text} is out of range", at, len(text))
            return value
        name = text.lower()
        if name in spec.names:
            return spec.names[name]
        if spec.cron and _EXTENSION.fullmatch(name):
            raise self.fail(f'"{text}" is not supported: {_UNSUPPORTED}', at, len(text))
        if text == "":
            raise self.fail("a number is missing (a dash or slash with nothing beside it)", at)
        raise self.fail(f'"{text}" is not a valid {spec.noun}', at, len(text))


def read_field(text: str, spec: FieldSpec, expression: str, offset: int) -> FieldValue:
    """Read ``text`` (found at ``offset`` in ``expression``) as one field of ``spec``."""
    return _Reader(spec, expression, offset).read(text)


HOUR = FieldSpec("hour", "hour", 0, 23, "0-23")
MINUTE = FieldSpec("minute", "minute", 0, 59, "0-59")
