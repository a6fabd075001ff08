"""Appointment reminders: an SMS a day ahead for each upcoming appointment, sent once.

Appointment records (collection ``appointments``)::

    {"customer": "Grace Hopper", "phone": "+15555550123",
     "starts_at": "2026-11-24T19:30:00Z", "service": "Haircut"}

The job adds ``reminded_at`` (ISO-8601 UTC) to an appointment right after its reminder is
sent; appointments that already have it are never texted again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/New_York")
MIN_SECONDS_LEFT = 10  # stop sending when the run is this close to its deadline


def iso_z(instant):
    """An aware datetime as the ISO-8601 UTC text records use ("2026-11-22T13:05:00Z")."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text):
    """ISO-8601 text from a record ("...Z") as an aware UTC datetime (no offset means UTC)."""
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def eastern_label(instant):
    """When, in Eastern wall-clock time, for a text message: "Tue Nov 24 at 2:30 PM"."""
    local = instant.astimezone(EASTERN)
    hour = local.hour % 12 or 12
    return f"{local:%a %b} {local.day} at {hour}:{local:%M} {'AM' if local.hour < 12 else 'PM'}"


def reminder_text(business, appointment, starts_at):
    """The SMS body for one appointment."""
    name = (appointment.get("customer") or "").strip()
    greeting = f"Hi {name.split()[0]}, " if name else "Hi, "
    service = (appointment.get("service") or "appointment").strip()
    return f"{greeting}a reminder from {business}: your {service} is on {eastern_label(starts_at)}."


def send_reminders(ctx, *, lead_hours=24, window_minutes=60, **params):
    """Text a reminder for each appointment starting in this slot's window, once per appointment.

    The window is [scheduled_for + lead_hours, + window_minutes), so consecutive hourly slots
    cover time without gaps or overlaps, and a catch-up run covers its own slot's window.
    Steps per appointment: skip it if already reminded or already started; send the SMS;
    record ``reminded_at``. A failed send is logged and the others go on; the run then fails
    so that its retry tries the failed ones again (the sent ones are marked and skipped).
    """
    window_start = ctx.scheduled_for + timedelta(hours=lead_hours)
    window_end = window_start + timedelta(minutes=window_minutes)
    appointments = ctx.data["appointments"]
    due = appointments.find(
        {"starts_at": {"$gte": iso_z(window_start), "$lt": iso_z(window_end)}}, order_by="starts_at"
    )
    now = ctx.now()
    sent = skipped = 0
    failed = []
    for appointment in due:
        if appointment.get("reminded_at"):
            skipped += 1
            continue
        starts_at = parse_iso(appointment["starts_at"])
        phone = (appointment.get("phone") or "").strip()
        if starts_at <= now or not phone:
            reason = "it has started" if phone else "no phone number"
            ctx.log.info("appointment %s not reminded: %s", appointment["id"], reason)
            skipped += 1
            continue
        if ctx.time_left() < MIN_SECONDS_LEFT:
            ctx.log.warning("stopping early, close to the deadline; the retry sends the rest")
            failed.append(appointment["id"])
            break
        try:
            ctx.sms.send(phone, reminder_text(ctx.account.name, appointment, starts_at))
        except Exception:
            ctx.log.exception("reminder for appointment %s could not be sent", appointment["id"])
            failed.append(appointment["id"])
            continue
        appointments.update({"id": appointment["id"]}, {"reminded_at": iso_z(ctx.now())})
        sent += 1

    summary = {
        "window_start": iso_z(window_start),
        "window_end": iso_z(window_end),
        "due": len(due),
        "sent": sent,
        "skipped": skipped,
        "failed": len(failed),
    }
    ctx.log.info("reminders: %s", summary)
    if failed:
        raise RuntimeError(f"{len(failed)} reminder(s) not sent (appointments {failed}); see the log")
    return summary
