"""A proposal: what the builder would add to an app, what it costs, or what it needs to know.

``assemble`` turns the pieces either path produced (schedules, job code, questions...) into
a ``Proposal``, running the same validation for both paths: every schedule parses and is in
the ``H:MM`` language, the code passes the policy and has a proper job signature, the params
are JSON values, and the bundle it makes is one ``tickwork apps validate`` accepts.
``Proposal.to_json()`` is the shape the CLI prints and the API returns (issue #6).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from fractions import Fraction
from typing import Any, Literal

from billing import MICRO_PER_CREDIT
from billing.projection import daily_micro_credits
from tickwork.builder.bundle_text import JobEntry, join_sections, manifest_text
from tickwork.builder.policy import check_code
from tickwork.builder.templates import TEMPLATES, Template
from tickwork.bundles import check_bundle
from tickwork.errors import BadInput
from tickwork.schedule import EASTERN, ScheduleError, parse, parse_many

Status = Literal["ok", "question", "rejected"]
NEXT_RUNS = 3
DEFAULT_APP_NAME = "Custom app"
CREDITS_RANGE = (1, 10)


@dataclass(frozen=True)
class JobDraft:
    """The job a proposal adds: its function's code and params, and its manifest settings."""

    name: str
    code: str
    params: dict[str, Any]
    credits: int
    timeout: int = 300
    overlap: str = "skip"
    catch_up: str = "latest"
    retries: int = 0
    template: str | None = None  # the offline template it came from, None for model-written code

    def entry(self, schedules: tuple[str, ...]) -> JobEntry:
        return JobEntry(
            self.name,
            schedules,
            self.credits,
            self.timeout,
            self.overlap,
            self.catch_up,
            self.retries,
            self.params,
        )


@dataclass(frozen=True)
class Proposal:
    """What the builder proposes for one description (see ``to_json`` for the public shape)."""

    status: Status
    schedules: tuple[str, ...] = ()
    description: str = ""  # the schedules in words
    next_runs: tuple[datetime, ...] = ()  # aware, Eastern
    runs_per_day: Fraction | None = None
    credits_per_run: int | None = None
    credits_per_day: Fraction | None = None
    job: JobDraft | None = None
    questions: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()
    reason: str | None = None
    app_name: str = DEFAULT_APP_NAME
    app_description: str = ""
    source: str = "grammar"  # grammar | openai | json (rebuilt by from_json)
    request: str = field(default="", compare=False)  # the user's description, as given

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        """``{"status", "schedules", "description", "next_runs", "runs_per_day", "credits_per_run",
        "credits_per_day", "job": {"name", "code", "params"}, "questions", "assumptions", "reason"}``.

        ``next_runs`` are ISO 8601 Eastern times with their offset; numbers are whole when exact,
        else rounded (runs to 4 decimals, credits to 6); ``job`` is null when there is none.
        """
        return {
            "status": self.status,
            "schedules": list(self.schedules),
            "description": self.description,
            "next_runs": [run.isoformat(timespec="seconds") for run in self.next_runs],
            "runs_per_day": _number(self.runs_per_day, 4),
            "credits_per_run": self.credits_per_run,
            "credits_per_day": _number(self.credits_per_day, 6),
            "job": None
            if self.job is None
            else {"name": self.job.name, "code": self.job.code, "params": dict(self.job.params)},
            "questions": list(self.questions),
            "assumptions": list(self.assumptions),
            "reason": self.reason,
        }


def _number(value: Fraction | None, places: int) -> int | float | None:
    if value is None:
        return None
    if value.denominator == 1:
        return value.numerator
    return round(float(value), places)


def assemble(
    *,
    schedules: Sequence[str],
    job: JobDraft | None,
    now: datetime,
    questions: Sequence[str] = (),
    assumptions: Sequence[str] = (),
    reason: str | None = None,
    app_name: str = DEFAULT_APP_NAME,
    request: str = "",
    source: str = "grammar",
) -> Proposal:
    """A validated proposal from either path's pieces; problems turn it into a rejection."""
    base = Proposal(
        status="question",
        job=job,
        questions=tuple(questions),
        assumptions=tuple(dict.fromkeys(assumptions)),
        reason=reason,
        app_name=app_name,
        app_description=_app_description(request),
        source=source,
        request=request,
    )
    if reason is not None:
        return replace(base, status="rejected")
    if questions:
        return base
    if job is None or not schedules:
        missing = "what the job should do" if job is None else "when it should run"
        return replace(base, questions=(f"The description does not say {missing}. Can you add it?",))
    canonical, problems = canonical_schedules(schedules)
    if problems:  # the bundle check needs good schedules; the code is still checked on its own
        problems += check_code(job.code, job.name)
    else:
        problems += validate_job(job, tuple(canonical), app_name)
    if problems:
        return replace(base, status="rejected", reason="; ".join(problems), schedules=tuple(schedules))
    parsed = parse_many(canonical)
    daily_micro = daily_micro_credits(parsed.runs_per_day, job.credits)
    return replace(
        base,
        status="ok",
        schedules=tuple(canonical),
        description=parsed.describe(),
        next_runs=tuple(run.astimezone(EASTERN) for run in parsed.next_runs(now, NEXT_RUNS)),
        runs_per_day=Fraction(parsed.runs_per_day),
        credits_per_run=job.credits,
        credits_per_day=Fraction(daily_micro, MICRO_PER_CREDIT),
    )


def canonical_schedules(schedules: Sequence[str]) -> tuple[list[str], list[str]]:
    """Each schedule's canonical ``H:MM`` form, and the problems of those that have none."""
    canonical: list[str] = []
    problems: list[str] = []
    for text in schedules:
        try:
            parsed = parse(text)
        except ScheduleError as error:
            problems.append(f'the schedule "{text}" does not parse: {error.reason}')
            continue
        if (
            ":" not in parsed.canonical
            or parsed.dom_mask != (1 << 31) - 1
            or parsed.month_mask != (1 << 12) - 1
        ):
            problems.append(
                f'the schedule "{text}" is not in the H:MM language (days of the week, hours and '
                "minutes); days of the month and months cannot be expressed"
            )
            continue
        if parsed.canonical not in canonical:
            canonical.append(parsed.canonical)
    return canonical, problems


def validate_job(job: JobDraft, schedules: tuple[str, ...], app_name: str) -> list[str]:
    """Everything wrong with the job as part of a bundle: policy, signature, settings, params."""
    problems = check_code(job.code, job.name)
    low, high = CREDITS_RANGE
    if isinstance(job.credits, bool) or not isinstance(job.credits, int) or not low <= job.credits <= high:
        problems.append(f"credits per run must be a whole number from {low} to {high}; got {job.credits!r}")
    if problems:
        return problems
    try:
        manifest = manifest_text(app_name, "A custom app made with the builder.", [job.entry(schedules)])
    except ValueError as error:
        return [f"the params cannot be stored: {error}"]
    _bundle, found = check_bundle("proposal", manifest, join_sections({job.name: job.code}), "proposal")
    return [str(problem) for problem in found]


def from_json(
    payload: Mapping[str, Any], now: datetime, *, request: str = "", app_name: str | None = None
) -> Proposal:
    """A proposal rebuilt from its ``to_json()`` shape and validated again from scratch.

    Web layer: the apply endpoint may take back the JSON the owner reviewed (so what is
    applied is exactly what was shown, even from the model path) instead of proposing again;
    nothing in it is trusted, it passes the policy and the bundle checks like a new proposal.
    Job settings the JSON does not carry (timeout, retries...) come from the matching
    template, else the defaults; so does the app's name when none (or the default) is given.
    """
    job_json = payload.get("job")
    if payload.get("status") != "ok" or not isinstance(job_json, Mapping):
        raise BadInput("only a proposal with status ok and a job can be applied")
    schedules = payload.get("schedules")
    if not isinstance(schedules, list) or not all(isinstance(item, str) for item in schedules):
        raise BadInput("the proposal's schedules must be a list of schedule strings")
    name, code, params = job_json.get("name"), job_json.get("code"), job_json.get("params")
    if not isinstance(name, str) or not isinstance(code, str) or not isinstance(params, dict):
        raise BadInput("the proposal's job needs a name, code and params")
    template = next((item for item in TEMPLATES.values() if item.code(name) == code), None)
    credits = payload.get("credits_per_run")
    job = JobDraft(
        name=name,
        code=code,
        params=dict(params),
        credits=credits if isinstance(credits, int) else template.credits if template else 1,
        timeout=template.timeout if template else 300,
        overlap=template.overlap if template else "skip",
        catch_up=template.catch_up if template else "latest",
        retries=template.retries if template else 0,
        template=template.key if template else None,
    )
    assumptions = payload.get("assumptions")
    return assemble(
        schedules=schedules,
        job=job,
        now=now,
        assumptions=[str(item) for item in assumptions] if isinstance(assumptions, list) else [],
        app_name=app_name if app_name and app_name != DEFAULT_APP_NAME else _name_for(template, job.params),
        request=request,
        source="json",
    )


def _name_for(template: Template | None, params: Mapping[str, Any]) -> str:
    """An app name from a template and its params ("Orders digest"), as the offline path names apps."""
    if template is None:
        return DEFAULT_APP_NAME
    subject = params.get("event") if template.key == "sms_reminder" else params.get("collection")
    if template.key == "cleanup":
        names = params.get("collections")
        subject = names[0] if isinstance(names, list) and names else None
    if not isinstance(subject, str) or not subject:
        return DEFAULT_APP_NAME
    return f"{subject.replace('_', ' ').capitalize()} {template.noun}"


def _app_description(request: str) -> str:
    text = " ".join(request.split())
    return text if len(text) <= 500 else text[:497] + "..."
