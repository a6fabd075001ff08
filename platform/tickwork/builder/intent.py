"""What a description asks the job to do: which template, and the params it fills in.

Keywords pick the template (a reminder before an event, a cleanup, an HTTP sync, a batch
queue, a report, an email digest, in that order of precedence); nouns and numbers in the
description fill in the params (the collection, the retention period, the batch size...).
Whatever is filled in by default rather than read from the description is said in an
assumption, like the timing defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from tickwork.builder.templates import TEMPLATES, Template
from tickwork.builder.timing import Timing, normalize, plural, singular
from tickwork.schedule import parse_many

#: Collections the builder recognizes by name; the first one a description mentions is used.
KNOWN_COLLECTIONS = (
    "orders", "appointments", "bookings", "reservations", "meetings", "classes", "sessions",
    "signups", "users", "customers", "contacts", "leads", "tickets", "invoices", "payments",
    "subscriptions", "tasks", "events", "feedback", "reviews", "logs", "messages", "products",
    "inventory", "items", "uploads", "rows", "records", "notifications", "visits",
)  # fmt: skip
#: What reminders are about: events with a start time.
EVENT_COLLECTIONS = (
    "appointments", "bookings", "reservations", "meetings", "classes", "sessions", "events",
    "visits", "subscriptions", "renewals", "shifts", "deliveries", "tasks", "invoices",
)  # fmt: skip
#: Nouns that usually come with a qualifier naming what they hold ("import rows").
GENERIC_COLLECTIONS = ("rows", "items", "records", "tasks", "messages", "events")
_NOT_QUALIFIERS = {
    "the", "all", "new", "old", "our", "my", "their", "of", "each", "every", "any", "pending",
    "queued", "a", "an", "and", "or", "to", "from", "in", "on", "its", "your", "stale", "expired",
}  # fmt: skip
#: Fields the platform's own records use for a collection's time, where it is not created_at.
TIME_FIELDS = {"orders": "placed_at"}
AMOUNT_FIELDS = {"orders": "total_cents", "invoices": "amount_cents", "payments": "amount_cents"}


@dataclass
class Intent:
    """The template chosen, its params, and what was assumed on the way."""

    template: Template
    params: dict[str, Any]
    job_name: str
    app_name: str
    assumptions: list[str] = field(default_factory=list)


class NoIntent(Exception):
    """The description does not say what the job should do; the message is the question."""


def read_intent(description: str, timing: Timing) -> Intent:
    """The template and params for a description (``timing`` supplies a reminder's lead time)."""
    text = normalize(description)
    key = template_key(text, timing)
    if key is None:
        raise NoIntent(
            "What should the job do? The builder knows six kinds of job: an email digest, a reminder "
            "before an event (SMS or email), a batch queue processor, an HTTP sync, a cleanup of old "
            "records and a report."
        )
    return _FILLERS[key](text, timing, description)


def template_key(text: str, timing: Timing) -> str | None:
    """The template the description's words point to, by precedence; None when none does."""
    if timing.lookahead is not None or re.search(r"\bremind(?:er|ers)?\b", text):
        return "sms_reminder"
    if re.search(r"\b(?:delete|clean ?up|clean|purge|remove|prune|expire|archive|clear)\b", text):
        return "cleanup"
    if re.search(r"\b(?:sync|synchronize|pull|fetch|api|http|https|webhook|endpoint)\b|https?://", text):
        return "http_sync"
    if re.search(r"\b(?:queue|batch|batches|process|processes|processing|backlog)\b", text):
        return "queue_processor"
    if re.search(r"\b(?:report|reports|totals?|metrics|statistics|stats|kpis?|count)\b", text):
        return "report"
    if re.search(r"\b(?:digest|summary|summarize|summarise|email|e-mail|newsletter|list of)\b", text):
        return "email_digest"
    return None


def collection_in(text: str, default: str, assumptions: list[str], prefer: tuple[str, ...] = ()) -> str:
    """The first known collection the text names (singular or plural), or the default, assumed.

    Names in ``prefer`` win over the others wherever they are (a reminder is about the
    appointments, not the customers it texts).
    """
    for name in prefer:
        if re.search(rf"\b(?:{name}|{singular(name)})\b", text):
            return name
    best: tuple[int, str] | None = None
    for name in KNOWN_COLLECTIONS:
        match = re.search(rf"\b(?:{name}|{singular(name)})\b", text)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), name)
    if best is not None:
        start, name = best
        qualifier = re.search(r"\b([a-z]+) $", text[:start])
        if name in GENERIC_COLLECTIONS and qualifier and qualifier.group(1) not in _NOT_QUALIFIERS:
            return f"{qualifier.group(1)}_{name}"  # "import rows" are import_rows
        return name
    assumptions.append(f'the records are in the collection "{default}"; name them to change it')
    return default


def once_every_day(timing: Timing) -> bool:
    """Whether the schedules run exactly once on every day of the week."""
    if not timing.schedules:
        return False
    union = parse_many(timing.schedules)
    return union.runs_per_day == 1 and union.runs_on_active_day == 1


def once_a_day(timing: Timing) -> bool:
    """Whether the schedules run at most once on any day (daily, weekdays, weekly...)."""
    return bool(timing.schedules) and parse_many(timing.schedules).runs_on_active_day == 1


def _app_name(subject: str, template: Template) -> str:
    """ "Orders digest", "Appointment reminders", "Import rows queue"."""
    return f"{subject.replace('_', ' ').capitalize()} {template.noun}"


def _job_name(*words: str) -> str:
    name = re.sub(r"[^a-z0-9_]+", "_", "_".join(words).lower()).strip("_")
    return name[:60] or "job"


def _digest(text: str, timing: Timing, original: str) -> Intent:
    template = TEMPLATES["email_digest"]
    assumptions: list[str] = []
    collection = collection_in(text, "orders", assumptions)
    if re.search(r"\btoday'?s?\b|\bso far\b", text):
        period, covers = "today", "the Eastern day so far"
    elif re.search(r"\b(?:yesterday|previous day|prior day|day before)\b", text) or once_every_day(timing):
        period, covers = "previous_day", "the previous Eastern calendar day"
    else:
        period, covers = "since_last_run", "the records since the previous digest"
    params: dict[str, Any] = {
        "collection": collection,
        "time_field": TIME_FIELDS.get(collection, "created_at"),
        "period": period,
    }
    if collection in AMOUNT_FIELDS:
        params["amount_field"] = AMOUNT_FIELDS[collection]
    assumptions.append(f"the digest covers {covers}")
    if re.search(r"\b(?:sms|text|texts)\b", text):
        assumptions.append("the digest is sent by email: a digest is too long for a text message")
    if not re.search(r"\bowner\b", text):
        assumptions.append("the digest is emailed to the account owner")
    name = _job_name("email", collection, "digest")
    return Intent(template, params, name, _app_name(collection, template), assumptions)


def _reminder(text: str, timing: Timing, original: str) -> Intent:
    template = TEMPLATES["sms_reminder"]
    assumptions: list[str] = []
    lookahead = timing.lookahead
    if lookahead is not None:
        event = lookahead.event
        collection = next((name for name in KNOWN_COLLECTIONS if singular(name) == event), plural(event))
        lead, window = lookahead.lead_minutes, lookahead.window_minutes
    else:
        collection = collection_in(text, "appointments", assumptions, prefer=EVENT_COLLECTIONS)
        event = singular(collection)
        lead, window = 1440, 60
        if timing.schedules and not once_a_day(timing):
            raise NoIntent(
                f"How long before each {event} should the reminder go out (for example 24 hours before)?"
            )
    channel = (
        "email"
        if re.search(r"\b(?:email|e-mail|mail)\b", text)
        and not re.search(r"\b(?:sms|text|texts|texted)\b", text)
        else "sms"
    )
    params: dict[str, Any] = {
        "collection": collection,
        "event": event,
        "time_field": "starts_at",
        "channel": channel,
        "lead_minutes": lead,
        "window_minutes": window,
    }
    if lookahead is None and timing.schedules:
        params["next_day"] = True
        assumptions.append(f"each run reminds the {plural(event)} of the next Eastern day")
    contact = "phone" if channel == "sms" else "email"
    assumptions.append(
        f'each {event} record holds its start time in "starts_at" (ISO-8601 UTC) and the customer\'s '
        f'{contact} in "{contact}"; each is marked "reminded_at" once reminded'
    )
    return Intent(template, params, _job_name("remind", collection), _app_name(event, template), assumptions)


def _queue(text: str, timing: Timing, original: str) -> Intent:
    template = TEMPLATES["queue_processor"]
    assumptions: list[str] = []
    collection = collection_in(text, "tasks", assumptions)
    size = re.search(
        r"\b(\d+)\s*(?:\w+\s)?(?:at a time|per run|per batch|a run)\b|\bbatch(?:es)? of (\d+)\b", text
    )
    batch_size = int(size.group(1) or size.group(2)) if size else 100
    if size is None:
        assumptions.append("each run processes up to 100 records")
    params = {"collection": collection, "batch_size": max(1, min(batch_size, 5000))}
    return Intent(
        template, params, _job_name("process", collection), _app_name(collection, template), assumptions
    )


def _sync(text: str, timing: Timing, original: str) -> Intent:
    template = TEMPLATES["http_sync"]
    assumptions: list[str] = []
    collection = collection_in(text, "items", assumptions)
    params: dict[str, Any] = {"collection": collection, "url_variable": "SYNC_URL", "key_field": "id"}
    url = re.search(r"https?://[^\s'\"<>]+", original)
    if url is not None:
        params["url"] = url.group(0).rstrip(".,;)")
    else:
        assumptions.append(
            "the API's URL is the variable SYNC_URL (and a bearer token the secret SYNC_API_KEY)"
        )
    return Intent(
        template, params, _job_name("sync", collection), _app_name(collection, template), assumptions
    )


def _cleanup(text: str, timing: Timing, original: str) -> Intent:
    template = TEMPLATES["cleanup"]
    assumptions: list[str] = []
    names = [name for name in KNOWN_COLLECTIONS if re.search(rf"\b(?:{name}|{singular(name)})\b", text)]
    if not names:
        names = ["sessions"]
        assumptions.append('the records to delete are in the collection "sessions"; name them to change it')
    age = re.search(r"\b(?:older than|more than|over|after)\s+(\d+)\s*(days?|weeks?|months?|years?)\b", text)
    if age is not None:
        unit = age.group(2).rstrip("s")
        days = int(age.group(1)) * {"day": 1, "week": 7, "month": 30, "year": 365}[unit]
        if unit in ("month", "year"):
            assumptions.append(f"{age.group(1)} {age.group(2)} counted as {days} days")
    else:
        days = 30
        assumptions.append("records older than 30 days are deleted")
    params = {"collections": names, "retention_days": max(1, days)}
    return Intent(
        template, params, _job_name("clean_up", *names[:2]), _app_name(names[0], template), assumptions
    )


def _report(text: str, timing: Timing, original: str) -> Intent:
    template = TEMPLATES["report"]
    assumptions: list[str] = []
    collection = collection_in(text, "orders", assumptions)
    weekly = bool(re.search(r"\b(?:weekly|every week|each week|last week|past week|7 days)\b", text)) or (
        bool(timing.schedules) and parse_many(timing.schedules).runs_per_day == Fraction(1, 7)
    )
    params: dict[str, Any] = {
        "collection": collection,
        "time_field": TIME_FIELDS.get(collection, "created_at"),
        "period_days": 7 if weekly else 1,
    }
    if collection in AMOUNT_FIELDS:
        params["amount_field"] = AMOUNT_FIELDS[collection]
    assumptions.append(
        f"the report covers the {'7 Eastern days' if weekly else 'Eastern day'} before each run, is stored "
        'in the collection "reports" and emailed to the account owner'
    )
    return Intent(
        template, params, _job_name(collection, "report"), _app_name(collection, template), assumptions
    )


_FILLERS = {
    "email_digest": _digest,
    "sms_reminder": _reminder,
    "queue_processor": _queue,
    "http_sync": _sync,
    "cleanup": _cleanup,
    "report": _report,
}
