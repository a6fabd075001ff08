"""Validation of a bundle's ``app.toml``: every problem is collected, each with its key path.

The checks follow DESIGN.md section 3. A value is accepted only with the exact type the
manifest format documents (``credits = true`` or ``credits = 2.5`` is not a whole number).
"""

from __future__ import annotations

import datetime as dt
import difflib
import keyword
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from tickwork.bundles.model import CatchUp, JobSpec, Overlap, Problem
from tickwork.schedule import ScheduleError, ScheduleSet, parse_many

ROOT_KEYS = ("name", "description", "jobs")
JOB_KEYS = ("name", "schedule", "credits", "timeout", "overlap", "catch_up", "retries", "params")
OVERLAP_POLICIES: tuple[Overlap, ...] = ("skip", "allow")
CATCH_UP_POLICIES: tuple[CatchUp, ...] = ("latest", "all", "none")

CREDITS_RANGE = (1, 10)  # base credits per execution (DESIGN.md section 7)
TIMEOUT_RANGE = (1, 300)  # seconds; a job is a short task, long work is split into batches
RETRIES_RANGE = (0, 5)  # attempts after a failure
DEFAULT_TIMEOUT = 300
DEFAULT_OVERLAP: Overlap = "skip"
DEFAULT_CATCH_UP: CatchUp = "latest"
DEFAULT_RETRIES = 0
MAX_APP_NAME = 200  # the apps.name column
MAX_JOB_NAME = 100  # the schedules.job column

_TOML_POSITION = re.compile(r"^(?P<msg>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)$", re.DOTALL)


@dataclass
class JobEntry:
    """What the manifest says about one job, kept for the cross-checks against jobs.py."""

    index: int
    name: str | None  # None when the name itself is invalid
    params: dict[str, Any] = field(default_factory=dict)
    spec: JobSpec | None = None  # None when any of the job's keys is invalid


@dataclass
class Manifest:
    name: str | None = None
    description: str | None = None
    jobs: list[JobEntry] = field(default_factory=list)


def show(value: Any) -> str:
    """A value as it would be written in TOML, for messages (``true``, ``"abc"``, ``2.5``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """A hint for a misspelt key or value: the closest choice, or the list of allowed ones."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f'did you mean "{close[0]}"?'
    return "allowed: " + ", ".join(choices)


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


class ManifestChecker:
    """Checks one manifest text, appending a Problem for each thing wrong with it."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(self, key: str, message: str) -> None:
        self.problems.append(Problem(self.file, key, message))

    def check(self, text: str) -> Manifest | None:
        """The manifest's contents, as far as they are valid; None when the TOML does not parse."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            self._syntax_error(error)
            return None
        manifest = Manifest()
        self._unknown_keys(data, ROOT_KEYS, "")
        manifest.name = self._text(data, "name", "name", required=True, non_empty=True, limit=MAX_APP_NAME)
        manifest.description = self._text(data, "description", "description", required=True)
        jobs = data.get("jobs")
        if jobs is None:
            self.add("jobs", "missing: declare at least one job in a [[jobs]] section")
        elif isinstance(jobs, dict):
            self.add("jobs", "must be an array of tables: write each job as a [[jobs]] section, not [jobs]")
        elif not isinstance(jobs, list):
            self.add("jobs", f"must be an array of tables ([[jobs]] sections), got {show(jobs)}")
        elif not jobs:
            self.add("jobs", "must declare at least one job")
        else:
            manifest.jobs = [self._job(index, job) for index, job in enumerate(jobs)]
            self._duplicate_names(manifest.jobs)
        return manifest

    def _syntax_error(self, error: tomllib.TOMLDecodeError) -> None:
        line: int | None = getattr(error, "lineno", None)
        column: int | None = getattr(error, "colno", None)
        message = str(getattr(error, "msg", None) or error)
        match = _TOML_POSITION.match(message)
        if match:
            message, line, column = match["msg"], int(match["line"]), int(match["column"])
        self.problems.append(Problem(self.file, "", f"invalid TOML: {message}", line=line, column=column))

    def _unknown_keys(self, table: dict[str, Any], allowed: Sequence[str], prefix: str) -> None:
        for key in table:
            if key not in allowed:
                self.add(f"{prefix}{key}", f"unknown key; {did_you_mean(key, allowed)}")

    def _text(
        self,
        table: dict[str, Any],
        key: str,
        path: str,
        *,
        required: bool = False,
        non_empty: bool = False,
        limit: int | None = None,
    ) -> str | None:
        if key not in table:
            if required:
                self.add(path, "missing (a string)")
            return None
        value = table[key]
        if not isinstance(value, str):
            self.add(path, f"must be a string, got {show(value)}")
            return None
        if non_empty and not value.strip():
            self.add(path, "must not be empty")
            return None
        if limit is not None and len(value) > limit:
            self.add(path, f"must be at most {limit} characters long, got {len(value)}")
            return None
        return value

    def _job(self, index: int, job: Any) -> JobEntry:
        prefix = f"jobs[{index}]"
        entry = JobEntry(index=index, name=None)
        if not isinstance(job, dict):
            self.add(prefix, f"must be a table (a [[jobs]] section), got {show(job)}")
            return entry
        before = len(self.problems)
        self._unknown_keys(job, JOB_KEYS, f"{prefix}.")
        entry.name = self._job_name(job, prefix)
        schedule = self._schedule(job, prefix)
        credits = self._number(job, prefix, "credits", CREDITS_RANGE, None, "")
        timeout = self._number(job, prefix, "timeout", TIMEOUT_RANGE, DEFAULT_TIMEOUT, " of seconds")
        retries = self._number(job, prefix, "retries", RETRIES_RANGE, DEFAULT_RETRIES, "")
        overlap = self._choice(job, prefix, "overlap", OVERLAP_POLICIES, DEFAULT_OVERLAP)
        catch_up = self._choice(job, prefix, "catch_up", CATCH_UP_POLICIES, DEFAULT_CATCH_UP)
        params = self._params(job, prefix)
        entry.params = params or {}
        if len(self.problems) == before and entry.name and schedule and params is not None:
            entry.spec = JobSpec(
                name=entry.name,
                schedule=schedule,
                expressions=tuple(member.canonical for member in schedule.schedules),
                credits=cast(int, credits),
                timeout=cast(int, timeout),
                overlap=cast(Overlap, overlap),
                catch_up=cast(CatchUp, catch_up),
                retries=cast(int, retries),
                params=params,
            )
        return entry

    def _job_name(self, job: dict[str, Any], prefix: str) -> str | None:
        path = f"{prefix}.name"
        if "name" not in job:
            self.add(path, "missing (the name of a function in jobs.py)")
            return None
        name = job["name"]
        if not isinstance(name, str):
            self.add(path, f"must be a string, got {show(name)}")
        elif not name.isidentifier() or not name.isascii():
            self.add(path, f"must be a Python identifier (letters, digits, underscores), got {show(name)}")
        elif keyword.iskeyword(name):
            self.add(path, f"{show(name)} is a Python keyword and cannot name a function")
        elif len(name) > MAX_JOB_NAME:
            self.add(path, f"must be at most {MAX_JOB_NAME} characters long")
        else:
            return name
        return None

    def _schedule(self, job: dict[str, Any], prefix: str) -> ScheduleSet | None:
        """The union of the job's schedule strings, or None after reporting why not.

        Each string is parsed on its own first, so a problem names the one at fault
        (``jobs[0].schedule[1]``); a string may itself join several with ``|``.
        """
        path = f"{prefix}.schedule"
        if "schedule" not in job:
            self.add(path, 'missing (a schedule string such as "8:00", or a list of them)')
            return None
        value = job["schedule"]
        if isinstance(value, str):
            items = [(path, value)]
        elif isinstance(value, list):
            if not value:
                self.add(path, "must not be an empty list")
                return None
            items = [(f"{path}[{i}]", item) for i, item in enumerate(value)]
        else:
            self.add(path, f"must be a schedule string or a list of them, got {show(value)}")
            return None
        valid: list[str] = []
        for key, item in items:
            if not isinstance(item, str):
                self.add(key, f"must be a schedule string, got {show(item)}")
                continue
            try:
                parse_many([item])
            except ScheduleError as error:
                self.add(key, _schedule_message(error))
                continue
            valid.append(item)
        if len(valid) != len(items):
            return None
        return parse_many(valid)

    def _number(
        self,
        job: dict[str, Any],
        prefix: str,
        key: str,
        bounds: tuple[int, int],
        default: int | None,
        unit: str,
    ) -> int | None:
        low, high = bounds
        if key not in job:
            if default is None:
                self.add(f"{prefix}.{key}", f"missing (a whole number{unit} from {low} to {high})")
            return default
        value = job[key]
        if not _whole(value, low, high):
            self.add(
                f"{prefix}.{key}", f"must be a whole number{unit} from {low} to {high}, got {show(value)}"
            )
            return None
        return cast(int, value)

    def _choice(
        self, job: dict[str, Any], prefix: str, key: str, choices: Sequence[str], default: str
    ) -> str:
        value = job.get(key, default)
        if value not in choices or not isinstance(value, str):
            allowed = ", ".join(f'"{choice}"' for choice in choices)
            hint = ""
            if isinstance(value, str):
                close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
            self.add(f"{prefix}.{key}", f"must be one of {allowed}, got {show(value)}{hint}")
        return cast(str, value)

    def _params(self, job: dict[str, Any], prefix: str) -> dict[str, Any] | None:
        path = f"{prefix}.params"
        params = job.get("params", {})
        if not isinstance(params, dict):
            self.add(path, f"must be a table (params = {{ name = value }}), got {show(params)}")
            return None
        before = len(self.problems)
        for name, value in params.items():
            if not name.isidentifier() or not name.isascii() or keyword.iskeyword(name):
                self.add(
                    f"{path}.{name}", "a param name must be a Python identifier (it is passed as a keyword)"
                )
            self._json_value(value, f"{path}.{name}")
        return params if len(self.problems) == before else None

    def _json_value(self, value: Any, path: str) -> None:
        """Params travel as JSON (queue payloads, execution records): TOML dates and times do not."""
        if isinstance(value, dt.date | dt.time):
            self.add(path, "TOML dates and times are not allowed in params; write an ISO-8601 string")
        elif isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
            self.add(path, f"{value} is not allowed in params (not representable in JSON)")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self._json_value(item, f"{path}[{i}]")
        elif isinstance(value, dict):
            for key, item in value.items():
                self._json_value(item, f"{path}.{key}")

    def _duplicate_names(self, jobs: list[JobEntry]) -> None:
        first: dict[str, int] = {}
        for entry in jobs:
            if entry.name is None:
                continue
            if entry.name in first:
                self.add(
                    f"jobs[{entry.index}].name",
                    f'duplicate job name "{entry.name}" (also jobs[{first[entry.name]}])',
                )
                entry.spec = None
            else:
                first[entry.name] = entry.index


def _schedule_message(error: ScheduleError) -> str:
    """The schedule error's headline (expression, reason, what the field allows) on one line.

    Its further lines draw carets under the expression; a problem is a single line, so the
    position is given in words instead.
    """
    lines = str(error).splitlines() or [""]
    text = lines[0]
    if error.reason not in text:
        text = f"{text}: {error.reason}"
    if len(lines) > 1 and error.expression.strip():
        text += f" [at character {error.position + 1}]"
    return text
