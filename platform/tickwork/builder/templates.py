"""The six job templates the offline builder fills in: their code, base credits and params.

Each template is one self-contained job function (its helpers are nested inside it, so
several jobs can share one ``jobs.py`` without clashing) that uses the job context only and
reads everything it may vary from its params, which the builder fills in from the
description. The code follows the platform's habits (apps/README.md): time windows come
from ``ctx.scheduled_for``, Eastern days are computed in ``America/New_York``, and progress
is marked as soon as it is made so a retried or repeated run does nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JOB_NAME = "JOB_NAME"  # the placeholder in each template's code


@dataclass(frozen=True)
class Template:
    """One kind of job: what it does, what a run costs, and its code with defaults."""

    key: str
    title: str
    noun: str  # what an app made of it is called after its subject: "Orders digest"
    credits: int
    timeout: int
    overlap: str
    catch_up: str
    retries: int
    params: dict[str, Any]
    source: str

    def code(self, job_name: str) -> str:
        """The template's module with its job function named ``job_name``."""
        return self.source.replace(JOB_NAME, job_name)


_HEADER = """from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

"""

EMAIL_DIGEST = (
    _HEADER
    + '''
def JOB_NAME(
    ctx, *, collection="orders", time_field="created_at", period="previous_day",
    amount_field="", max_lines=50, send_when_empty=True, **params
):
    """Email the account owner a digest of a collection's records of the previous Eastern day.

    With period "since_last_run" the digest covers the records since the previous digest
    (a cursor in ctx.state) instead, and with "today" the Eastern day so far. A scheduled
    run sends each digest once.
    """
    eastern = ZoneInfo("America/New_York")

    def iso_z(instant):
        return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def line_for(record):
        shown = [
            f"{key}: {value}" for key, value in record.items()
            if key not in ("id", "created_at", "updated_at") and not isinstance(value, (dict, list))
        ]
        return "  - " + (", ".join(shown)[:200] or f"record {record['id']}")

    if period == "today":
        day = ctx.scheduled_for.astimezone(eastern).date()
        start = datetime.combine(day, time(0), tzinfo=eastern).astimezone(UTC)
        end = ctx.scheduled_for
        label = f"{day:%A, %B} {day.day}, {day.year} (so far)"
    elif period == "since_last_run":
        end = ctx.scheduled_for
        since = ctx.state.get("digest_cursor")
        start = datetime.fromisoformat(since.replace("Z", "+00:00")) if since else end - timedelta(days=1)
        label = f"since {start.astimezone(eastern):%a %b %d %I:%M %p} Eastern"
    else:
        day = ctx.scheduled_for.astimezone(eastern).date() - timedelta(days=1)
        start = datetime.combine(day, time(0), tzinfo=eastern).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=eastern).astimezone(UTC)
        label = f"{day:%A, %B} {day.day}, {day.year}"
    records = ctx.data[collection].find(
        {time_field: {"$gte": iso_z(start), "$lt": iso_z(end)}}, order_by=time_field
    )
    result = {"collection": collection, "from": iso_z(start), "to": iso_z(end), "records": len(records)}
    owner = ctx.account.owner_email
    if not owner:
        ctx.log.warning("the account has no owner email; the digest is not sent")
        return {**result, "sent": False}
    if not records and not send_when_empty:
        return {**result, "sent": False}
    scheduled = ctx.source in ("schedule", "catch_up")
    if scheduled and ctx.state.get("digest_sent") == iso_z(end):
        return {**result, "sent": False, "reason": "already sent"}
    lines = [f"{len(records)} {collection} for {label}", ""]
    if amount_field:
        total = sum(record.get(amount_field) or 0 for record in records
                    if isinstance(record.get(amount_field), (int, float)))
        shown = f"${total / 100:,.2f}" if amount_field.endswith("_cents") else f"{total:,}"
        lines += [f"Total: {shown}", ""]
        result["total"] = total
    lines += [line_for(record) for record in records[:max_lines]]
    if len(records) > max_lines:
        lines.append(f"  ... and {len(records) - max_lines} more")
    subject = f"{collection.capitalize()} digest: {len(records)} for {label}"
    ctx.email.send(owner, subject, "\\n".join(lines) + "\\n")
    if scheduled:
        ctx.state.set("digest_sent", iso_z(end))
        ctx.state.set("digest_cursor", iso_z(end))
    return {**result, "sent": True}
'''
)

REMINDER = (
    _HEADER
    + '''
def JOB_NAME(
    ctx, *, collection="appointments", time_field="starts_at", channel="sms",
    phone_field="phone", email_field="email", name_field="customer", event="appointment",
    lead_minutes=1440, window_minutes=60, next_day=False, **params
):
    """Remind each record starting lead_minutes after this slot, once: by SMS (or email).

    Each run looks at [scheduled_for + lead, + window): consecutive runs cover time without
    gaps or overlaps. With next_day, a run looks at the whole next Eastern day instead. A
    record is marked reminded_at right after its reminder is sent and is never reminded
    again, even when a run is retried.
    """
    eastern = ZoneInfo("America/New_York")

    def iso_z(instant):
        return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def when(text):
        local = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(eastern)
        hour = local.hour % 12 or 12
        return f"{local:%a %b} {local.day} at {hour}:{local:%M} {'AM' if local.hour < 12 else 'PM'}"

    if next_day:
        day = ctx.scheduled_for.astimezone(eastern).date() + timedelta(days=1)
        window_start = datetime.combine(day, time(0), tzinfo=eastern).astimezone(UTC)
        window_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=eastern).astimezone(UTC)
    else:
        window_start = ctx.scheduled_for + timedelta(minutes=lead_minutes)
        window_end = window_start + timedelta(minutes=window_minutes)
    items = ctx.data[collection].find(
        {time_field: {"$gte": iso_z(window_start), "$lt": iso_z(window_end)}}, order_by=time_field
    )
    sent = skipped = 0
    for item in items:
        address = str(item.get(phone_field if channel == "sms" else email_field) or "").strip()
        if item.get("reminded_at") or not address:
            skipped += 1
            continue
        name = str(item.get(name_field) or "").strip()
        greeting = f"Hi {name.split()[0]}, " if name else "Hi, "
        text = (
            f"{greeting}a reminder from {ctx.account.name}: your {event} is on "
            f"{when(item[time_field])} (Eastern)."
        )
        if channel == "sms":
            ctx.sms.send(address, text)
        else:
            ctx.email.send(address, f"Reminder from {ctx.account.name}", text)
        ctx.data[collection].update({"id": item["id"]}, {"reminded_at": iso_z(ctx.now())})
        sent += 1
    return {"window_start": iso_z(window_start), "window_end": iso_z(window_end), "due": len(items),
            "sent": sent, "skipped": skipped}
'''
)

QUEUE_PROCESSOR = (
    _HEADER
    + '''
def JOB_NAME(ctx, *, collection="tasks", batch_size=100, min_seconds_left=10, **params):
    """Work through a collection in batches, resuming after the last record done.

    The cursor (the id of the last record processed) lives in ctx.state and moves after each
    record, so a run that stops early (deadline, crash) resumes exactly where it stopped.
    Each record is marked processed_at; put the real work where the comment says.
    """
    def iso_z(instant):
        return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    cursor = ctx.state.get("cursor", 0)
    items = ctx.data[collection].find({"id": {"$gt": cursor}}, order_by="id", limit=int(batch_size))
    processed = 0
    for item in items:
        if ctx.time_left() < min_seconds_left:
            ctx.log.info("stopping early near the deadline; the next run resumes after %s", cursor)
            break
        # The work for one record goes here; it must be safe to redo after a crash.
        ctx.data[collection].update({"id": item["id"]}, {"processed_at": iso_z(ctx.now())})
        cursor = item["id"]
        ctx.state.set("cursor", cursor)
        processed += 1
    remaining = ctx.data[collection].count({"id": {"$gt": cursor}})
    return {"processed": processed, "cursor": cursor, "remaining": remaining}
'''
)

HTTP_SYNC = (
    _HEADER
    + '''
def JOB_NAME(
    ctx, *, collection="items", url="", url_variable="SYNC_URL", token_secret="SYNC_API_KEY",
    key_field="id", **params
):
    """Pull records changed since the last sync from an HTTP API and upsert them by their key.

    GET {url}?updated_since=<last sync> answers a JSON list, or {"items": [...]}. The URL is
    the url param or the variable url_variable; a bearer token is the secret token_secret when
    set. The time a sync started is saved only after every record is stored, so a failed run
    is simply redone.
    """
    def iso_z(instant):
        return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    target = url or ctx.env.get(url_variable) or ""
    if not target:
        raise RuntimeError(f"set the variable {url_variable} to the API's URL")
    token = ctx.secrets.get(token_secret)
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    since = ctx.state.get("last_sync")
    started = iso_z(ctx.now())
    response = ctx.http.get(target, params={"updated_since": since} if since else None, headers=headers)
    response.raise_for_status()
    body = response.json()
    items = body.get("items", []) if isinstance(body, dict) else body
    records = ctx.data[collection]
    inserted = updated = skipped = 0
    for item in items:
        key = item.get(key_field) if isinstance(item, dict) else None
        if key is None:
            skipped += 1
            continue
        fields = {name: value for name, value in item.items()
                  if name not in ("id", "created_at", "updated_at") and name.isidentifier()}
        fields["external_id"] = str(key)
        fields["synced_at"] = started
        if records.update({"external_id": str(key)}, fields):
            updated += 1
        else:
            records.insert(fields)
            inserted += 1
    ctx.state.set("last_sync", started)
    return {"received": len(items), "inserted": inserted, "updated": updated, "skipped": skipped,
            "since": since, "synced_at": started}
'''
)

CLEANUP = (
    _HEADER
    + '''
def JOB_NAME(ctx, *, collections=("sessions",), retention_days=30, **params):
    """Delete the records created more than retention_days before this run's slot.

    The cutoff counts back from ctx.scheduled_for, not the clock, so a late catch-up run
    deletes exactly what the on-time run would have; running twice deletes nothing more.
    """
    def iso_z(instant):
        return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    if isinstance(retention_days, bool) or not isinstance(retention_days, int) or retention_days < 1:
        raise ValueError(f"retention_days must be a whole number of days, at least 1; got {retention_days!r}")
    names = [collections] if isinstance(collections, str) else list(collections)
    cutoff = iso_z(ctx.scheduled_for - timedelta(days=retention_days))
    deleted = {}
    for name in names:
        deleted[name] = ctx.data[name].delete({"created_at": {"$lt": cutoff}})
        ctx.log.info("%s: deleted %s record(s) created before %s", name, deleted[name], cutoff)
    return {"cutoff": cutoff, "deleted": deleted, "total": sum(deleted.values())}
'''
)

REPORT = (
    _HEADER
    + '''
def JOB_NAME(
    ctx, *, collection="orders", time_field="created_at", amount_field="", period_days=1,
    report_collection="reports", email_owner=True, **params
):
    """Count a collection's records (and total an amount) per Eastern day over the last period_days
    days before this run, store the report, and email it to the owner.

    The report is stored under its period's key, so a repeated run replaces it, never doubles it.
    """
    eastern = ZoneInfo("America/New_York")

    def iso_z(instant):
        return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    last_day = ctx.scheduled_for.astimezone(eastern).date() - timedelta(days=1)
    first_day = last_day - timedelta(days=int(period_days) - 1)
    start = datetime.combine(first_day, time(0), tzinfo=eastern).astimezone(UTC)
    end = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=eastern).astimezone(UTC)
    records = ctx.data[collection].find({time_field: {"$gte": iso_z(start), "$lt": iso_z(end)}})
    per_day = {}
    total = 0
    for record in records:
        stamp = record.get(time_field)
        if isinstance(stamp, datetime):
            moment = stamp
        else:
            moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        day = moment.astimezone(eastern).date().isoformat()
        per_day[day] = per_day.get(day, 0) + 1
        amount = record.get(amount_field) if amount_field else None
        if isinstance(amount, (int, float)) and not isinstance(amount, bool):
            total += amount
    key = f"{collection}:{first_day.isoformat()}:{last_day.isoformat()}"
    report = {"key": key, "collection": collection, "from": first_day.isoformat(), "to": last_day.isoformat(),
              "count": len(records), "per_day": per_day}
    if amount_field:
        report["total_" + amount_field] = total
    reports = ctx.data[report_collection]
    if not reports.update({"key": key}, report):
        reports.insert(report)
    owner = ctx.account.owner_email
    if email_owner and owner:
        lines = [f"{collection.capitalize()} from {first_day:%b %d} to {last_day:%b %d} (Eastern days)", "",
                 f"Count: {len(records)}"]
        if amount_field:
            shown = f"${total / 100:,.2f}" if amount_field.endswith("_cents") else f"{total:,}"
            lines.append(f"Total: {shown}")
        lines += [""] + [f"  {day}: {count}" for day, count in sorted(per_day.items())]
        ctx.email.send(owner, f"{collection.capitalize()} report: {len(records)}", "\\n".join(lines) + "\\n")
    return {"key": key, "count": len(records), "emailed": bool(email_owner and owner)}
'''
)

TEMPLATES: dict[str, Template] = {
    template.key: template
    for template in (
        Template("email_digest", "email digest", "digest", 2, 120, "skip", "latest", 2,
                 {"collection": "orders", "time_field": "created_at", "period": "previous_day"},
                 EMAIL_DIGEST),
        Template("sms_reminder", "reminder before an event", "reminders", 1, 120, "skip", "all", 2,
                 {"collection": "appointments", "event": "appointment", "time_field": "starts_at",
                  "channel": "sms", "lead_minutes": 1440, "window_minutes": 60}, REMINDER),
        Template("queue_processor", "batch queue processor", "queue", 1, 60, "skip", "none", 0,
                 {"collection": "tasks", "batch_size": 100}, QUEUE_PROCESSOR),
        Template("http_sync", "HTTP sync", "sync", 3, 240, "skip", "latest", 2,
                 {"collection": "items", "url_variable": "SYNC_URL", "key_field": "id"}, HTTP_SYNC),
        Template("cleanup", "cleanup", "cleanup", 1, 300, "skip", "latest", 1,
                 {"collections": ["sessions"], "retention_days": 30}, CLEANUP),
        Template("report", "report", "report", 2, 180, "skip", "latest", 1,
                 {"collection": "orders", "time_field": "created_at", "period_days": 1}, REPORT),
    )
}  # fmt: skip
