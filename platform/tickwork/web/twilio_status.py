"""Twilio's status callbacks for the texts jobs send: ``POST /hooks/twilio/sms-status``.

Every request must carry a valid ``X-Twilio-Signature``, checked with twilio's own
``RequestValidator`` and the platform's TWILIO_AUTH_TOKEN against the URL Twilio was given:
TICKWORK_PUBLIC_URL plus the path (and query). A bad or missing signature gets a 403 JSON
error and changes nothing. The work itself is ``tickwork.sms_status.apply_status``.

Answers are JSON: 200 with what was recorded, 400 for a signed request without a message
SID or status, 404 for a SID that is not one of our messages, 502 when the segment count had
to be fetched from Twilio and could not be, 503 when Twilio or the public URL is not set up.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request
from twilio.base.exceptions import TwilioException
from twilio.request_validator import RequestValidator

from tickwork.billing_meter import rates_from
from tickwork.context.sms import SMS_STATUS_PATH
from tickwork.db import session_factory
from tickwork.settings import get_settings
from tickwork.sms_status import UnknownMessage, apply_status
from tickwork.web.requests import csrf_exempt

log = logging.getLogger(__name__)

bp = Blueprint("twilio_status", __name__)


def _error(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message}}), status


def _signed_url(public_url: str) -> str:
    query = request.query_string.decode()
    return public_url + request.path + (f"?{query}" if query else "")


def _whole_number(value: str | None) -> int | None:
    try:
        return int(value) if value is not None and value.strip() else None
    except ValueError:
        return None


@csrf_exempt  # authenticated by Twilio's signature, not a form token
def sms_status() -> Any:
    settings = get_settings()
    if settings.twilio is None or not settings.public_url:
        return _error(503, "not_configured", "Twilio callbacks need TWILIO_* and TICKWORK_PUBLIC_URL set")
    signature = request.headers.get("X-Twilio-Signature", "")
    validator = RequestValidator(settings.twilio.auth_token)
    if not signature or not validator.validate(_signed_url(settings.public_url), request.form, signature):
        return _error(403, "bad_signature", "the X-Twilio-Signature header does not match this request")
    sid = request.form.get("MessageSid") or request.form.get("SmsSid")
    status = (request.form.get("MessageStatus") or request.form.get("SmsStatus") or "").lower()
    if not sid or not status:
        return _error(400, "bad_request", "a status callback needs MessageSid and MessageStatus")
    with session_factory()() as session:
        try:
            settled = apply_status(
                session,
                settings.twilio,
                sid,
                status,
                _whole_number(request.form.get("NumSegments")),
                request.form.get("ErrorCode"),
                message_id=_whole_number(request.args.get("message")),
                rates=rates_from(str(settings.rates_file)),
            )
        except UnknownMessage:
            return _error(404, "unknown_message", f"no text message {sid} was sent by Tickwork")
        except (TwilioException, OSError) as error:
            log.warning("could not fetch %s from Twilio to settle it: %s", sid, error)
            return _error(502, "twilio_unreachable", "could not read the message's segments from Twilio")
        session.commit()
    return jsonify(settled.as_json())


bp.add_url_rule(SMS_STATUS_PATH, view_func=sms_status, methods=["POST"])
