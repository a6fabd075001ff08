"""Twilio's status callbacks settle what a text costs, through a real HTTP server on both lanes.

The Flask app here holds only the ``twilio_status`` blueprint (the admin app registers it
too); the local Twilio server sends its signed callbacks to it over HTTP, as Twilio would.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from billing.ledger import balance_of, charged_for
from billing.models import LedgerEntry
from billing.rates import load_rates
from tests.servers import LocalWSGIServer
from tests.servers.twilio_server import TwilioServer
from tickwork import clock
from tickwork.billing_meter import LedgerMeter
from tickwork.context.sms import SMS_STATUS_PATH, SmsSender
from tickwork.errors import ConfigError
from tickwork.metering import UsageRecorder
from tickwork.models import Message
from tickwork.settings import get_settings, load_settings, reset_settings
from tickwork.web import create_app

from . import factories
from .conftest import Database

RATES = load_rates(Path(__file__).resolve().parents[1] / "config" / "rates.toml")
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
SEGMENT = RATES.sms(NOW)
STARTING = 100_000 * 10**6


class AppServer(LocalWSGIServer):
    name = "tickwork-web"

    def __init__(self, app: Flask) -> None:
        super().__init__()
        self.app = app

    def wsgi_app(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


@dataclass
class Setup:
    db: Database
    twilio: TwilioServer
    web: AppServer
    client: FlaskClient
    ids: tuple[int, int, int]  # account, app, execution

    def send(self, body: str, to: str = "+16175550123") -> str:
        account_id, app_id, execution_id = self.ids
        sender = SmsSender(
            self.db.sessions, get_settings(), UsageRecorder(LedgerMeter(self.db.sessions, RATES)),
            account_id=account_id, app_id=app_id, execution_id=execution_id,
        )  # fmt: skip
        with clock.frozen_at(NOW):
            sid = sender.send(to, body)["sid"]
        assert sid
        return str(sid)

    def post(self, params: dict[str, str], signature: str | None = None, query: str = "") -> tuple[int, Any]:
        """POST a status callback to the endpoint, signed for its URL unless ``signature`` is given."""
        path = SMS_STATUS_PATH + (f"?{query}" if query else "")
        if signature is None:
            signature = RequestValidator(self.twilio.auth_token).compute_signature(
                self.web.url + path, params
            )
        response = self.client.post(path, data=params, headers={"X-Twilio-Signature": signature})
        return response.status_code, response.get_json()

    def row(self, sid: str) -> Message:
        with self.db.session() as session:
            return session.scalars(select(Message).where(Message.provider_id == sid)).one()

    def adjustments(self) -> list[int]:
        with self.db.session() as session:
            kind = LedgerEntry.kind == "adjustment"
            return [
                int(a)
                for a in session.scalars(select(LedgerEntry.amount).where(kind).order_by(LedgerEntry.id))
            ]

    def balanced(self) -> int:
        with self.db.session() as session:
            total = session.scalar(select(func.sum(LedgerEntry.amount)))
            balance, _ = balance_of(session, self.ids[0])
        assert balance == total
        return balance


@pytest.fixture
def setup(db: Database, twilio_server: TwilioServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Setup]:
    app = create_app({"TESTING": True})  # the whole web app: its CSRF check must let Twilio through
    with AppServer(app) as web:
        for name, value in {
            "TWILIO_ACCOUNT_SID": twilio_server.account_sid,
            "TWILIO_AUTH_TOKEN": twilio_server.auth_token,
            "TWILIO_FROM_NUMBER": twilio_server.from_number,
            "TWILIO_BASE_URL": twilio_server.base_url,
            "TICKWORK_PUBLIC_URL": web.url + "/",
        }.items():
            monkeypatch.setenv(name, value)
        reset_settings()
        ids = factories.make_execution(db)
        with db.session() as session:
            factories.fund(session, ids[0])
            session.commit()
        yield Setup(db, twilio_server, web, app.test_client(), ids)
    reset_settings()


def test_texts_ask_for_status_callbacks_at_the_public_url(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup.send("hello")
    monkeypatch.delenv("TICKWORK_PUBLIC_URL")
    reset_settings()
    setup.send("hello again")
    first, second = setup.twilio.messages
    with setup.db.session() as session:
        first_row = session.scalars(select(Message.id).where(Message.provider_id == first.sid)).one()
    assert first.status_callback == f"{setup.web.url}{SMS_STATUS_PATH}?message={first_row}"
    assert second.status_callback is None and "StatusCallback" not in second.form


def test_a_delivered_text_costs_twilios_segment_count_once_whatever_the_retries(setup: Setup) -> None:
    sid = setup.send("see you at 9")  # estimated: 1 segment
    assert setup.balanced() == STARTING - SEGMENT
    assert setup.twilio.deliver(sid, "sent") == 200
    assert setup.row(sid).status == "sent"
    assert setup.twilio.deliver(sid, "delivered", num_segments=3) == 200  # the carrier billed 3
    assert setup.twilio.deliver(sid, "delivered", num_segments=3) == 200  # Twilio retries
    assert setup.twilio.deliver(sid, "sent") == 200  # late and out of order: ignored
    row = setup.row(sid)
    assert (row.status, row.segments) == ("delivered", 3)
    assert setup.adjustments() == [-2 * SEGMENT]
    assert setup.balanced() == STARTING - 3 * SEGMENT
    with setup.db.session() as session:
        assert charged_for(session, setup.ids[2]) == 3 * SEGMENT
        entry = session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "adjustment")).one()
        assert (entry.app, entry.job, entry.execution_id) == ("order-digest", "digest", setup.ids[2])


def test_a_text_whose_send_was_cut_off_is_found_by_its_callback_and_charged_then(setup: Setup) -> None:
    """Twilio took the text but its answer was lost: ``uncertain``, no SID, nothing charged.
    The callback URL names the row, so Twilio's reports find it; the billed one charges it."""
    account_id, app_id, execution_id = setup.ids
    sender = SmsSender(
        setup.db.sessions, get_settings(), UsageRecorder(LedgerMeter(setup.db.sessions, RATES)),
        account_id=account_id, app_id=app_id, execution_id=execution_id,
    )  # fmt: skip
    setup.twilio.lose_next_response()
    with clock.frozen_at(NOW):
        result = sender.send("+16175550123", "a" * 200)  # 2 segments
    assert (result["status"], result["sid"]) == ("uncertain", None)
    assert setup.balanced() == STARTING, "not charged: it may not have gone out"
    [sent] = setup.twilio.messages
    assert sent.status_callback == f"{setup.web.url}{SMS_STATUS_PATH}?message={result['id']}"

    assert setup.twilio.deliver(sent.sid, "sent") == 200
    row = setup.row(sent.sid)  # found by the id in its callback URL; it knows its SID now
    assert (row.id, row.status) == (result["id"], "sent")
    assert setup.balanced() == STARTING
    assert setup.twilio.deliver(sent.sid, "delivered", num_segments=2) == 200
    assert setup.twilio.deliver(sent.sid, "delivered", num_segments=2) == 200  # Twilio retries
    assert setup.balanced() == STARTING - 2 * SEGMENT
    with setup.db.session() as session:
        entry = session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "sms")).one()
        assert (entry.amount, entry.quantity, entry.execution_id) == (-2 * SEGMENT, 2, execution_id)
        assert (entry.app, entry.job) == ("order-digest", "digest")
    with clock.frozen_at(NOW):  # the job retried: the text is not sent again, its SID is known
        again = sender.send("+16175550123", "a" * 200)
    assert (again["sid"], again["duplicate"]) == (sent.sid, True)
    assert len(setup.twilio.messages) == 1


def test_a_callback_cannot_claim_a_text_that_has_its_sid(setup: Setup) -> None:
    sid = setup.send("hello")
    other = setup.send("another")
    with setup.db.session() as session:
        other_row = session.scalars(select(Message.id).where(Message.provider_id == other)).one()
    params = dict(setup.twilio.status_callback(sid, "delivered").params)
    params["MessageSid"] = "SM" + "0" * 32  # a SID we never saw, naming a row that has one
    code, _body = setup.post(params, query=f"message={other_row}")
    assert code == 404
    assert setup.row(other).provider_id == other


def test_a_failed_text_is_refunded_and_an_undelivered_one_is_paid(setup: Setup) -> None:
    failed, undelivered = setup.send("first"), setup.send("second")
    assert setup.twilio.deliver(failed, "failed", error_code=30008) == 200
    assert setup.twilio.deliver(undelivered, "undelivered", error_code=30003) == 200
    assert setup.twilio.deliver(failed, "failed", error_code=30008) == 200
    assert setup.adjustments() == [SEGMENT]  # the failed one back; the undelivered one stays paid
    row = setup.row(failed)
    assert row.status == "failed" and "30008" in (row.error or "")
    assert setup.row(undelivered).status == "undelivered"
    assert setup.balanced() == STARTING - SEGMENT


def test_without_num_segments_the_count_is_fetched_from_twilio(setup: Setup) -> None:
    sid = setup.send("a" * 200)  # 2 segments estimated and charged
    assert setup.twilio.deliver(sid, "sent", num_segments=3) == 200  # Twilio now says 3
    params = dict(setup.twilio.status_callback(sid, "delivered").params)
    del params["NumSegments"]
    code, body = setup.post(params)
    assert code == 200 and body["segments"] == 3 and body["adjustment_micro"] == -SEGMENT
    fetches = [r for r in setup.twilio.requests if r["method"] == "GET" and sid in r["path"]]
    assert len(fetches) == 1
    assert setup.balanced() == STARTING - 3 * SEGMENT


def test_a_bad_signature_gets_403_and_changes_nothing(setup: Setup) -> None:
    sid = setup.send("hello")
    good = setup.twilio.status_callback(sid, "failed")
    query = urllib.parse.urlsplit(good.url).query
    tampered = {**good.params, "MessageStatus": "delivered", "SmsStatus": "delivered"}
    other_url = RequestValidator(setup.twilio.auth_token).compute_signature(
        f"https://elsewhere.example{SMS_STATUS_PATH}", good.params
    )
    wrong_token = RequestValidator("not-the-token").compute_signature(good.url, good.params)
    for params, signature in (
        (good.params, ""),
        (tampered, good.signature),
        (good.params, other_url),
        (good.params, wrong_token),
    ):
        code, body = setup.post(params, signature, query)
        assert code == 403 and body["error"]["code"] == "bad_signature"
    code, body = setup.post(good.params, good.signature, query=query + "9")  # not the URL it signed
    assert code == 403
    assert setup.row(sid).status == "queued" and setup.adjustments() == []
    code, body = setup.post(good.params, good.signature, query)
    assert code == 200 and body["status"] == "failed" and setup.adjustments() == [SEGMENT]


def test_unknown_messages_bad_requests_and_missing_setup_are_json_errors(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, body = setup.post({"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"})
    assert code == 404 and body["error"]["code"] == "unknown_message"
    code, body = setup.post({"MessageStatus": "delivered"})
    assert code == 400
    monkeypatch.delenv("TICKWORK_PUBLIC_URL")
    reset_settings()
    code, body = setup.post({"MessageSid": "SMx", "MessageStatus": "delivered"}, "x")
    assert code == 503 and body["error"]["code"] == "not_configured"


@pytest.mark.parametrize("value", ["ftp://example.com", "https://", "https://example.com/?a=1"])
def test_a_malformed_public_url_is_refused(value: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="TICKWORK_PUBLIC_URL"):
        load_settings({"TICKWORK_HOME": str(tmp_path), "TICKWORK_PUBLIC_URL": value})
    assert load_settings(
        {"TICKWORK_HOME": str(tmp_path), "TICKWORK_PUBLIC_URL": "https://a.example/x/"}
    ).public_url == ("https://a.example/x")
