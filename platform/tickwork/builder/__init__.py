"""The AI builder (issue #6, DESIGN.md section 9): a job described in English becomes a proposal.

A proposal holds the schedules (with their words, next runs and cost), the job's code and
params, or the questions to ask back, or the reason it cannot be done; applying it adds the
job to the account's custom app as a new version. Modules, one idea each: ``timing`` (English
to schedules), ``intent`` (which template, which params), ``templates`` (the six job kinds),
``policy`` (what generated code may do), ``proposal`` (the proposal, its validation and JSON),
``offline`` and ``openai_path`` (the two ways to a proposal), ``bundle_text`` (app.toml and
jobs.py text), ``apply`` (the new version in the database).
"""

from __future__ import annotations

from datetime import datetime

from tickwork import clock
from tickwork.builder.apply import Applied, apply_proposal
from tickwork.builder.offline import grammar_proposal
from tickwork.builder.openai_path import BUILDER_MODEL, model_proposal
from tickwork.builder.proposal import JobDraft, Proposal, from_json
from tickwork.errors import BadInput
from tickwork.settings import Settings, get_settings

MAX_DESCRIPTION = 4000


def propose(
    description: str,
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
    model: str = BUILDER_MODEL,
) -> Proposal:
    """A proposal for ``description``; pure: it reads no tables and writes nothing.

    Uses the model when OPENAI_API_KEY is set (falling back to the grammar, with a note, when
    the API fails), the grammar and templates otherwise. Raises BadInput for an empty or
    overlong description.

    Web layer: ``POST /api/v1/builder/proposals`` can answer ``propose(text).to_json()`` as is.
    For the apply step, rebuild the reviewed proposal with ``from_json(payload, now,
    request=text)`` (validated again from scratch) and pass it to ``apply_proposal``.
    """
    text = description.strip() if isinstance(description, str) else ""
    if not text:
        raise BadInput(
            "describe the job: what it should do and when, e.g. every morning at 8 AM email me ..."
        )
    if len(text) > MAX_DESCRIPTION:
        raise BadInput(f"the description is longer than {MAX_DESCRIPTION:,} characters")
    settings = settings or get_settings()
    moment = now or clock.now()
    if settings.openai_api_key:
        return model_proposal(text, settings, moment, model)
    return grammar_proposal(text, moment)


__all__ = ["Applied", "JobDraft", "Proposal", "apply_proposal", "from_json", "grammar_proposal", "propose"]
