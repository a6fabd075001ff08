"""The offline path: the timing grammar and the job templates, no network.

This is what the builder uses without OPENAI_API_KEY, and what it falls back to when the
model cannot be reached.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tickwork.builder.intent import NoIntent, read_intent
from tickwork.builder.proposal import JobDraft, Proposal, assemble
from tickwork.builder.timing import read_timing


def grammar_proposal(description: str, now: datetime, notes: Sequence[str] = ()) -> Proposal:
    """A proposal from the grammar and templates; ``notes`` lead its assumptions."""
    timing = read_timing(description)
    questions = list(timing.questions)
    assumptions = list(notes) + list(timing.assumptions)
    job = None
    app_name = "Custom app"
    if timing.reason is None:
        try:
            intent = read_intent(description, timing)
        except NoIntent as question:
            questions.append(str(question))
        else:
            template = intent.template
            job = JobDraft(
                name=intent.job_name,
                code=template.code(intent.job_name),
                params=intent.params,
                credits=template.credits,
                timeout=template.timeout,
                overlap=template.overlap,
                catch_up=template.catch_up,
                retries=template.retries,
                template=template.key,
            )
            app_name = intent.app_name
            article = "an" if template.title[0] in "aeiouAEIOUH" else "a"
            plural = "" if template.credits == 1 else "s"
            summary = f"{article} {template.title} job, {template.credits} credit{plural} a run"
            assumptions += [summary] + intent.assumptions
    return assemble(
        schedules=timing.schedules,
        job=job,
        now=now,
        questions=questions,
        assumptions=assumptions,
        reason=None if timing.reason is None else f"the timing cannot be expressed: {timing.reason}",
        app_name=app_name,
        request=description,
        source="grammar",
    )
