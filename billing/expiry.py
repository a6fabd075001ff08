"""Expiring grants: when a grant expires, what is left of it leaves the balance in one entry.

The rule (docs/decisions.md, "Expiring grants are spent first"):

- a charge is paid from the account's live expiring grants first, the one expiring soonest
  first (ties: the older grant), and only then from credits that never expire (purchases,
  grants without an expiry, refunds and positive adjustments);
- a grant that arrives while the account is in overdraft pays that debt first;
- when a grant expires, the part of it no charge used leaves the balance as one ``expiry``
  entry (zero when it was all spent), keyed ``expiry:<grant entry id>`` so running the expiry
  again never takes it twice; it never takes more than the balance holds.

Nothing is tracked per charge: ``ledger.post`` stays three statements. The split is worked
out when a grant expires, by replaying the account's ledger from the previous expiry of the
same run of overlapping grants (each expiry entry keeps the replay's state in its detail),
or, for the first expiry of a run, from the run's start (before it no expiring grant is
live, so the replay can start from plain totals). Charges between two grant events are
summed in SQL, one bucket per interval, because within an interval the order of charges
does not change which grant pays: each takes from the soonest-expiring grant with credit
left, so their total does the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, case, cast, exists, func, literal, select, update
from sqlalchemy.orm import Session, aliased

from billing.ledger import Posting, balance_of, post
from billing.models import Balance, LedgerEntry

EXPIRY_PREFIX = "expiry:"


def expiry_key(grant_id: int) -> str:
    """The idempotency key of the entry that expires the grant whose ledger entry is ``grant_id``."""
    return f"{EXPIRY_PREFIX}{grant_id}"


@dataclass(frozen=True)
class Grant:
    id: int
    account_id: int
    amount: int
    created_at: datetime
    expires_at: datetime

    @property
    def order(self) -> tuple[datetime, int]:
        """Which of two live grants pays first (and expires first): soonest expiry, then the older."""
        return (self.expires_at, self.id)


@dataclass(frozen=True)
class Expired:
    """One grant expired: ``removed`` micro-credits left the balance (``granted - removed`` were used)."""

    grant_id: int
    account_id: int
    granted: int
    removed: int
    entry_id: int
    new: bool


def due_accounts(session: Session, now: datetime) -> list[int]:
    """Accounts holding a grant that has expired by ``now`` and has no expiry entry yet.

    Reads only the partial index of expiring grants and probes the unique key index once per
    expired grant, never the charges.
    """
    done = aliased(LedgerEntry)
    key = literal(EXPIRY_PREFIX, String) + cast(LedgerEntry.id, String)
    query = (
        select(LedgerEntry.account_id)
        .where(LedgerEntry.expires_at.is_not(None), LedgerEntry.expires_at <= now)
        .where(~exists(select(done.id).where(done.idempotency_key == key)))
        .distinct()
        .order_by(LedgerEntry.account_id)
    )
    return [int(account_id) for account_id in session.scalars(query)]


def expire_due(session: Session, now: datetime) -> list[Expired]:
    """Expire every grant due at ``now``, account by account, in the caller's transaction."""
    expired: list[Expired] = []
    for account_id in due_accounts(session, now):
        expired.extend(expire_account(session, account_id, now))
    return expired


def expire_account(session: Session, account_id: int, now: datetime) -> list[Expired]:
    """Expire the account's grants due at ``now``, soonest first; the entries are written at ``now``."""
    # A no-op write takes the balance row's lock (SQLite: the database's write lock), so no
    # charge of this account commits while its grants are being worked out.
    session.execute(
        update(Balance)
        .where(Balance.account_id == account_id)
        .values(balance=Balance.balance)
        .execution_options(synchronize_session=False)
    )
    grants = _grants(session, account_id)
    removed, states = _removed(session, grants)
    expired = []
    for grant in sorted(grants, key=lambda g: g.order):
        if grant.expires_at > now or grant.id in removed:
            continue
        left, state = remainder(session, grant, grants, removed, states)
        balance, _ = balance_of(session, account_id)
        amount = min(left, max(0, balance))
        entry_id, new = post(
            session,
            Posting(
                key=expiry_key(grant.id), account_id=account_id, kind="expiry", amount=-amount, at=now,
                quantity=1,
                detail={
                    "grant": grant.id, "granted": grant.amount, "unspent": left,
                    "expired_at": grant.expires_at.isoformat(), "state": _dump(state),
                },
            ),
            enforce_limit=False,
        )  # fmt: skip
        removed[grant.id] = amount
        states[grant.id] = state
        expired.append(Expired(grant.id, account_id, grant.amount, amount, entry_id, new))
    return expired


def _grants(session: Session, account_id: int) -> list[Grant]:
    rows = session.execute(
        select(LedgerEntry.id, LedgerEntry.amount, LedgerEntry.created_at, LedgerEntry.expires_at).where(
            LedgerEntry.account_id == account_id, LedgerEntry.expires_at.is_not(None)
        )
    )
    return [
        Grant(int(i), account_id, int(amount), created, expires)
        for i, amount, created, expires in rows
        if expires is not None
    ]


@dataclass(frozen=True)
class State:
    """The replay at a grant's expiry moment, before anything happens at that moment.

    ``free``: credit that never expires (negative: overdraft in use); ``live``: what is left of
    each expiring grant then. Kept in each expiry entry, so the next expiry's replay starts
    there instead of at the start of the run of overlapping grants.
    """

    free: int
    live: dict[int, int]


def _dump(state: State) -> dict[str, Any]:
    return {"free": state.free, "live": {str(grant): left for grant, left in state.live.items()}}


def _load(detail: dict[str, Any] | None) -> State | None:
    saved = (detail or {}).get("state")
    if not isinstance(saved, dict):
        return None
    return State(int(saved["free"]), {int(grant): int(left) for grant, left in saved["live"].items()})


def _removed(session: Session, grants: Iterable[Grant]) -> tuple[dict[int, int], dict[int, State]]:
    """Micro-credits already removed per expired grant, and the replay state kept with each."""
    keys = {expiry_key(grant.id): grant.id for grant in grants}
    if not keys:
        return {}, {}
    rows = session.execute(
        select(LedgerEntry.idempotency_key, LedgerEntry.amount, LedgerEntry.detail).where(
            LedgerEntry.idempotency_key.in_(keys)
        )
    )
    removed, states = {}, {}
    for key, amount, detail in rows:
        removed[keys[key]] = -int(amount)
        state = _load(detail)
        if state is not None:
            states[keys[key]] = state
    return removed, states


def remainder(
    session: Session,
    target: Grant,
    grants: list[Grant],
    removed: dict[int, int],
    states: dict[int, State] | None = None,
) -> tuple[int, State]:
    """The micro-credits of ``target`` no charge had used by the moment it expired, and the state then."""
    end = target.expires_at
    members = _overlapping_run(target, [g for g in grants if g.created_at < end])
    expiring_before = [
        g for g in members if g is not target and g.order < target.order and g.expires_at < end
    ]
    # Resume from the latest state kept by an earlier expiry of this run, if there is one.
    kept = [g for g in members if g is not target and g.order < target.order and g.id in (states or {})]
    checkpoint = max(kept, key=lambda g: g.order) if kept else None
    if checkpoint is not None and states is not None:
        saved = states[checkpoint.id]
        if checkpoint.expires_at == end:  # the same moment: nothing happened in between
            return saved.live[target.id], State(saved.free, dict(saved.live))
        start = checkpoint.expires_at
        free, live = saved.free, dict(saved.live)
        bounds = sorted(
            {start}
            | {g.created_at for g in members if g.created_at >= start}
            | {g.expires_at for g in expiring_before if g.expires_at >= start}
        )
        flows = _flows(session, target.account_id, bounds, end)
    else:
        start = min(g.created_at for g in members)
        bounds = sorted({g.created_at for g in members} | {g.expires_at for g in expiring_before})
        flows = _flows(
            session, target.account_id, bounds, end
        )  # (debits, credits) per interval, then the tail
        # The balance before ``start``, from the balance now less everything since (one locked read).
        balance, _ = balance_of(session, target.account_id)
        since = sum(debit + credit for debit, credit in flows)
        since += sum(g.amount for g in grants if g.created_at >= start)
        since -= sum(
            amount for grant_id, amount in removed.items() if _by_id(grants, grant_id).expires_at > start
        )
        free, live = balance - since, {}  # free: credit that never expires (negative: overdraft in use)

    by_order = sorted(members, key=lambda g: g.order)
    for index, moment in enumerate(bounds):
        for grant in expiring_before:
            if grant.expires_at == moment:
                left = live.pop(grant.id)
                free += left - removed.get(grant.id, left)  # what the entry did not take stays
        for grant in members:
            if grant.created_at == moment:
                repay = min(grant.amount, max(0, -free))
                free += repay
                live[grant.id] = grant.amount - repay
        debit, credit = flows[index]
        owed = -debit
        for grant in by_order:
            if owed == 0:
                break
            if live.get(grant.id):
                take = min(owed, live[grant.id])
                live[grant.id] -= take
                owed -= take
        free += credit - owed
    return live[target.id], State(free, dict(live))


def _by_id(grants: list[Grant], grant_id: int) -> Grant:
    return next(g for g in grants if g.id == grant_id)


def _overlapping_run(target: Grant, grants: list[Grant]) -> list[Grant]:
    """The grants whose [granted, expires) spans chain into one another with ``target``'s."""
    run: list[Grant] = []
    reach: datetime | None = None
    for grant in sorted(grants, key=lambda g: (g.created_at, g.id)):
        if reach is None or grant.created_at >= reach:
            if target in run:
                break
            run, reach = [], grant.expires_at
        run.append(grant)
        reach = max(reach, grant.expires_at)
    return run


def _flows(session: Session, account_id: int, bounds: list[datetime], end: datetime) -> list[tuple[int, int]]:
    """(sum of charges, sum of other money in) per interval between ``bounds``, then from ``end`` on.

    Expiring grants and expiry entries are left out: the replay places them itself.
    """
    whens = [(LedgerEntry.created_at < moment, index) for index, moment in enumerate(bounds[1:])]
    whens.append((LedgerEntry.created_at < end, len(bounds) - 1))
    bucket = case(*whens, else_=len(bounds)).label("bucket")
    query = (
        select(
            bucket,
            func.sum(case((LedgerEntry.amount < 0, LedgerEntry.amount), else_=0)),
            func.sum(case((LedgerEntry.amount > 0, LedgerEntry.amount), else_=0)),
        )
        .where(
            LedgerEntry.account_id == account_id,
            LedgerEntry.created_at >= bounds[0],
            LedgerEntry.expires_at.is_(None),
            LedgerEntry.kind != "expiry",
        )
        .group_by(bucket)
    )
    flows = [(0, 0)] * (len(bounds) + 1)
    for index, debits, credits in session.execute(query):
        flows[int(index)] = (int(debits or 0), int(credits or 0))
    return flows
