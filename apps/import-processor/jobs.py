"""Import processor: turns uploaded rows into contacts, a chunk at a time, resuming where it stopped.

Collections::

    import_batches  {"batch": "leads-2026-11", "status": "pending" | "processing" | "done",
                     "rows": 1200, "processed": 0, "failed": 0}
    import_rows     {"batch": "leads-2026-11", "row_number": 1, "email": "...", "name": "...",
                     "company": "...", ...any other columns}
    contacts        {"email": "...", "name": "...", "company": "...", ..., "source": "import:<batch>"}

Progress lives in ``ctx.state`` under ``import:<batch record id>``: the last row number done and the
counts so far, saved in one write after each chunk, so a run that stops (deadline, crash)
resumes at the next row and counts nothing twice. Upserting by email makes redoing a row
harmless. Invalid rows get an ``error`` field saying why.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
ROW_FIELDS_NOT_COPIED = {"id", "created_at", "updated_at", "batch", "row_number", "error", "email"}


def iso_z(instant):
    """An aware datetime as the ISO-8601 UTC text records use ("2026-11-22T13:05:00Z")."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def progress_key(record):
    """The state key of a batch's progress: by record id, so a reused batch name starts afresh."""
    return f"import:{record['id']}"


def check_row(row):
    """The normalized email of a valid row, or (None, reason) for an invalid one."""
    email = str(row.get("email") or "").strip().lower()
    if not email:
        return None, "missing email"
    if not EMAIL.match(email):
        return None, "invalid email"
    return email, None


def upsert_contact(contacts, email, row, batch):
    """Insert the contact for ``email`` or merge the row's columns into it; True when it was new."""
    fields = {
        key: value
        for key, value in row.items()
        if key not in ROW_FIELDS_NOT_COPIED and value is not None and value != ""
    }
    fields["source"] = f"import:{batch}"
    if contacts.find({"email": email}, limit=1):
        contacts.update({"email": email}, fields)
        return False
    contacts.insert({"email": email, **fields})
    return True


def next_batch(batches):
    """The batch to work on: one already processing (resume), else the oldest pending one, claimed.

    Claiming is a conditional update (pending -> processing) whose row count is checked, so two
    runs can never both start the same batch.
    """
    for record in batches.find({"status": "processing"}, order_by="id", limit=1):
        return record
    for record in batches.find({"status": "pending"}, order_by="id", limit=5):
        if batches.update({"id": record["id"], "status": "pending"}, {"status": "processing"}) == 1:
            return {**record, "status": "processing"}
    return None


def process_chunk(ctx, record, progress, batch_size, min_seconds_left):
    """Process up to ``batch_size`` rows after the cursor, then save progress.

    Returns whether rows may remain: False once a chunk comes back short and fully processed.
    """
    batch = record["batch"]
    rows = ctx.data["import_rows"].find(
        {"batch": batch, "row_number": {"$gt": progress["cursor"]}}, order_by="row_number", limit=batch_size
    )
    contacts = ctx.data["contacts"]
    for row in rows:
        if ctx.time_left() < min_seconds_left:
            break
        email, reason = check_row(row)
        if reason:
            ctx.data["import_rows"].update({"id": row["id"]}, {"error": reason})
            progress["failed"] += 1
            progress["reasons"][reason] = progress["reasons"].get(reason, 0) + 1
        elif upsert_contact(contacts, email, row, batch):
            progress["created"] += 1
        else:
            progress["updated"] += 1
        progress["processed"] += 1
        progress["cursor"] = row["row_number"]
    ctx.state.set(progress_key(record), progress)
    if not rows:
        return False
    return len(rows) == batch_size or progress["cursor"] != rows[-1]["row_number"]


def finish(ctx, record, progress):
    """Mark the batch done (once: a conditional update) and email the owner a completion note."""
    batch = record["batch"]
    changes = {
        "status": "done",
        "processed": progress["processed"],
        "failed": progress["failed"],
        "finished_at": iso_z(ctx.now()),
    }
    if ctx.data["import_batches"].update({"id": record["id"], "status": "processing"}, changes) != 1:
        return False
    owner = ctx.account.owner_email
    if owner:
        reasons = Counter(progress["reasons"])
        lines = [
            f'Your import "{batch}" is done.',
            "",
            f"Rows processed:   {progress['processed']}",
            f"New contacts:     {progress['created']}",
            f"Updated contacts: {progress['updated']}",
            f"Rows not imported: {progress['failed']}",
        ]
        lines += [f"  {count} x {reason}" for reason, count in reasons.most_common()]
        if progress["failed"]:
            lines += ["", 'Rows that were not imported carry an "error" field saying why.']
        ctx.email.send(owner, f'Import "{batch}" finished', "\n".join(lines) + "\n")
    return True


def process_batch(ctx, *, batch_size=250, chunks_per_run=1, min_seconds_left=10, **params):
    """Import up to ``chunks_per_run`` chunks of the current batch, then resume next minute.

    Steps: pick (or claim) a batch; load its progress from state; process chunks, saving
    progress after each; mirror the counts on the batch record; when no rows are left, mark
    it done and email the owner. Runs every minute, one at a time (overlap "skip"); it also
    stops early when the deadline is near.
    """
    batch_size = max(1, int(batch_size))
    chunks_left = max(1, int(chunks_per_run))
    batches = ctx.data["import_batches"]
    summary = {"batch": None, "processed": 0, "failed": 0, "done": False, "stopped_early": False}
    record = next_batch(batches)
    if record is None:
        return summary
    batch = record["batch"]
    progress = ctx.state.get(progress_key(record)) or {
        "cursor": 0,
        "processed": 0,
        "failed": 0,
        "created": 0,
        "updated": 0,
        "reasons": {},
    }
    start_processed, start_failed = progress["processed"], progress["failed"]
    more = True
    while more and chunks_left > 0:
        if ctx.time_left() < min_seconds_left:
            summary["stopped_early"] = True
            break
        more = process_chunk(ctx, record, progress, batch_size, min_seconds_left)
        chunks_left -= 1
        batches.update(
            {"id": record["id"]}, {"processed": progress["processed"], "failed": progress["failed"]}
        )
    summary.update(
        batch=batch,
        processed=progress["processed"] - start_processed,
        failed=progress["failed"] - start_failed,
    )
    if not more:
        summary["done"] = finish(ctx, record, progress)
    ctx.log.info("import %s: %s", batch, summary)
    return summary
