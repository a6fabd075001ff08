"""The model path: with OPENAI_API_KEY set, a model reads the description.

One structured-output call (``client.chat.completions.parse`` with the Pydantic model
``ModelProposal``) returns the timing, the kind of job, its params and its code; the result
then goes through exactly the validation the offline path's proposals do (``assemble``).
When the API fails (unreachable, an error status, a refusal, a truncated or malformed
answer) the builder falls back to the grammar, with a note saying so.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

import openai
import pydantic
from pydantic import BaseModel, Field

from tickwork.builder.offline import grammar_proposal
from tickwork.builder.proposal import JobDraft, Proposal, assemble
from tickwork.builder.templates import TEMPLATES
from tickwork.settings import Settings

BUILDER_MODEL = "gpt-4o-mini"
TIMEOUT_SECONDS = 60.0

SYSTEM_PROMPT = """You turn a customer's description of a background job into a proposal for Tickwork.

Schedules: Eastern time (America/New_York), written only in the H:MM language, never cron:
"[days] hours:minutes". hours 0-23 and minutes 0-59 are "*", a number, a range 8-19, a list 9,17
or a step */15 or 8-18/2; days are mon..sun, ranges mon-fri, lists sat,sun. Examples: "8:00",
"*:00", "*:*/15", "mon-fri 8-18:*/15", "9,17:30". A job may have several schedules (their union).
Rules: convert Pacific/Mountain/Central times to Eastern and say so in assumptions; a UTC time or
fixed offset is a question. "between X and Y" and "from X to Y" include both ends and nothing
after Y. Business hours are 8 AM to 7 PM. Every N minutes needs N dividing 60, or N >= 60 dividing
1,440; otherwise ask, offering the nearest allowed values. A bare hour 7-11 is AM, 12 is noon,
1-6 is a question. Any default (every morning = 8:00) goes in assumptions. "N before <event>" is a
recurring check every 60, 30, 15, 10 or 5 minutes (the largest at most a quarter of the lead),
looking at [slot + lead, slot + lead + interval). Reject with a reason: seconds, every other
day, days of the month, one-off dates.

Code: one Python module defining `def <name>(ctx, **params)` (keyword-only params with defaults
may come before **params). Use only the job context: ctx.account (id, name, owner_email,
owner_phone), ctx.scheduled_for (aware UTC), ctx.source, ctx.data["name"] (find(where,
order_by=, limit=), count, insert, update(where, changes), delete(where); where is
{"field": value} or {"field": {"$gte": a, "$lt": b}}), ctx.state.get/set, ctx.email.send(to,
subject, text), ctx.sms.send(to, body), ctx.ai.complete(messages, model=), ctx.http.get/post,
ctx.env, ctx.secrets, ctx.log, ctx.now(), ctx.time_left(). Import only datetime, zoneinfo, json,
re, math, collections, statistics, itertools, functools, html, decimal, textwrap, string.
Never use open, exec, eval, compile, __import__, getattr, dunder names or private attributes.

Fill template with the closest kind of job (email_digest, sms_reminder, queue_processor,
http_sync, cleanup, report) or "other". params_json is the params as a JSON object.
credits_per_run is 1-10 (1 for simple jobs, more for heavy ones). When something essential is
ambiguous, leave schedules empty and ask in questions. When the timing cannot be expressed,
set rejection to the reason."""


class ModelJob(BaseModel):
    name: str = Field(description="the job function's name, a Python identifier")
    code: str = Field(description="the whole jobs.py module")
    params_json: str = Field(description="the job's params as a JSON object")
    credits_per_run: int


class ModelProposal(BaseModel):
    template: Literal[
        "email_digest", "sms_reminder", "queue_processor", "http_sync", "cleanup", "report", "other"
    ]
    app_name: str
    schedules: list[str]
    questions: list[str]
    assumptions: list[str]
    rejection: str | None
    job: ModelJob | None


class ModelUnavailable(Exception):
    """The model gave no usable answer; the message says why, for the fallback note."""


def ask_model(description: str, settings: Settings, model: str = BUILDER_MODEL) -> ModelProposal:
    """The model's structured answer, or ModelUnavailable."""
    try:
        with openai.OpenAI(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url or None,
            timeout=TIMEOUT_SECONDS,
            max_retries=0,
        ) as client:
            completion = client.chat.completions.parse(
                model=model,
                messages=[
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": description},
                ],
                response_format=ModelProposal,
            )
    except openai.APIStatusError as error:
        raise ModelUnavailable(f"the AI service answered {error.status_code}") from error
    except openai.APIConnectionError as error:
        raise ModelUnavailable("the AI service could not be reached") from error
    except openai.OpenAIError as error:  # truncated or filtered answers, among others
        raise ModelUnavailable(f"the AI service gave no usable answer ({type(error).__name__})") from error
    except pydantic.ValidationError as error:
        raise ModelUnavailable("the AI service's answer did not have the expected shape") from error
    message = completion.choices[0].message if completion.choices else None
    if message is None or message.refusal or message.parsed is None:
        raise ModelUnavailable("the AI service declined to answer")
    return message.parsed


def model_proposal(
    description: str, settings: Settings, now: datetime, model: str = BUILDER_MODEL
) -> Proposal:
    """A proposal from the model, validated; the grammar's, with a note, when the API fails."""
    try:
        answer = ask_model(description, settings, model)
    except ModelUnavailable as failure:
        note = f"{failure}, so this proposal comes from the built-in grammar and templates"
        return grammar_proposal(description, now, notes=[note])
    job: JobDraft | None = None
    reason = answer.rejection or None
    if answer.job is not None and reason is None:
        try:
            params = json.loads(answer.job.params_json or "{}")
        except json.JSONDecodeError:
            params = None
        if not isinstance(params, dict):
            reason = "the model's params are not a JSON object"
        else:
            template = TEMPLATES.get(answer.template)
            job = JobDraft(
                name=answer.job.name,
                code=answer.job.code,
                params=params,
                credits=answer.job.credits_per_run,
                timeout=template.timeout if template else 300,
                overlap=template.overlap if template else "skip",
                catch_up=template.catch_up if template else "latest",
                retries=template.retries if template else 0,
            )
    return assemble(
        schedules=answer.schedules,
        job=job,
        now=now,
        questions=answer.questions,
        assumptions=answer.assumptions,
        reason=reason,
        app_name=answer.app_name.strip()[:200] or "Custom app",
        request=description,
        source="openai",
    )
