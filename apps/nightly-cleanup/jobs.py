"""Nightly cleanup: delete records past their retention period, collection by collection.

A record's age is its system field ``created_at``. Deleting by a cutoff is idempotent: a
retry or a second run the same night deletes nothing more.
"""

from __future__ import annotations

import re
from datetime import UTC, timedelta

COLLECTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$")


def iso_z(instant):
    """An aware datetime as the ISO-8601 UTC text records use ("2026-11-22T13:05:00Z")."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def checked_params(retention_days, collections):
    """The params, validated: a mistake here must fail loudly rather than delete the wrong data."""
    if isinstance(retention_days, bool) or not isinstance(retention_days, int) or retention_days < 1:
        raise ValueError(f"retention_days must be a whole number of days, at least 1; got {retention_days!r}")
    if isinstance(collections, str):
        collections = [collections]
    elif isinstance(collections, tuple):
        collections = list(collections)
    if not isinstance(collections, list) or not all(isinstance(name, str) for name in collections):
        raise ValueError(f"collections must be a list of collection names; got {collections!r}")
    bad = [name for name in collections if not COLLECTION_NAME.match(name)]
    if bad:
        raise ValueError(f"not collection names: {bad}")
    return retention_days, list(dict.fromkeys(collections))


def purge_old_records(ctx, *, retention_days=90, collections=(), **params):
    """Delete records created more than ``retention_days`` before this run's slot, per collection.

    The cutoff counts back from ``ctx.scheduled_for`` (not the clock), so a late catch-up run
    deletes exactly what the on-time run would have.
    """
    retention_days, names = checked_params(retention_days, collections)
    cutoff = iso_z(ctx.scheduled_for - timedelta(days=retention_days))
    deleted = {}
    for name in names:
        deleted[name] = ctx.data[name].delete({"created_at": {"$lt": cutoff}})
        ctx.log.info("%s: deleted %s record(s) created before %s", name, deleted[name], cutoff)
    if not names:
        ctx.log.warning("no collections listed in the params; nothing to clean up")
    return {
        "cutoff": cutoff,
        "retention_days": retention_days,
        "deleted": deleted,
        "total": sum(deleted.values()),
    }
