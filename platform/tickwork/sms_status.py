"""Twilio's delivery reports for the texts jobs send: the message row and its charge made final.

An SMS is charged when it is sent, by the segments ``ctx.sms`` estimates. Twilio's final
status callback settles it (docs/decisions.md, "SMS charges are settled by Twilio's final
status"):

- ``delivered``, ``undelivered`` (and ``read``): the carrier was tried, so the message costs
  its final segment count, at the per-segment price it was charged at when sent;
- ``failed`` and ``canceled``: it never left Twilio, so the charge is refunded in full.

The difference from what was charged is one ``adjustment`` entry keyed by the message, and
a row already final is never settled again, so Twilio retrying a callback (or sending a
second final one) never settles a message twice.
Earlier statuses (queued, sending, sent) only move the row's status forward, never back.
Twilio's callbacks carry ``NumSegments`` only sometimes (it is not among the documented
status-callback fields); without it the message is fetched through the official client.

A text whose send was cut off before Twilio answered is ``uncertain``: no SID, no charge.
Its callback URL names the message row (``?message=ID``, covered by Twilio's signature), so
its first callback tells its SID, and a billed final status charges it then, in full: Twilio
did send it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from billing.ledger import Posting, post
from billing.models import LedgerEntry
from billing.rates import Rates
from tickwork import clock
from tickwork.integrations.twilio_transport import close_twilio_client, make_twilio_client
from tickwork.models import App, Execution, Message
from tickwork.settings import TwilioSettings

# How far along a message is: a callback never moves a row back (they can arrive out of order).
PROGRESS = {
    "accepted": 0, "scheduled": 0, "queued": 0, "sending": 1, "sent": 2,
    "delivered": 3, "undelivered": 3, "failed": 3, "canceled": 3, "read": 4,
}  # fmt: skip
BILLED_FINAL = frozenset({"delivered", "undelivered", "read"})
REFUNDED_FINAL = frozenset({"failed", "canceled"})
FINAL = BILLED_FINAL | REFUNDED_FINAL


class UnknownMessage(LookupError):
    """No text message of ours has this SID (yet: a callback can beat the row's update)."""


def settle_key(message_id: int) -> str:
    return f"sms-settle:{message_id}"


@dataclass(frozen=True)
class Settled:
    message_id: int
    status: str
    segments: int | None
    adjustment: int  # micro-credits: positive is a refund, negative an extra charge
    new: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "message": self.message_id,
            "status": self.status,
            "segments": self.segments,
            "adjustment_micro": self.adjustment,
            "settled_now": self.new,
        }


def fetch_segments(twilio: TwilioSettings, sid: str) -> int:
    """The message's segment count as Twilio's Message resource gives it."""
    client = make_twilio_client(twilio.account_sid, twilio.auth_token, base_url=twilio.base_url)
    try:
        return int(client.messages(sid).fetch().num_segments or 0)
    finally:
        close_twilio_client(client)


def apply_status(
    session: Session,
    twilio: TwilioSettings,
    sid: str,
    status: str,
    num_segments: int | None,
    error_code: str | None = None,
    *,
    message_id: int | None = None,
    rates: Rates | None = None,
) -> Settled:
    """Record ``status`` for the message ``sid``; settle its charge if the status is final.

    ``message_id`` (from the callback URL) finds a message whose send was cut off before its
    SID was known; ``rates`` price such a message's charge once Twilio bills it. In the
    caller's transaction (commit after). Raises UnknownMessage.
    """
    message = _find(session, sid, message_id)
    rank = PROGRESS.get(status, 0)
    if status not in FINAL:
        if PROGRESS.get(message.status, 0) < rank:
            _move(session, message, status, None, None)
        return Settled(message.id, status, None, 0, False)

    if message.status in FINAL:  # settled already: a retried (or a second) final callback
        if PROGRESS.get(message.status, 0) < rank:  # delivered, then read
            _move(session, message, status, None, None)
        return Settled(message.id, status, message.segments, 0, False)

    segments = 0
    if status in BILLED_FINAL:
        segments = num_segments if num_segments and num_segments > 0 else fetch_segments(twilio, sid)
    charge = session.execute(
        select(LedgerEntry).where(LedgerEntry.idempotency_key == message.idempotency_key)
    ).scalar_one_or_none()
    adjustment, new = 0, False
    if charge is None and segments and rates is not None:  # sent although its send was cut off
        charge_now = _uncharged(session, message, sid, status, segments, rates)
        _, new = post(session, charge_now, enforce_limit=False)
        adjustment = -rates.sms(message.created_at) * segments
    elif charge is not None and charge.quantity > 0:
        charged = -charge.amount
        per_segment = charged // charge.quantity
        adjustment = charged - per_segment * segments
        if adjustment:
            _, new = post(
                session,
                Posting(
                    key=settle_key(message.id), account_id=charge.account_id, kind="adjustment",
                    amount=adjustment, at=clock.now(), quantity=1, app=charge.app, job=charge.job,
                    execution_id=charge.execution_id,
                    detail={
                        "sms": message.id, "sid": sid, "status": status,
                        "charged_segments": charge.quantity, "final_segments": segments,
                    },
                ),
                enforce_limit=False,  # Twilio has already billed it: a settlement is a fact, not a choice
            )  # fmt: skip
    error = f"Twilio reported {status} (error {error_code})" if error_code else None
    _move(session, message, status, segments if status in BILLED_FINAL else None, error)
    return Settled(message.id, status, segments, adjustment, new)


def _find(session: Session, sid: str, message_id: int | None) -> Message:
    """The text with this SID; else the one the callback URL names, if its SID was never known
    (its send was cut off), which learns its SID here."""
    message = session.scalar(select(Message).where(Message.provider_id == sid, Message.channel == "sms"))
    if message is None and message_id is not None:
        message = session.scalar(
            select(Message).where(
                Message.id == message_id, Message.channel == "sms", Message.provider_id.is_(None)
            )
        )
        if message is not None:
            message.provider_id = sid
    if message is None:
        raise UnknownMessage(sid)
    return message


def _uncharged(
    session: Session, message: Message, sid: str, status: str, segments: int, rates: Rates
) -> Posting:
    """The charge ``ctx.sms`` would have made for ``message``, had it known the text was sent."""
    app = session.scalar(select(App.slug).where(App.id == message.app_id)) if message.app_id else None
    job = (
        session.scalar(select(Execution.job).where(Execution.id == message.execution_id))
        if message.execution_id
        else None
    )
    return Posting(
        key=message.idempotency_key, account_id=message.account_id, kind="sms",
        amount=-rates.sms(message.created_at) * segments, at=clock.now(), quantity=segments,
        app=app or "", job=job or "", execution_id=message.execution_id,
        detail={"segments": segments, "sms": message.id, "sid": sid, "status": status, "was": "uncertain"},
    )  # fmt: skip


def _move(session: Session, message: Message, status: str, segments: int | None, error: str | None) -> None:
    values: dict[str, Any] = {"status": status, "updated_at": clock.now()}
    if segments is not None:
        values["segments"] = segments
    if error is not None:
        values["error"] = error
    session.execute(
        update(Message)
        .where(Message.id == message.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
