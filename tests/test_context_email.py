"""ctx.email: the outbox without SMTP, real delivery to a local SMTP server, and sending each email once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import Database
from tests.servers.fixtures import SMTP_TEST_LOGIN, SMTP_TEST_SENDER
from tests.servers.smtp_server import SMTPServer
from tickwork.context.email import EmailError, EmailSender, email_key
from tickwork.metering import CreditLimitExceeded, TokenUsage, UsageRecorder
from tickwork.models import Message
from tickwork.settings import Settings, load_settings

OWNER = "owner@example.com"


def make_settings(tmp_path: Path, **env: str) -> Settings:
    return load_settings({"TICKWORK_HOME": str(tmp_path), "SECRET_KEY": "test-secret-key-for-email", **env})


def smtp_env(
    server: SMTPServer, *, login: tuple[str, str] | None = None, tls: bool = False
) -> dict[str, str]:
    env = {
        "SMTP_HOST": server.host,
        "SMTP_PORT": str(server.port),
        "SMTP_TLS": "true" if tls else "false",
        "SMTP_FROM": SMTP_TEST_SENDER,
    }
    if login is not None:
        env["SMTP_USERNAME"], env["SMTP_PASSWORD"] = login
    return env


def make_execution(db: Database) -> tuple[int, int, int]:
    return factories.make_execution(db, "daily-digest", "digest")


def make_sender(db: Database, settings: Settings, meter: Any, execution: tuple[int, int, int]) -> EmailSender:
    account_id, app_id, execution_id = execution
    return EmailSender(
        db.sessions, settings, meter, account_id=account_id, app_id=app_id, execution_id=execution_id
    )


def messages(db: Database) -> list[Message]:
    with db.session() as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


class RefusingMeter:
    """Billing at its overdraft limit: every usage charge is refused."""

    def base(
        self, *, key: str, account_id: int, execution_id: int, app_id: int, job: str, credits: int
    ) -> None:
        raise AssertionError("the email sender never charges a base cost")

    def email(
        self, *, key: str, account_id: int, execution_id: int | None, app_id: int | None, messages: int = 1
    ) -> None:
        raise CreditLimitExceeded("account 1 is at its overdraft limit", account_id=account_id, key=key)

    def sms(
        self, *, key: str, account_id: int, execution_id: int | None, app_id: int | None, segments: int
    ) -> None:
        raise AssertionError("the email sender never charges SMS")

    def ai(
        self,
        *,
        key: str,
        account_id: int,
        execution_id: int | None,
        app_id: int | None,
        model: str,
        usage: TokenUsage,
    ) -> None:
        raise AssertionError("the email sender never charges AI")


# --- outbox ----------------------------------------------------------------------------------------


def test_without_smtp_the_email_is_kept_in_the_outbox_and_metered(db: Database, tmp_path: Path) -> None:
    meter = UsageRecorder()
    sender = make_sender(db, make_settings(tmp_path), meter, make_execution(db))

    result = sender.send(OWNER, "Yesterday's orders", "Three orders.", html="<p>Three orders.</p>")

    [row] = messages(db)
    assert result == {
        "id": row.id,
        "status": "outbox",
        "transport": "outbox",
        "to": [OWNER],
        "refused": [],
        "duplicate": False,
    }
    assert (row.channel, row.transport, row.status, row.recipient) == ("email", "outbox", "outbox", OWNER)
    assert (row.subject, row.body, row.html) == (
        "Yesterday's orders",
        "Three orders.",
        "<p>Three orders.</p>",
    )
    assert row.execution_id == sender.execution_id and row.error is None
    assert meter.usage["emails"] == 1


def test_the_same_outbox_email_twice_in_one_execution_is_stored_and_metered_once(
    db: Database, tmp_path: Path
) -> None:
    meter = UsageRecorder()
    sender = make_sender(db, make_settings(tmp_path), meter, make_execution(db))

    first = sender.send(OWNER, "Digest", "Body")
    again = sender.send(OWNER, "Digest", "Body")

    assert again == {**first, "duplicate": True}
    assert len(messages(db)) == 1
    assert meter.usage["emails"] == 1


# --- SMTP ------------------------------------------------------------------------------------------


def test_with_smtp_one_message_with_text_and_html_is_delivered_after_login(
    db: Database, tmp_path: Path, smtp_auth_server: SMTPServer
) -> None:
    meter = UsageRecorder()
    settings = make_settings(tmp_path, **smtp_env(smtp_auth_server, login=SMTP_TEST_LOGIN))
    sender = make_sender(db, settings, meter, make_execution(db))

    result = sender.send(OWNER, "Orders: 3 — €120", "Three orders, €120.", html="<p><b>€120</b></p>")

    [received] = smtp_auth_server.messages
    assert received.login == SMTP_TEST_LOGIN[0]
    assert (received.mail_from, received.rcpt_tos) == ("noreply@tickwork.test", (OWNER,))
    assert received.message["From"] == SMTP_TEST_SENDER
    assert received.message["To"] == OWNER
    assert received.message.get_content_type() == "multipart/alternative"
    assert received.message["Message-ID"] and received.message["Date"]
    assert received.subject == "Orders: 3 — €120"
    assert (received.text, received.html) == ("Three orders, €120.\n", "<p><b>€120</b></p>\n")
    [row] = messages(db)
    assert (row.transport, row.status, row.error) == ("smtp", "sent", None)
    assert result["status"] == "sent" and result["transport"] == "smtp" and not result["duplicate"]
    assert meter.usage["emails"] == 1


def test_a_text_only_email_is_a_single_plain_part(
    db: Database, tmp_path: Path, smtp_server: SMTPServer
) -> None:
    sender = make_sender(
        db, make_settings(tmp_path, **smtp_env(smtp_server)), UsageRecorder(), make_execution(db)
    )

    sender.send(OWNER, "Plain", "Just text")

    [received] = smtp_server.messages
    assert received.message.get_content_type() == "text/plain"
    assert (received.text, received.html, received.login) == ("Just text\n", None, None)


def test_several_recipients_get_one_message_billed_per_recipient(
    db: Database, tmp_path: Path, smtp_server: SMTPServer
) -> None:
    meter = UsageRecorder()
    sender = make_sender(db, make_settings(tmp_path, **smtp_env(smtp_server)), meter, make_execution(db))

    result = sender.send([OWNER, "baker@example.com", "OWNER@example.com"], "Digest", "Body")

    [received] = smtp_server.messages
    assert received.rcpt_tos == (OWNER, "baker@example.com")  # the same address twice is one recipient
    assert received.message["To"] == f"{OWNER}, baker@example.com"
    assert result["to"] == [OWNER, "baker@example.com"]
    assert messages(db)[0].recipient == f"{OWNER}, baker@example.com"
    assert meter.usage["emails"] == 2


def test_the_same_email_in_the_same_execution_is_delivered_once(
    db: Database, tmp_path: Path, smtp_server: SMTPServer
) -> None:
    meter = UsageRecorder()
    settings = make_settings(tmp_path, **smtp_env(smtp_server))
    execution = make_execution(db)

    first = make_sender(db, settings, meter, execution).send(OWNER, "Digest", "Body")
    # A re-run of the execution (a new sender, a new recorder) sends nothing and charges nothing.
    rerun_meter = UsageRecorder()
    again = make_sender(db, settings, rerun_meter, execution).send(OWNER, "Digest", "Body")

    assert len(smtp_server.messages) == 1
    assert again == {**first, "duplicate": True}
    assert (meter.usage["emails"], rerun_meter.usage["emails"]) == (1, 0)
    assert [row.status for row in messages(db)] == ["sent"]


def test_another_execution_sends_the_same_email_again(
    db: Database, tmp_path: Path, smtp_server: SMTPServer
) -> None:
    settings = make_settings(tmp_path, **smtp_env(smtp_server))

    make_sender(db, settings, UsageRecorder(), make_execution(db)).send(OWNER, "Digest", "Body")
    make_sender(db, settings, UsageRecorder(), make_execution(db)).send(OWNER, "Digest", "Body")

    assert len(smtp_server.messages) == 2
    assert len({row.idempotency_key for row in messages(db)}) == 2


def test_a_send_cut_off_mid_way_is_marked_uncertain_and_not_sent_again(
    db: Database, tmp_path: Path, smtp_server: SMTPServer
) -> None:
    meter = UsageRecorder()
    execution = make_execution(db)
    account_id, app_id, execution_id = execution
    with db.session() as session:  # what a worker that died during the SMTP exchange leaves behind
        session.add(
            Message(
                idempotency_key=email_key(execution_id, [OWNER], "Digest", "Body", None),
                account_id=account_id,
                app_id=app_id,
                execution_id=execution_id,
                channel="email",
                transport="smtp",
                recipient=OWNER,
                subject="Digest",
                body="Body",
                status="sending",
            )
        )
        session.commit()
    sender = make_sender(db, make_settings(tmp_path, **smtp_env(smtp_server)), meter, execution)

    result = sender.send(OWNER, "Digest", "Body")

    assert (result["status"], result["duplicate"]) == ("uncertain", True)
    assert smtp_server.messages == []
    assert meter.usage["emails"] == 0
    [row] = messages(db)
    assert row.status == "uncertain" and row.error is not None and "not sent again" in row.error


def test_a_permanent_rejection_fails_the_email_for_good(
    db: Database, tmp_path: Path, smtp_server: SMTPServer
) -> None:
    meter = UsageRecorder()
    sender = make_sender(db, make_settings(tmp_path, **smtp_env(smtp_server)), meter, make_execution(db))
    smtp_server.reject_next("550 5.7.1 Message rejected as spam")

    with pytest.raises(EmailError) as raised:
        sender.send(OWNER, "Digest", "Body")
    assert raised.value.permanent and raised.value.smtp_code == 550
    assert "550" in str(raised.value) and "rejected as spam" in str(raised.value)

    with pytest.raises(EmailError) as again:  # a re-run reports the failure without sending
        sender.send(OWNER, "Digest", "Body")
    assert again.value.permanent and "rejected as spam" in str(again.value)
    assert smtp_server.messages == []
    [row] = messages(db)
    assert row.status == "failed" and row.error is not None and "550" in row.error
    assert meter.usage["emails"] == 0


def test_a_temporary_rejection_releases_the_email_so_a_retry_sends_it(
    db: Database, tmp_path: Path, smtp_server: SMTPServer
) -> None:
    meter = UsageRecorder()
    sender = make_sender(db, make_settings(tmp_path, **smtp_env(smtp_server)), meter, make_execution(db))
    smtp_server.reject_next("451 4.3.0 Try again later")

    with pytest.raises(EmailError) as raised:
        sender.send(OWNER, "Digest", "Body")
    assert not raised.value.permanent and raised.value.smtp_code == 451

    result = sender.send(OWNER, "Digest", "Body")

    assert result["status"] == "sent" and not result["duplicate"]
    assert len(smtp_server.messages) == 1
    failed, sent = messages(db)
    assert (failed.status, sent.status) == ("failed", "sent")
    assert failed.error is not None and "451" in failed.error
    assert sent.idempotency_key == email_key(sender.execution_id, [OWNER], "Digest", "Body", None)
    assert meter.usage["emails"] == 1


def test_an_unreachable_smtp_server_is_a_retryable_error(db: Database, tmp_path: Path) -> None:
    with SMTPServer() as server:
        env = smtp_env(server)
    sender = make_sender(db, make_settings(tmp_path, **env), UsageRecorder(), make_execution(db))

    with pytest.raises(EmailError) as raised:
        sender.send(OWNER, "Digest", "Body")

    assert not raised.value.permanent
    assert f"127.0.0.1:{env['SMTP_PORT']}" in str(raised.value)
    assert [row.status for row in messages(db)] == ["failed"]


def test_a_wrong_smtp_password_is_a_permanent_error(
    db: Database, tmp_path: Path, smtp_auth_server: SMTPServer
) -> None:
    settings = make_settings(tmp_path, **smtp_env(smtp_auth_server, login=(SMTP_TEST_LOGIN[0], "wrong")))
    sender = make_sender(db, settings, UsageRecorder(), make_execution(db))

    with pytest.raises(EmailError) as raised:
        sender.send(OWNER, "Digest", "Body")

    assert raised.value.permanent and raised.value.smtp_code == 535
    assert smtp_auth_server.messages == []


def test_starttls_against_a_server_without_it_is_a_permanent_error(
    db: Database, tmp_path: Path, smtp_server: SMTPServer
) -> None:
    sender = make_sender(
        db, make_settings(tmp_path, **smtp_env(smtp_server, tls=True)), UsageRecorder(), make_execution(db)
    )

    with pytest.raises(EmailError, match="STARTTLS") as raised:
        sender.send(OWNER, "Digest", "Body")

    assert raised.value.permanent
    assert smtp_server.messages == []


def test_an_email_sent_past_the_credit_limit_is_recorded_as_sent_and_the_job_stops(
    db: Database, tmp_path: Path, smtp_server: SMTPServer
) -> None:
    sender = make_sender(
        db, make_settings(tmp_path, **smtp_env(smtp_server)), RefusingMeter(), make_execution(db)
    )

    with pytest.raises(CreditLimitExceeded):
        sender.send(OWNER, "Digest", "Body")

    assert len(smtp_server.messages) == 1
    assert [row.status for row in messages(db)] == ["sent"]


# --- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("to", "subject", "text", "problem"),
    [
        ("not-an-address", "Digest", "Body", "not a valid email address"),
        ("Owner <owner@example.com>", "Digest", "Body", "bare address 'owner@example.com'"),
        ("owner@localhost", "Digest", "Body", "not a valid email address"),
        ("owner@example.com\r\nBcc: x@example.com", "Digest", "Body", "not a valid email address"),
        ([], "Digest", "Body", "'to' is empty"),
        ([OWNER, 42], "Digest", "Body", "must be a string"),
        ([f"user{n}@example.com" for n in range(11)], "Digest", "Body", "at most 10 recipients"),
        (OWNER, "", "Body", "subject is empty"),
        (OWNER, "Two\nlines", "Body", "subject must be one line"),
        (OWNER, "Digest", "   ", "text is empty"),
        (OWNER, "Digest", None, "text must be a string"),
    ],
)
def test_bad_emails_are_refused_before_anything_is_stored(
    db: Database, tmp_path: Path, to: Any, subject: Any, text: Any, problem: str
) -> None:
    meter = UsageRecorder()
    sender = make_sender(db, make_settings(tmp_path), meter, make_execution(db))

    with pytest.raises(EmailError) as raised:
        sender.send(to, subject, text)

    assert problem in str(raised.value) and raised.value.permanent
    assert messages(db) == []
    assert meter.usage["emails"] == 0
