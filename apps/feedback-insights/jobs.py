"""Feedback insights: an end-of-day AI summary of new customer feedback, emailed to the owner.

Feedback records (collection ``feedback``)::

    {"text": "Delivery was late but support sorted it out.", "rating": 3,
     "customer": "Ada Lovelace", "channel": "email"}        # rating (1-5), customer, channel optional

Each report covers the records created in [cursor, scheduled_for), where the cursor (in
``ctx.state``) is where the previous report stopped, so Monday's report includes the weekend
and nothing is reported twice. The cursor moves only after the email is sent.
"""

from __future__ import annotations

import html
from collections import Counter
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/New_York")
CURSOR_KEY = "feedback_cursor"

SYSTEM_PROMPT = (
    "You read customer feedback for a small business and report to its owner. Be brief and concrete. "
    "Answer in plain text with three parts: 'Summary:' two or three sentences on the overall mood; "
    "'Themes:' up to five bullet points, each a theme with how many entries mention it; "
    "'Needs a reply:' the entry numbers that ask a question or report a problem, with a few words "
    "each, or 'none'. Do not invent facts that are not in the feedback."
)


def iso_z(instant):
    """An aware datetime as the ISO-8601 UTC text records use ("2026-11-22T13:05:00Z")."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def start_of_eastern_day(instant):
    """Midnight Eastern of ``instant``'s Eastern date, as a UTC instant."""
    return datetime.combine(instant.astimezone(EASTERN).date(), time(0), tzinfo=EASTERN).astimezone(UTC)


def rating_of(record):
    """The record's rating as an int 1-5, or None when it has no usable one."""
    rating = record.get("rating")
    if isinstance(rating, bool) or not isinstance(rating, int | float) or not 1 <= rating <= 5:
        return None
    return round(rating)


def feedback_stats(records):
    """Count, average rating and rating distribution, computed here rather than by the model."""
    ratings = [rating for rating in map(rating_of, records) if rating is not None]
    return {
        "count": len(records),
        "rated": len(ratings),
        "average_rating": round(sum(ratings) / len(ratings), 2) if ratings else None,
        "ratings": {str(stars): count for stars, count in sorted(Counter(ratings).items())},
    }


def prompt_messages(records, max_chars):
    """The chat messages for the model: instructions, then the numbered entries."""
    entries = []
    for number, record in enumerate(records, start=1):
        text = " ".join(str(record.get("text") or "").split())
        if len(text) > max_chars:
            text = text[: max_chars - 1] + "…"
        details = [f"rating {rating_of(record)}/5"] if rating_of(record) is not None else []
        details += [str(record[key]) for key in ("channel", "customer") if record.get(key)]
        head = f"#{number}" + (f" ({', '.join(details)})" if details else "")
        entries.append(f"{head}: {text or '(no text)'}")
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "Customer feedback:\n\n" + "\n".join(entries)},
    ]


def report_text(account_name, day_label, stats, omitted, analysis):
    """The email body: the exact numbers first, then the model's summary."""
    lines = [f"Customer feedback for {account_name}, report of {day_label}", ""]
    lines.append(f"New feedback: {stats['count']}")
    if stats["average_rating"] is not None:
        spread = ", ".join(f"{stars}*: {count}" for stars, count in stats["ratings"].items())
        lines.append(f"Average rating: {stats['average_rating']} of 5 ({spread})")
    if omitted:
        lines.append(f"(The summary covers the newest entries; {omitted} older ones were left out.)")
    lines += ["", analysis.strip(), ""]
    return "\n".join(lines)


def summarize_feedback(
    ctx, *, model="gpt-4o-mini", max_items=150, max_chars=600, send_when_empty=False, **params
):
    """Summarize the feedback created since the last report and email it to the owner.

    Steps: read the window [cursor, scheduled_for); compute the numbers; ask the model for a
    summary of the newest ``max_items`` entries; email the owner; move the cursor to the end
    of the window.
    """
    until = iso_z(ctx.scheduled_for)
    since = ctx.state.get(CURSOR_KEY) or iso_z(start_of_eastern_day(ctx.scheduled_for))
    if since >= until:
        return {"since": since, "until": until, "feedback": 0, "sent": False, "reason": "already reported"}
    records = ctx.data["feedback"].find({"created_at": {"$gte": since, "$lt": until}}, order_by="created_at")
    stats = feedback_stats(records)
    result = {
        "since": since,
        "until": until,
        "feedback": stats["count"],
        "average_rating": stats["average_rating"],
    }
    local = ctx.scheduled_for.astimezone(EASTERN)
    day_label = f"{local:%A, %B} {local.day}"
    owner = ctx.account.owner_email

    if not records and not send_when_empty:
        ctx.state.set(CURSOR_KEY, until)
        return {**result, "sent": False, "reason": "no new feedback"}
    if not owner:
        ctx.log.warning("the account has no owner email; the report is not sent")
        return {**result, "sent": False, "reason": "no owner email"}

    if records:
        sample = records[-max(1, int(max_items)) :]
        reply = ctx.ai.complete(prompt_messages(sample, int(max_chars)), model=model)
        analysis = reply.text
        omitted = len(records) - len(sample)
    else:
        analysis, omitted = "No new feedback came in.", 0
    text = report_text(ctx.account.name, day_label, stats, omitted, analysis)
    ctx.email.send(
        owner,
        f"Feedback report, {day_label}: {stats['count']} new",
        text,
        html=f'<pre style="font-family: inherit; white-space: pre-wrap">{html.escape(text)}</pre>',
    )
    ctx.state.set(CURSOR_KEY, until)
    ctx.log.info("feedback report sent: %s entries, %s omitted", stats["count"], omitted)
    return {**result, "sent": True, "omitted": omitted}
