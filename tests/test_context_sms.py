"""ctx.sms: the outbox without Twilio, the official client against a local Twilio, segments, sending once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from tests import factories
from tests.conftest import Database
from tests.servers import twilio_server as harness
from tests.servers.twilio_server import TwilioServer
from tickwork.context.sms import SmsError, SmsSender, count_segments, sms_key
from tickwork.metering import UsageRecorder
from tickwork.models import Message
from tickwork.settings import Settings, load_settings

OWNER_PHONE = "+16175550123"
CALLBACK_URL = "https://tickwork.example.com/webhooks/twilio/status"


def make_settings(tmp_path: Path, twilio: TwilioServer | None = None, token: str | None = None) -> Settings:
    env = {"TICKWORK_HOME": str(tmp_path), "SECRET_KEY": "test-secret-key-for-sms"}
    if twilio is not None:
        env |= {
            "TWILIO_ACCOUNT_SID": twilio.account_sid,
            "TWILIO_AUTH_TOKEN": token or twilio.auth_token,
            "TWILIO_FROM_NUMBER": twilio.from_number,
            "TWILIO_BASE_URL": twilio.base_url,
        }
    return load_settings(env)


def make_execution(db: Database) -> tuple[int, int, int]:
    return factories.make_execution(db, "low-stock", "alert")


def make_sender(
    db: Database,
    settings: Settings,
    meter: UsageRecorder,
    execution: tuple[int, int, int],
    callback: str | None = None,
) -> SmsSender:
    account_id, app_id, execution_id = execution
    return SmsSender(
        db.sessions,
        settings,
        meter,
        account_id=account_id,
        app_id=app_id,
        execution_id=execution_id,
        status_callback_url=callback,
    )


def messages(db: Database) -> list[Message]:
    with db.session() as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


# --- segments --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("a", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # extension characters take two septets
        ("€" * 81, 2),
        ("€" * 153, 3),  # an escape pair is never split: 76 per segment
        ("é" * 160, 1),  # in the GSM-7 basic table
        ("ü" * 70 + "✓", 2),  # one non-GSM character makes the whole body UCS-2
        ("✓" * 70, 1),
        ("✓" * 134, 2),
        ("✓" * 135, 3),
        ("😀" * 35, 1),  # two UTF-16 units each
        ("😀" * 36, 2),
        ("😀" * 67, 3),  # a surrogate pair is never split: 33 per segment
        ("x" * 1600, 11),
    ],
)
def test_segments_are_counted_as_twilio_bills_them(body: str, segments: int) -> None:
    assert count_segments(body) == segments
    assert harness.count_segments(body) == segments


@given(
    st.text(
        alphabet=st.sampled_from(sorted(harness.GSM7_BASIC | harness.GSM7_EXTENSION) + ["✓", "😀", "ß", "Ж"]),
        max_size=1600,
    )
)
def test_our_segment_estimate_agrees_with_the_twilio_stand_in(body: str) -> None:
    assert count_segments(body) == harness.count_segments(body)


# --- outbox ----------------------------------------------------------------------------------------


def test_without_twilio_the_text_is_kept_in_the_outbox_and_metered_by_segments(
    db: Database, tmp_path: Path
) -> None:
    meter = UsageRecorder()
    sender = make_sender(db, make_settings(tmp_path), meter, make_execution(db))

    result = sender.send(OWNER_PHONE, "x" * 200)

    [row] = messages(db)
    assert result == {
        "id": row.id,
        "sid": None,
        "status": "outbox",
        "segments": 2,
        "transport": "outbox",
        "duplicate": False,
    }
    assert (row.channel, row.transport, row.status, row.recipient, row.segments) == (
        "sms",
        "outbox",
        "outbox",
        OWNER_PHONE,
        2,
    )
    assert meter.usage["sms_segments"] == 2


# --- Twilio ----------------------------------------------------------------------------------------


def test_with_twilio_the_official_client_creates_the_message_and_its_sid_is_stored(
    db: Database, tmp_path: Path, twilio_server: TwilioServer
) -> None:
    meter = UsageRecorder()
    sender = make_sender(
        db, make_settings(tmp_path, twilio_server), meter, make_execution(db), callback=CALLBACK_URL
    )

    result = sender.send(OWNER_PHONE, "Flour is low: 2 bags left ✓")

    [sent] = twilio_server.messages
    assert (sent.to, sent.from_, sent.body) == (
        OWNER_PHONE,
        twilio_server.from_number,
        "Flour is low: 2 bags left ✓",
    )
    [row] = messages(db)
    assert sent.status_callback == f"{CALLBACK_URL}?message={row.id}"  # found by it even without a SID
    assert result == {
        "id": row.id,
        "sid": sent.sid,
        "status": "queued",
        "segments": 1,
        "transport": "twilio",
        "duplicate": False,
    }
    assert (row.provider_id, row.status, row.segments, row.transport) == (sent.sid, "queued", 1, "twilio")
    assert meter.usage["sms_segments"] == 1


def test_a_long_text_is_metered_by_the_estimated_segments(
    db: Database, tmp_path: Path, twilio_server: TwilioServer
) -> None:
    meter = UsageRecorder()
    sender = make_sender(db, make_settings(tmp_path, twilio_server), meter, make_execution(db))

    result = sender.send(OWNER_PHONE, "✓" * 135)

    [sent] = twilio_server.messages
    assert sent.num_segments == result["segments"] == 3
    assert messages(db)[0].segments == 3
    assert meter.usage["sms_segments"] == 3


def test_the_same_text_in_the_same_execution_is_sent_once(
    db: Database, tmp_path: Path, twilio_server: TwilioServer
) -> None:
    settings = make_settings(tmp_path, twilio_server)
    execution = make_execution(db)
    meter, rerun_meter = UsageRecorder(), UsageRecorder()

    first = make_sender(db, settings, meter, execution).send(OWNER_PHONE, "Your digest is ready")
    again = make_sender(db, settings, rerun_meter, execution).send(OWNER_PHONE, "Your digest is ready")

    assert len(twilio_server.messages) == 1
    assert again == {**first, "duplicate": True}
    assert (meter.usage["sms_segments"], rerun_meter.usage["sms_segments"]) == (1, 0)


def test_a_send_cut_off_before_twilio_answered_is_uncertain_and_not_resent(
    db: Database, tmp_path: Path, twilio_server: TwilioServer
) -> None:
    account_id, app_id, execution_id = execution = make_execution(db)
    with db.session() as session:
        session.add(
            Message(
                idempotency_key=sms_key(execution_id, OWNER_PHONE, "Your digest is ready"),
                account_id=account_id,
                app_id=app_id,
                execution_id=execution_id,
                channel="sms",
                transport="twilio",
                recipient=OWNER_PHONE,
                body="Your digest is ready",
                status="sending",
            )
        )
        session.commit()
    meter = UsageRecorder()

    result = make_sender(db, make_settings(tmp_path, twilio_server), meter, execution).send(
        OWNER_PHONE, "Your digest is ready"
    )

    assert (result["status"], result["sid"], result["duplicate"]) == ("uncertain", None, True)
    assert twilio_server.requests == []
    assert [row.status for row in messages(db)] == ["uncertain"]
    assert meter.usage["sms_segments"] == 0


@pytest.mark.parametrize(
    ("status", "code", "text"),
    [
        (400, 21610, "Attempt to send to unsubscribed recipient"),
        (400, 21408, "Permission to send an SMS has not been enabled for the region"),
    ],
)
def test_a_permanent_twilio_error_fails_the_text_for_good(
    db: Database, tmp_path: Path, twilio_server: TwilioServer, status: int, code: int, text: str
) -> None:
    meter = UsageRecorder()
    sender = make_sender(db, make_settings(tmp_path, twilio_server), meter, make_execution(db))
    twilio_server.queue_error(status, code, text)

    with pytest.raises(SmsError) as raised:
        sender.send(OWNER_PHONE, "hello")
    assert raised.value.permanent and raised.value.code == code
    assert text in str(raised.value)
    requests_before = len(twilio_server.requests)

    with pytest.raises(SmsError) as again:
        sender.send(OWNER_PHONE, "hello")

    assert again.value.permanent and text in str(again.value)
    assert len(twilio_server.requests) == requests_before  # Twilio was not asked again
    assert twilio_server.messages == []
    assert [row.status for row in messages(db)] == ["failed"]
    assert meter.usage["sms_segments"] == 0


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (503, 20500)])
def test_a_retryable_twilio_error_lets_a_retry_send(
    db: Database, tmp_path: Path, twilio_server: TwilioServer, status: int, code: int
) -> None:
    meter = UsageRecorder()
    sender = make_sender(db, make_settings(tmp_path, twilio_server), meter, make_execution(db))
    twilio_server.queue_error(status, code, "Try again later")

    with pytest.raises(SmsError) as raised:
        sender.send(OWNER_PHONE, "hello")
    assert not raised.value.permanent and raised.value.code == code

    result = sender.send(OWNER_PHONE, "hello")

    assert result["status"] == "queued" and result["sid"] == twilio_server.messages[0].sid
    assert [row.status for row in messages(db)] == ["failed", "queued"]
    assert meter.usage["sms_segments"] == 1


def test_a_wrong_auth_token_is_a_permanent_error(
    db: Database, tmp_path: Path, twilio_server: TwilioServer
) -> None:
    settings = make_settings(tmp_path, twilio_server, token="not-the-token")
    sender = make_sender(db, settings, UsageRecorder(), make_execution(db))

    with pytest.raises(SmsError) as raised:
        sender.send(OWNER_PHONE, "hello")

    assert raised.value.permanent and raised.value.code == 20003


def test_an_unreachable_twilio_is_retryable_and_releases_the_text(db: Database, tmp_path: Path) -> None:
    with TwilioServer() as stopped:
        settings = make_settings(tmp_path, stopped)
    sender = make_sender(db, settings, UsageRecorder(), make_execution(db))

    with pytest.raises(SmsError) as raised:
        sender.send(OWNER_PHONE, "hello")

    assert not raised.value.permanent and "could not reach Twilio" in str(raised.value)
    [row] = messages(db)
    assert row.status == "failed"
    assert row.idempotency_key != sms_key(sender.execution_id, OWNER_PHONE, "hello")  # released


@pytest.mark.parametrize(
    ("to", "body", "problem"),
    [
        ("6175550123", "hi", "E.164"),
        ("+1 617 555 0123", "hi", "E.164"),
        ("+0123456789", "hi", "E.164"),
        ("+1234567890123456", "hi", "E.164"),
        (16175550123, "hi", "must be a string"),
        (OWNER_PHONE, "", "body is empty"),
        (OWNER_PHONE, " \n", "body is empty"),
        (OWNER_PHONE, "x" * 1601, "the limit is 1,600"),
    ],
)
def test_bad_texts_are_refused_before_anything_is_sent(
    db: Database, tmp_path: Path, twilio_server: TwilioServer, to: Any, body: str, problem: str
) -> None:
    meter = UsageRecorder()
    sender = make_sender(db, make_settings(tmp_path, twilio_server), meter, make_execution(db))

    with pytest.raises(SmsError) as raised:
        sender.send(to, body)

    assert problem in str(raised.value) and raised.value.permanent
    assert twilio_server.requests == [] and messages(db) == []
    assert meter.usage["sms_segments"] == 0
