"""The local OpenAI, Twilio and SMTP servers, exercised through the official clients over real sockets."""

from __future__ import annotations

import json
import re
import smtplib
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import openai
import pytest
from pydantic import BaseModel
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from werkzeug.wrappers import Request, Response

from tests.servers import LocalWSGIServer
from tests.servers.fixtures import SMTP_TEST_LOGIN, Services
from tests.servers.openai_server import OpenAIServer, Usage
from tests.servers.smtp_server import SMTPServer
from tests.servers.twilio_server import TwilioServer, count_segments
from tickwork.errors import ConfigError
from tickwork.integrations.twilio_transport import (
    RebasedHttpClient,
    close_twilio_client,
    make_twilio_client,
)
from tickwork.settings import get_settings

LOCAL_URL = re.compile(r"http://127\.0\.0\.1:\d+")
MESSAGE_SID = re.compile(r"SM[0-9a-f]{32}")
OWNER_PHONE = "+16175550123"


class OrderDigest(BaseModel):
    subject: str
    order_count: int
    highlights: list[str]


@pytest.fixture
def ai(openai_server: OpenAIServer) -> Iterator[openai.OpenAI]:
    """The official client on the local server; no retries, so each queued answer is one call."""
    with openai.OpenAI(
        base_url=openai_server.base_url, api_key=openai_server.api_key, max_retries=0
    ) as client:
        yield client


@pytest.fixture
def sms(twilio_server: TwilioServer) -> Iterator[Client]:
    client = make_twilio_client(
        twilio_server.account_sid, twilio_server.auth_token, base_url=twilio_server.base_url
    )
    yield client
    close_twilio_client(client)


class CallbackReceiver(LocalWSGIServer):
    """An app's webhook endpoint: accepts a Twilio callback only if its signature checks out."""

    name = "callback-receiver"

    def __init__(self, auth_token: str) -> None:
        super().__init__()
        self.validator = RequestValidator(auth_token)
        self.received: list[dict[str, Any]] = []

    def wsgi_app(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        params = request.form.to_dict()
        signature = request.headers.get("X-Twilio-Signature", "")
        valid = self.validator.validate(request.url, params, signature)
        self.received.append({"url": request.url, "params": params, "valid": valid})
        return Response(status=204 if valid else 403)(environ, start_response)


# --- OpenAI ------------------------------------------------------------------------------------------


def test_openai_server_listens_on_loopback_only(openai_server: OpenAIServer) -> None:
    assert LOCAL_URL.fullmatch(openai_server.url)
    assert openai_server.base_url == f"{openai_server.url}/v1"


def test_chat_completion_answers_with_a_deterministic_echo_and_word_counted_usage(
    openai_server: OpenAIServer, ai: openai.OpenAI
) -> None:
    completion = ai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "You summarise orders."},
            {"role": "user", "content": "Summarise three orders please"},
        ],
    )

    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "gpt-4o-mini"
    choice = completion.choices[0]
    assert (choice.index, choice.finish_reason) == (0, "stop")
    assert choice.message.role == "assistant"
    assert choice.message.content == "Echo: Summarise three orders please"
    assert choice.message.refusal is None
    usage = completion.usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (7, 5, 12)
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 0
    assert (
        usage.completion_tokens_details is not None and usage.completion_tokens_details.reasoning_tokens == 0
    )

    [recorded] = openai_server.requests
    assert (recorded["method"], recorded["path"]) == ("POST", "/v1/chat/completions")
    assert recorded["headers"]["authorization"] == f"Bearer {openai_server.api_key}"
    assert recorded["json"]["model"] == "gpt-4o-mini"
    assert recorded["json"]["messages"][1]["content"] == "Summarise three orders please"


def test_configured_cached_and_reasoning_tokens_appear_in_default_usage(
    openai_server: OpenAIServer, ai: openai.OpenAI
) -> None:
    openai_server.cached_tokens = 3
    openai_server.reasoning_tokens = 10

    completion = ai.chat.completions.create(
        model="o4-mini", messages=[{"role": "user", "content": "one two"}]
    )

    usage = completion.usage
    assert usage is not None and usage.prompt_tokens_details and usage.completion_tokens_details
    assert usage.prompt_tokens == 2
    assert usage.prompt_tokens_details.cached_tokens == 2  # never more than the prompt
    assert usage.completion_tokens_details.reasoning_tokens == 10
    assert usage.completion_tokens == 3 + 10  # "Echo: one two" plus the reasoning tokens
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_queued_reply_sets_content_model_and_exact_usage(
    openai_server: OpenAIServer, ai: openai.OpenAI
) -> None:
    openai_server.queue_reply(
        "Three orders yesterday.",
        usage=Usage(prompt_tokens=1200, completion_tokens=300, cached_tokens=1024, reasoning_tokens=256),
        model="gpt-4o-mini-2024-07-18",
    )

    completion = ai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])

    assert completion.choices[0].message.content == "Three orders yesterday."
    assert completion.model == "gpt-4o-mini-2024-07-18"
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens_details and usage.completion_tokens_details
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (1200, 300, 1500)
    assert usage.prompt_tokens_details.cached_tokens == 1024
    assert usage.completion_tokens_details.reasoning_tokens == 256
    assert openai_server.queued == 0


def test_parse_returns_the_pydantic_model_from_a_queued_json_reply(
    openai_server: OpenAIServer, ai: openai.OpenAI
) -> None:
    expected = OrderDigest(subject="Yesterday's orders", order_count=3, highlights=["largest: $120"])
    openai_server.queue_reply(expected, usage={"prompt_tokens": 50, "completion_tokens": 20})

    completion = ai.chat.completions.parse(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Digest these orders"}],
        response_format=OrderDigest,
    )

    message = completion.choices[0].message
    assert message.parsed == expected
    assert json.loads(message.content or "") == expected.model_dump()
    request_format = openai_server.chat_requests[0]["response_format"]
    assert request_format["type"] == "json_schema"
    assert request_format["json_schema"]["name"] == "OrderDigest"
    assert request_format["json_schema"]["strict"] is True


def test_parse_without_a_queued_reply_is_a_bad_request_naming_the_fix(ai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        ai.chat.completions.parse(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], response_format=OrderDigest
        )

    assert raised.value.status_code == 400
    assert "queue_reply" in raised.value.message
    assert raised.value.param == "response_format"


def test_parse_surfaces_a_queued_refusal_and_a_truncated_answer(
    openai_server: OpenAIServer, ai: openai.OpenAI
) -> None:
    openai_server.queue_reply(refusal="I can't help with that.")
    openai_server.queue_reply('{"subject": "cut', finish_reason="length")
    messages: list[Any] = [{"role": "user", "content": "x"}]

    refused = ai.chat.completions.parse(model="gpt-4o-mini", messages=messages, response_format=OrderDigest)
    assert refused.choices[0].message.refusal == "I can't help with that."
    assert refused.choices[0].message.parsed is None

    with pytest.raises(openai.LengthFinishReasonError):
        ai.chat.completions.parse(model="gpt-4o-mini", messages=messages, response_format=OrderDigest)


def test_queued_rate_limit_surfaces_as_rate_limit_error_then_the_next_call_succeeds(
    openai_server: OpenAIServer, ai: openai.OpenAI
) -> None:
    openai_server.queue_error(429, "Rate limit reached for gpt-4o-mini", "requests")
    messages: list[Any] = [{"role": "user", "content": "hello"}]

    with pytest.raises(openai.RateLimitError) as raised:
        ai.chat.completions.create(model="gpt-4o-mini", messages=messages)

    error = raised.value
    assert isinstance(error, openai.APIStatusError)
    assert (error.status_code, error.code, error.type) == (429, "rate_limit_exceeded", "requests")
    assert error.message.endswith("Rate limit reached for gpt-4o-mini")
    assert error.request_id is not None and error.request_id.startswith("req_")
    fallback = ai.chat.completions.create(model="gpt-4o", messages=messages)
    assert fallback.choices[0].message.content == "Echo: hello"


def test_server_errors_are_api_status_errors_and_retried_by_the_client(openai_server: OpenAIServer) -> None:
    openai_server.queue_error(500, "The server had an error", headers={"retry-after-ms": "1"})
    messages: list[Any] = [{"role": "user", "content": "hello"}]

    with openai.OpenAI(
        base_url=openai_server.base_url, api_key=openai_server.api_key, max_retries=1
    ) as client:
        first = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        assert first.choices[0].message.content == "Echo: hello"
    assert len(openai_server.chat_requests) == 2  # the 500, then the retry that succeeded

    openai_server.queue_error(503, "Overloaded")

    with openai.OpenAI(
        base_url=openai_server.base_url, api_key=openai_server.api_key, max_retries=0
    ) as client:
        with pytest.raises(openai.APIStatusError) as raised:
            client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert isinstance(raised.value, openai.InternalServerError)
    assert raised.value.status_code == 503


def test_wrong_api_key_is_rejected_like_openai(openai_server: OpenAIServer) -> None:
    with openai.OpenAI(base_url=openai_server.base_url, api_key="sk-wrong-key-1234", max_retries=0) as client:
        with pytest.raises(openai.AuthenticationError) as raised:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])

    assert raised.value.status_code == 401
    assert raised.value.code == "invalid_api_key"
    assert "sk-wrong-key-1234" not in raised.value.message  # the key is masked, as OpenAI does


def test_models_are_listed_and_unknown_ones_are_not_found(
    openai_server: OpenAIServer, ai: openai.OpenAI
) -> None:
    assert [model.id for model in ai.models.list()] == list(openai_server.models)
    assert ai.models.retrieve("gpt-4o").owned_by == "openai"
    with pytest.raises(openai.NotFoundError):
        ai.models.retrieve("gpt-nonexistent")


def test_reset_forgets_requests_and_queued_answers(openai_server: OpenAIServer, ai: openai.OpenAI) -> None:
    openai_server.queue_reply("unused")
    openai_server.reasoning_tokens = 7
    ai.models.list()

    openai_server.reset()

    assert (openai_server.requests, openai_server.queued, openai_server.reasoning_tokens) == ([], 0, 0)


def test_stop_ends_connections_a_client_keeps_alive() -> None:
    server = OpenAIServer().start()
    with openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=0) as client:
        client.models.list()  # leaves a pooled keep-alive connection open
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 2
        server.stop()  # a second stop is harmless
        with pytest.raises(openai.APIConnectionError):
            client.models.list()


# --- Twilio ------------------------------------------------------------------------------------------


def test_sms_create_returns_the_message_resource(twilio_server: TwilioServer, sms: Client) -> None:
    message = sms.messages.create(
        to=OWNER_PHONE, from_=twilio_server.from_number, body="Your digest is ready"
    )

    assert MESSAGE_SID.fullmatch(message.sid)
    assert message.account_sid == twilio_server.account_sid
    assert (message.to, message.from_, message.body) == (
        OWNER_PHONE,
        twilio_server.from_number,
        "Your digest is ready",
    )
    assert (message.status, message.num_segments, message.num_media) == ("queued", "1", "0")
    assert message.price is None and message.direction == "outbound-api"
    assert message.date_created is not None and message.date_created.tzinfo is not None
    assert message.uri == f"/2010-04-01/Accounts/{twilio_server.account_sid}/Messages/{message.sid}.json"
    [stored] = twilio_server.messages
    assert (stored.sid, stored.to, stored.body) == (message.sid, OWNER_PHONE, "Your digest is ready")
    assert twilio_server.requests[0]["headers"]["authorization"].startswith("Basic ")


def test_sms_num_segments_follow_twilio_encoding_rules(twilio_server: TwilioServer, sms: Client) -> None:
    long_gsm = "x" * 161
    message = sms.messages.create(to=OWNER_PHONE, from_=twilio_server.from_number, body=long_gsm)
    assert message.num_segments == "2"
    unicode_body = "✓" * 71
    message = sms.messages.create(to=OWNER_PHONE, from_=twilio_server.from_number, body=unicode_body)
    assert message.num_segments == "2"


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # extension characters take two septets each: 160
        ("€" * 81, 2),
        ("€" * 153, 3),  # 306 septets, yet 3 parts: 76 per part, as an escape pair is never split
        ("é" * 160, 1),  # é is in the GSM-7 basic table
        ("ü" * 70 + "✓", 2),  # any non-GSM character makes the whole body UCS-2
        ("✓" * 70, 1),
        ("✓" * 134, 2),
        ("✓" * 135, 3),
        ("😀" * 35, 1),  # surrogate pairs: two UTF-16 units each
        ("😀" * 36, 2),
        ("😀" * 67, 3),  # 134 units, yet 3 parts: 33 pairs per 67-unit part
    ],
)
def test_segment_count_matches_twilio_billing(body: str, segments: int) -> None:
    assert count_segments(body) == segments


@pytest.mark.parametrize("to", ["6175550123", "+0123456789", "+1-617-555-0123", "+1234", "+1234567890123456"])
def test_invalid_to_number_raises_twilio_error_21211(
    twilio_server: TwilioServer, sms: Client, to: str
) -> None:
    with pytest.raises(TwilioRestException) as raised:
        sms.messages.create(to=to, from_=twilio_server.from_number, body="hello")

    assert (raised.value.status, raised.value.code) == (400, 21211)
    assert to in raised.value.msg
    assert twilio_server.messages == []


def test_empty_body_raises_twilio_error_21602(twilio_server: TwilioServer, sms: Client) -> None:
    with pytest.raises(TwilioRestException) as raised:
        sms.messages.create(to=OWNER_PHONE, from_=twilio_server.from_number, body="")

    assert (raised.value.status, raised.value.code) == (400, 21602)


def test_wrong_auth_token_is_rejected_with_20003(twilio_server: TwilioServer) -> None:
    client = make_twilio_client(twilio_server.account_sid, "not-the-token", base_url=twilio_server.base_url)
    try:
        with pytest.raises(TwilioRestException) as raised:
            client.messages.create(to=OWNER_PHONE, from_=twilio_server.from_number, body="hello")
    finally:
        close_twilio_client(client)

    assert (raised.value.status, raised.value.code) == (401, 20003)


def test_messaging_service_send_is_accepted_without_a_from_number(
    twilio_server: TwilioServer, sms: Client
) -> None:
    service_sid = "MG" + "0" * 32
    message = sms.messages.create(to=OWNER_PHONE, messaging_service_sid=service_sid, body="hi")

    assert (message.status, message.from_, message.messaging_service_sid) == ("accepted", None, service_sid)


def test_queued_twilio_error_fails_the_next_send_only(twilio_server: TwilioServer, sms: Client) -> None:
    twilio_server.queue_error(400, 21610, "Attempt to send to unsubscribed recipient")

    with pytest.raises(TwilioRestException) as raised:
        sms.messages.create(to=OWNER_PHONE, from_=twilio_server.from_number, body="hello")
    assert raised.value.code == 21610
    assert (
        sms.messages.create(to=OWNER_PHONE, from_=twilio_server.from_number, body="hello").status == "queued"
    )


def test_deliver_posts_a_status_callback_that_request_validator_accepts(
    twilio_server: TwilioServer, sms: Client
) -> None:
    with CallbackReceiver(twilio_server.auth_token) as receiver:
        callback_url = f"{receiver.url}/webhooks/twilio/status?execution=ex_42"
        message = sms.messages.create(
            to=OWNER_PHONE, from_=twilio_server.from_number, body="x" * 200, status_callback=callback_url
        )

        assert twilio_server.deliver(message.sid, "sent") == 204
        assert twilio_server.deliver(message.sid, "delivered", num_segments=2) == 204

    first, second = receiver.received
    assert first["valid"] and second["valid"]
    assert second["url"] == callback_url
    assert second["params"] == {
        "AccountSid": twilio_server.account_sid,
        "ApiVersion": "2010-04-01",
        "From": twilio_server.from_number,
        "MessageSid": message.sid,
        "MessageStatus": "delivered",
        "NumSegments": "2",
        "SmsSid": message.sid,
        "SmsStatus": "delivered",
        "To": OWNER_PHONE,
    }
    assert first["params"]["MessageStatus"] == "sent"
    fetched = sms.messages(message.sid).fetch()
    assert (fetched.status, fetched.num_segments) == ("delivered", "2")


def test_a_receiver_with_another_token_rejects_the_callback(twilio_server: TwilioServer, sms: Client) -> None:
    with CallbackReceiver("some-other-auth-token") as receiver:
        message = sms.messages.create(
            to=OWNER_PHONE,
            from_=twilio_server.from_number,
            body="hi",
            status_callback=f"{receiver.url}/status",
        )
        assert twilio_server.deliver(message.sid, "undelivered", error_code=30003) == 403

    [received] = receiver.received
    assert not received["valid"]
    assert received["params"]["ErrorCode"] == "30003"


def test_status_callback_can_be_built_without_sending_it(twilio_server: TwilioServer, sms: Client) -> None:
    url = "https://tickwork.example.com/webhooks/twilio/status"
    message = sms.messages.create(
        to=OWNER_PHONE, from_=twilio_server.from_number, body="hi", status_callback=url
    )

    callback = twilio_server.status_callback(message.sid, "failed", error_code=30008)

    assert RequestValidator(twilio_server.auth_token).validate(
        url, callback.params, callback.headers["X-Twilio-Signature"]
    )
    with pytest.raises(ValueError, match="127.0.0.1"):
        twilio_server.deliver(message.sid)  # the harness never posts anywhere but loopback


def test_fetching_an_unknown_message_is_a_twilio_404(twilio_server: TwilioServer, sms: Client) -> None:
    with pytest.raises(TwilioRestException) as raised:
        sms.messages("SM" + "f" * 32).fetch()

    assert (raised.value.status, raised.value.code) == (404, 20404)


@pytest.mark.parametrize(
    ("url", "rebased"),
    [
        (
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
            "http://127.0.0.1:9/base/2010-04-01/Accounts/AC1/Messages.json",
        ),
        (
            "https://messaging.twilio.com/v1/Services?PageSize=5",
            "http://127.0.0.1:9/base/v1/Services?PageSize=5",
        ),
        ("https://api.sydney.au1.twilio.com/2010-04-01/x.json", "http://127.0.0.1:9/base/2010-04-01/x.json"),
        ("https://example.com/2010-04-01/x.json", "https://example.com/2010-04-01/x.json"),
        ("https://nottwilio.com/x", "https://nottwilio.com/x"),
    ],
)
def test_transport_rebases_only_twilio_hosts(url: str, rebased: str) -> None:
    transport = RebasedHttpClient("http://127.0.0.1:9/base/")
    try:
        assert transport.rebase(url) == rebased
        assert transport.session is not None and transport.session.trust_env is False
    finally:
        transport.session.close()


@pytest.mark.parametrize("base_url", ["127.0.0.1:9", "ftp://127.0.0.1", "http://", "http://127.0.0.1:9/?x=1"])
def test_transport_rejects_a_malformed_base_url(base_url: str) -> None:
    with pytest.raises(ConfigError):
        RebasedHttpClient(base_url)


def test_make_twilio_client_sets_timeouts_with_or_without_a_base_url() -> None:
    production = make_twilio_client("AC" + "1" * 32, "token")
    rebased = make_twilio_client("AC" + "1" * 32, "token", base_url="http://127.0.0.1:9", timeout=3)
    try:
        assert production.http_client.timeout == 10
        assert not isinstance(production.http_client, RebasedHttpClient)
        assert isinstance(rebased.http_client, RebasedHttpClient) and rebased.http_client.timeout == 3
    finally:
        close_twilio_client(production)
        close_twilio_client(rebased)


# --- SMTP --------------------------------------------------------------------------------------------


def _digest_email(to: str = "owner@example.com") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Tickwork <noreply@tickwork.test>"
    message["To"] = to
    message["Subject"] = "Yesterday's orders: 3 — €120"
    message.set_content("Three orders, €120 in all.")
    message.add_alternative("<p>Three orders, <b>€120</b> in all.</p>", subtype="html")
    return message


def test_smtplib_delivers_to_the_server_which_records_envelope_and_message(smtp_server: SMTPServer) -> None:
    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=5) as client:
        client.send_message(_digest_email(), to_addrs=["owner@example.com", "bcc@example.com"])

    [received] = smtp_server.messages
    assert received.mail_from == "noreply@tickwork.test"
    assert received.rcpt_tos == ("owner@example.com", "bcc@example.com")
    assert received.subject == "Yesterday's orders: 3 — €120"
    assert received.text == "Three orders, €120 in all.\n"
    assert received.html == "<p>Three orders, <b>€120</b> in all.</p>\n"
    assert received.login is None
    assert smtp_server.host == "127.0.0.1"


def test_auth_server_accepts_mail_after_login(smtp_auth_server: SMTPServer) -> None:
    with smtplib.SMTP(smtp_auth_server.host, smtp_auth_server.port, timeout=5) as client:
        client.login(*SMTP_TEST_LOGIN)
        client.send_message(_digest_email())

    [received] = smtp_auth_server.messages
    assert received.login == SMTP_TEST_LOGIN[0]
    assert received.rcpt_tos == ("owner@example.com",)


def test_auth_server_refuses_anonymous_senders_and_wrong_passwords(smtp_auth_server: SMTPServer) -> None:
    with smtplib.SMTP(smtp_auth_server.host, smtp_auth_server.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.send_message(_digest_email())
        assert refused.value.smtp_code == 530
        with pytest.raises(smtplib.SMTPAuthenticationError) as rejected:
            client.login(SMTP_TEST_LOGIN[0], "wrong-password")
        assert rejected.value.smtp_code == 535

    assert smtp_auth_server.messages == []


def test_rejected_data_raises_in_smtplib_and_is_not_recorded(smtp_server: SMTPServer) -> None:
    smtp_server.reject_next("451 4.3.0 Try again later")

    with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=5) as client:
        with pytest.raises(smtplib.SMTPDataError) as raised:
            client.send_message(_digest_email())
        assert raised.value.smtp_code == 451
        client.send_message(_digest_email())

    assert len(smtp_server.messages) == 1


def test_wait_for_returns_once_a_sender_in_another_thread_delivers(smtp_server: SMTPServer) -> None:
    def send_later() -> None:
        time.sleep(0.05)
        with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=5) as client:
            client.send_message(_digest_email("late@example.com"))

    sender = threading.Thread(target=send_later)
    sender.start()
    try:
        [received] = smtp_server.wait_for(1, timeout=5)
    finally:
        sender.join()
    assert received.rcpt_tos == ("late@example.com",)
    with pytest.raises(TimeoutError, match="expected 2 email"):
        smtp_server.wait_for(2, timeout=0.05)


# --- settings wiring ---------------------------------------------------------------------------------


def test_services_env_points_settings_at_the_local_servers(services_env: Services) -> None:
    settings = get_settings()
    assert settings.openai_base_url == services_env.openai.base_url
    assert settings.twilio is not None and settings.smtp is not None
    assert settings.twilio.base_url == services_env.twilio.base_url
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.use_tls) == (
        "127.0.0.1",
        services_env.smtp.port,
        False,
    )

    client = make_twilio_client(
        settings.twilio.account_sid, settings.twilio.auth_token, settings.twilio.base_url
    )
    try:
        client.messages.create(to=OWNER_PHONE, from_=settings.twilio.from_number, body="configured")
    finally:
        close_twilio_client(client)
    assert [m.body for m in services_env.twilio.messages] == ["configured"]
