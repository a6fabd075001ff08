"""Order digest: a morning email summarising the previous Eastern day's orders.

Order records (collection ``orders``)::

    {"number": "1042", "customer": "Ada Lovelace", "total_cents": 4599,
     "placed_at": "2026-11-22T13:05:00Z",
     "items": [{"sku": "MUG-01", "name": "Mug", "qty": 2, "price_cents": 1500}]}
"""

from __future__ import annotations

import html
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

EASTERN = ZoneInfo("America/New_York")
SENT_KEY = "last_digest_day"  # ctx.state: the Eastern date of the last digest a scheduled run sent


def iso_z(instant):
    """An aware datetime as the ISO-8601 UTC text records use ("2026-11-22T13:05:00Z")."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def previous_eastern_day(instant):
    """The Eastern calendar day before ``instant``'s, with its start and end as UTC instants.

    Midnight is converted in Eastern, so the span is 23 or 25 hours on the days clocks change.
    """
    day = instant.astimezone(EASTERN).date() - timedelta(days=1)
    start = datetime.combine(day, time(0), tzinfo=EASTERN).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=EASTERN).astimezone(UTC)
    return day, start, end


def money(cents):
    """Cents as dollars for people: 123456 -> "$1,234.56"."""
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


def summarize(orders, top_n):
    """Count, revenue and the top items (by quantity) and customers (by spend) of ``orders``."""
    total = 0
    item_qty = Counter()
    item_names = {}
    customer_spend = Counter()
    for order in orders:
        cents = int(order.get("total_cents") or 0)
        total += cents
        customer_spend[order.get("customer") or "(no name)"] += cents
        for item in order.get("items") or []:
            sku = item.get("sku") or item.get("name") or "?"
            item_qty[sku] += int(item.get("qty") or 0)
            item_names.setdefault(sku, item.get("name") or sku)
    return {
        "orders": len(orders),
        "total_cents": total,
        "average_cents": round(total / len(orders)) if orders else 0,
        "top_items": [(item_names[sku], qty) for sku, qty in item_qty.most_common(top_n)],
        "top_customers": customer_spend.most_common(top_n),
    }


def render_text(account_name, day_label, summary):
    """The plain-text body of the digest."""
    lines = [f"Orders for {account_name} on {day_label} (Eastern time)", ""]
    if not summary["orders"]:
        lines.append("No orders were placed that day.")
        return "\n".join(lines) + "\n"
    lines.append(f"Orders:  {summary['orders']}")
    lines.append(f"Revenue: {money(summary['total_cents'])}")
    lines.append(f"Average: {money(summary['average_cents'])}")
    lines += ["", "Top items:"]
    lines += [f"  {qty:>4} x {name}" for name, qty in summary["top_items"]]
    lines += ["", "Top customers:"]
    lines += [f"  {money(cents):>12}  {name}" for name, cents in summary["top_customers"]]
    return "\n".join(lines) + "\n"


def render_html(account_name, day_label, summary):
    """The HTML body of the digest: the same content as the text, in two small tables."""
    esc = html.escape
    parts = [f"<h2>Orders for {esc(account_name)} on {esc(day_label)}</h2>"]
    if not summary["orders"]:
        parts.append("<p>No orders were placed that day.</p>")
        return "\n".join(parts)
    parts.append(
        f"<p><strong>{summary['orders']}</strong> orders, <strong>{money(summary['total_cents'])}</strong> "
        f"revenue, {money(summary['average_cents'])} on average.</p>"
    )
    parts.append("<h3>Top items</h3><table>")
    parts += [
        f'<tr><td>{esc(name)}</td><td align="right">{qty}</td></tr>' for name, qty in summary["top_items"]
    ]
    parts.append("</table><h3>Top customers</h3><table>")
    parts += [
        f'<tr><td>{esc(name)}</td><td align="right">{money(cents)}</td></tr>'
        for name, cents in summary["top_customers"]
    ]
    parts.append("</table>")
    return "\n".join(parts)


def daily_summary(ctx, *, top_n=5, send_when_empty=True, **params):
    """Email the owner a digest of the orders placed on the Eastern day before ``ctx.scheduled_for``.

    A scheduled or catch-up run sends each day's digest once (a retry after a successful send
    does not send it again); a manual run always sends.
    """
    day, start, end = previous_eastern_day(ctx.scheduled_for)
    day_label = f"{day:%A, %B} {day.day}, {day.year}"
    summary = summarize(
        ctx.data["orders"].find(
            {"placed_at": {"$gte": iso_z(start), "$lt": iso_z(end)}}, order_by="placed_at"
        ),
        int(top_n),
    )
    result = {"day": day.isoformat(), "orders": summary["orders"], "total_cents": summary["total_cents"]}
    ctx.log.info("%s orders on %s totalling %s", summary["orders"], day, money(summary["total_cents"]))

    owner = ctx.account.owner_email
    if not owner:
        ctx.log.warning("the account has no owner email; the digest is not sent")
        return {**result, "sent": False, "reason": "no owner email"}
    if not summary["orders"] and not send_when_empty:
        return {**result, "sent": False, "reason": "no orders"}
    scheduled = ctx.source in ("schedule", "catch_up")
    if scheduled and ctx.state.get(SENT_KEY) == day.isoformat():
        ctx.log.info("the digest for %s was already sent", day)
        return {**result, "sent": False, "reason": "already sent"}

    subject = f"{summary['orders']} orders, {money(summary['total_cents'])} on {day:%a %b} {day.day}"
    if not summary["orders"]:
        subject = f"No orders on {day:%a %b} {day.day}"
    ctx.email.send(
        owner,
        subject,
        render_text(ctx.account.name, day_label, summary),
        html=render_html(ctx.account.name, day_label, summary),
    )
    if scheduled:
        ctx.state.set(SENT_KEY, day.isoformat())
    return {**result, "sent": True, "to": owner}
