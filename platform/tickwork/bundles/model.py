"""The typed result of loading an app bundle, and the errors that say why one cannot be loaded.

A bundle is validated once, when it is loaded; everything downstream (spawner, runner, web)
works with these frozen objects and never re-reads the manifest's strings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tickwork.errors import BadInput
from tickwork.schedule import ScheduleSet

MANIFEST_FILE = "app.toml"
CODE_FILE = "jobs.py"

Overlap = Literal["skip", "allow"]
CatchUp = Literal["latest", "all", "none"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a bundle: the file, the key path inside it (``jobs[1].credits``) and what.

    ``line``/``column`` locate syntax errors, where there is no key path to name.
    """

    file: str
    key: str
    message: str
    line: int | None = None
    column: int | None = None

    @property
    def where(self) -> str:
        """The key path, or ``line N, column M``, or "" when the problem is about the whole file."""
        if self.key:
            return self.key
        if self.line is None:
            return ""
        return f"line {self.line}" + (f", column {self.column}" if self.column is not None else "")

    def __str__(self) -> str:
        where = self.where
        return f"{self.file}: {where}: {self.message}" if where else f"{self.file}: {self.message}"


class BundleError(BadInput):
    """A bundle (or a folder of bundles) cannot be loaded; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("a BundleError needs at least one problem")
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


class JobNotFound(BadInput, LookupError):
    """A job name that the bundle does not declare (for example, removed in a newer version)."""


@dataclass(frozen=True)
class JobSpec:
    """One validated ``[[jobs]]`` entry.

    ``expressions`` are the canonical forms of the schedule strings, in manifest order;
    ``schedule`` is their union. ``params`` is shared: treat it as read-only.
    """

    name: str
    schedule: ScheduleSet = field(hash=False, compare=False)
    expressions: tuple[str, ...]
    credits: int
    timeout: int
    overlap: Overlap
    catch_up: CatchUp
    retries: int
    params: dict[str, Any] = field(hash=False)


@dataclass(frozen=True)
class AppBundle:
    """A validated app bundle: its manifest, its jobs and the code that implements them.

    ``origin`` says where it came from: a folder path, or ``db:<...>`` for a version stored
    in the database. ``checksum`` identifies the exact manifest and code.
    """

    slug: str
    name: str
    description: str
    jobs: tuple[JobSpec, ...]
    manifest_text: str = field(repr=False)
    code: str = field(repr=False)
    checksum: str
    origin: str

    def job(self, name: str) -> JobSpec:
        """The job called ``name``; JobNotFound when the bundle declares no such job."""
        for job in self.jobs:
            if job.name == name:
                return job
        declared = ", ".join(job.name for job in self.jobs)
        raise JobNotFound(f"app {self.slug!r} has no job {name!r} (its jobs: {declared})")

    @property
    def job_names(self) -> tuple[str, ...]:
        return tuple(job.name for job in self.jobs)


@dataclass(frozen=True)
class BrokenBundle:
    """A folder in the catalog that could not be loaded, with every problem found in it."""

    slug: str
    path: Path
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class CatalogLoad:
    """The result of loading a folder of bundles: the good ones, and the broken ones left out."""

    bundles: list[AppBundle]
    broken: list[BrokenBundle]


def bundle_files(origin: str) -> tuple[str, str]:
    """The display names of a bundle's manifest and code file, as used in problems and tracebacks."""
    base = origin.rstrip("/")
    return f"{base}/{MANIFEST_FILE}", f"{base}/{CODE_FILE}"


def bundle_checksum(manifest_text: str, code: str) -> str:
    """SHA-256 (hex) over the manifest and the code, each framed by its name and length.

    The framing makes the hash unambiguous (moving text from one file to the other changes it)
    and it depends on nothing but the two texts, so every host computes the same value.
    """
    digest = hashlib.sha256()
    for name, text in ((MANIFEST_FILE, manifest_text), (CODE_FILE, code)):
        data = text.encode("utf-8")
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()
