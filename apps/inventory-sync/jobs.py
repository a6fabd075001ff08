"""Inventory sync: supplier stock levels into the ``inventory`` collection, incrementally.

The supplier API (``SUPPLIER_URL``, bearer token ``SUPPLIER_API_KEY``)::

    GET {SUPPLIER_URL}/stock?updated_since=2026-11-22T13:10:00Z[&cursor=...]
    200 {"items": [{"sku": "MUG-01", "name": "Mug", "quantity": 7, "updated_at": "..."}],
         "next": "opaque-cursor" | null}

Inventory records: {"sku", "name", "quantity", "supplier_updated_at", "synced_at", "low_alerted_at"}.
The time a sync started is saved in ``ctx.state["last_sync"]`` only once every page has been
stored, so a failed run is simply redone by the retry or the next hour; upserting by sku makes
re-reading items harmless.
"""

from __future__ import annotations

from datetime import UTC

LAST_SYNC_KEY = "last_sync"
MIN_SECONDS_LEFT = 15  # give up (and leave last_sync alone) when the deadline is this close


def iso_z(instant):
    """An aware datetime as the ISO-8601 UTC text records use ("2026-11-22T13:05:00Z")."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fetch_pages(ctx, url, token, since, max_pages):
    """Yield each page's items, following the ``next`` cursor; raises on HTTP errors and runaway cursors."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    query = {"updated_since": since} if since else {}
    seen = set()
    for _page in range(max_pages):
        if ctx.time_left() < MIN_SECONDS_LEFT:
            raise TimeoutError("not enough time left to fetch the next page; the next run starts over")
        response = ctx.http.get(f"{url}/stock", params=query, headers=headers)
        response.raise_for_status()
        body = response.json()
        yield body.get("items") or []
        cursor = body.get("next")
        if not cursor:
            return
        if cursor in seen:
            raise RuntimeError(f"the supplier returned the page cursor {cursor!r} twice")
        seen.add(cursor)
        query = {**query, "cursor": cursor}
    raise RuntimeError(f"more than {max_pages} pages of stock; raise max_pages if that is expected")


def store_page(inventory, items, synced_at, reorder_level, counts):
    """Upsert one page of items by sku (one lookup per page); items without a sku or a count are skipped.

    An item back at or above the reorder level loses its ``low_alerted_at`` mark, so the next
    drop is alerted again.
    """
    valid = {}
    for item in items:
        sku = str(item.get("sku") or "").strip()
        quantity = item.get("quantity")
        if not sku or not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
            counts["skipped"] += 1
            continue
        valid[sku] = item
    if not valid:
        return
    existing = {record["sku"]: record for record in inventory.find({"sku": {"$in": sorted(valid)}})}
    for sku, item in valid.items():
        before = existing.get(sku)
        changes = {
            "name": item.get("name") or (before or {}).get("name") or sku,
            "quantity": item["quantity"],
            "supplier_updated_at": item.get("updated_at"),
            "synced_at": synced_at,
        }
        if item["quantity"] >= reorder_level:
            changes["low_alerted_at"] = None
        if before is None:
            inventory.insert({"sku": sku, **changes})
            counts["inserted"] += 1
        else:
            inventory.update({"sku": sku}, changes)
            counts["updated"] += 1


def alert_low_stock(ctx, inventory, reorder_level):
    """Email the owner the items below the reorder level not alerted yet, then mark them alerted.

    The mark is kept on the record, so an alert is sent once per drop even when a run fails
    between storing the stock and sending the email.
    """
    low = [
        record
        for record in inventory.find({"quantity": {"$lt": reorder_level}}, order_by="sku")
        if not record.get("low_alerted_at")
    ]
    if not low or not ctx.account.owner_email:
        return []
    subject, text = low_stock_email(ctx.account.name, reorder_level, low)
    ctx.email.send(ctx.account.owner_email, subject, text)
    skus = [record["sku"] for record in low]
    inventory.update({"sku": {"$in": skus}}, {"low_alerted_at": iso_z(ctx.now())})
    return skus


def low_stock_email(account_name, reorder_level, records):
    """Subject and text of the low-stock alert."""
    lines = [f"These items at {account_name} just fell below the reorder level ({reorder_level}):", ""]
    lines += [f"  {r['sku']:<16} {r['quantity']:>5}  {r.get('name') or ''}".rstrip() for r in records]
    subject = f"{len(records)} item{'s' if len(records) != 1 else ''} below the reorder level"
    return subject, "\n".join(lines) + "\n"


def sync_stock(ctx, *, reorder_level=10, max_pages=100, **params):
    """Pull stock changed since the last sync, upsert it by sku, and alert the owner to new low stock.

    Steps: read SUPPLIER_URL and SUPPLIER_API_KEY; note the start time; fetch and store every
    page; email the owner the items below ``reorder_level`` not alerted yet; only then save
    the start time as the next run's ``updated_since``.
    """
    url = (ctx.env.get("SUPPLIER_URL") or "").rstrip("/")
    token = ctx.secrets.get("SUPPLIER_API_KEY")
    if not url or not token:
        raise RuntimeError("set the variable SUPPLIER_URL and the secret SUPPLIER_API_KEY for this app")
    since = ctx.state.get(LAST_SYNC_KEY)
    started = iso_z(ctx.now())
    counts = {"pages": 0, "received": 0, "inserted": 0, "updated": 0, "skipped": 0}
    inventory = ctx.data["inventory"]
    for items in fetch_pages(ctx, url, token, since, int(max_pages)):
        counts["pages"] += 1
        counts["received"] += len(items)
        store_page(inventory, items, started, reorder_level, counts)
    ctx.log.info("stock sync since %s: %s", since or "the beginning", counts)
    alerted = alert_low_stock(ctx, inventory, reorder_level)
    if alerted:
        ctx.log.info("low stock alert sent for %s item(s)", len(alerted))
    ctx.state.set(LAST_SYNC_KEY, started)
    return {**counts, "since": since, "synced_at": started, "low_stock_alerted": alerted}
