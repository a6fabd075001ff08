"""The text of a builder-made bundle: ``app.toml`` written from job settings, and ``jobs.py``
made of one section per job.

Each job's code is kept in its own section, headed ``# === job: NAME ===``, so applying a
new proposal for an existing app replaces that job's section (or appends one) and leaves the
other jobs' code exactly as it was.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SECTION = re.compile(r"^# === job: ([A-Za-z_][A-Za-z0-9_]*) ===$", re.MULTILINE)


@dataclass(frozen=True)
class JobEntry:
    """One ``[[jobs]]`` entry, as the builder writes it."""

    name: str
    schedules: tuple[str, ...]
    credits: int
    timeout: int
    overlap: str
    catch_up: str
    retries: int
    params: Mapping[str, Any]


def toml_value(value: Any) -> str:
    """A JSON-like value as TOML: strings, whole numbers, finite floats, booleans, lists, tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"TOML cannot hold {value!r}")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{toml_key(key)} = {toml_value(item)}" for key, item in value.items()) + " }"
    raise ValueError(f"a param value must be JSON-like (text, number, boolean, list or table); got {value!r}")


def toml_key(key: Any) -> str:
    if isinstance(key, str) and re.fullmatch(r"[A-Za-z0-9_-]+", key):
        return key
    return json.dumps(str(key), ensure_ascii=False)


def manifest_text(name: str, description: str, jobs: Sequence[JobEntry]) -> str:
    """The whole ``app.toml`` for an app and its jobs."""
    lines = [f"name = {toml_value(name)}", f"description = {toml_value(description)}"]
    for job in jobs:
        schedule = job.schedules[0] if len(job.schedules) == 1 else list(job.schedules)
        lines += [
            "",
            "[[jobs]]",
            f"name = {toml_value(job.name)}",
            f"schedule = {toml_value(schedule)}",
            f"credits = {job.credits}",
            f"timeout = {job.timeout}",
            f"overlap = {toml_value(job.overlap)}",
            f"catch_up = {toml_value(job.catch_up)}",
            f"retries = {job.retries}",
            f"params = {toml_value(dict(job.params))}",
        ]
    return "\n".join(lines) + "\n"


def split_sections(code: str) -> dict[str, str]:
    """A builder-made ``jobs.py`` as {job name: its section's code}; {} for code without sections."""
    marks = list(SECTION.finditer(code))
    sections: dict[str, str] = {}
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(code)
        sections[mark.group(1)] = code[mark.end() : end].strip("\n")
    return sections


def join_sections(sections: Mapping[str, str]) -> str:
    """Sections back into one ``jobs.py``, in the given order."""
    parts = [f"# === job: {name} ===\n{code.strip()}\n" for name, code in sections.items()]
    return "\n\n".join(parts)
