"""The life of one request: a database session, who is asking, CSRF, and errors.

API requests (under /api/) authenticate with an API key and get JSON errors; pages use the
signed session cookie, a CSRF token on every form, and HTML error pages. Requests exempt
from CSRF (Twilio's signed callbacks) say so with ``csrf_exempt``.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, jsonify, render_template, request, session
from werkzeug.exceptions import HTTPException

from tickwork import apikeys
from tickwork.db import session_factory
from tickwork.errors import TickworkError
from tickwork.models import User
from tickwork.web.errors import STATUS_CODES, ApiError, from_tickwork
from tickwork.web.principal import Principal

API_PREFIX = "/api/"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_csrf_exempt_views: set[str] = set()

F = TypeVar("F", bound=Callable[..., Any])


def csrf_exempt(view: F) -> F:
    """Mark a view that authenticates its requests another way (a provider's signature)."""
    _csrf_exempt_views.add(f"{view.__module__}.{view.__name__}")
    return view


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def current_principal() -> Principal | None:
    return g.get("principal")


def install(app: Flask) -> None:
    app.before_request(_open)
    app.teardown_request(_close)
    app.context_processor(lambda: {"csrf_token": csrf_token, "principal": current_principal()})
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(TickworkError, lambda error: _api_error(from_tickwork(error)))
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def _open() -> None:
    g.db = session_factory()()
    g.principal = None
    _refuse_unstorable_text()
    if is_api_request():
        g.principal = _principal_from_key()
        return
    user_id = session.get("user_id")
    if user_id is not None:
        user = g.db.get(User, user_id)
        if user is None or session.get("auth") != _session_stamp(user):
            session.clear()
        else:
            g.principal = Principal.of(user)
    if request.method in UNSAFE_METHODS and not _is_exempt():
        _check_csrf()


def _refuse_unstorable_text() -> None:
    """No text Tickwork stores or looks up may hold U+0000 or a lone surrogate (PostgreSQL
    refuses both): say so up front rather than fail deep inside a query."""
    texts: list[str] = [request.path, *request.args.keys(), *request.args.values()]
    if request.method in UNSAFE_METHODS:
        texts += [*request.form.keys(), *request.form.values()]
        if request.is_json:
            _collect_strings(request.get_json(silent=True), texts)
    for text in texts:
        if "\x00" in text:
            raise ApiError(422, "invalid", "text cannot contain the NUL character (\\u0000)")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(
                422, "invalid", "text must be valid Unicode (an unpaired surrogate was sent)"
            ) from None


def _collect_strings(value: Any, into: list[str]) -> None:
    if isinstance(value, str):
        into.append(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            into.append(str(key))
            _collect_strings(item, into)
    elif isinstance(value, list):
        for item in value:
            _collect_strings(item, into)


def _close(_error: BaseException | None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.rollback()
        db.close()


def _principal_from_key() -> Principal | None:
    presented = _presented_key()
    if presented is None:
        return None
    key = apikeys.verify(g.db, presented)
    if key is None:
        raise ApiError(401, "unauthenticated", "the API key is unknown or revoked")
    g.db.commit()  # keeps last_used_at
    return Principal.of(key.user)


def _presented_key() -> str | None:
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(401, "unauthenticated", 'send the key as "Authorization: Bearer KEY"')
        return value.strip()
    value = request.headers.get("X-API-Key", "").strip()
    return value or None


def _session_stamp(user: User) -> str:
    """Ties a login to the password it was made with: changing the password signs everyone out."""
    return (user.password_hash or "")[-16:]


def sign_in(user: User) -> None:
    session.clear()
    session.permanent = True
    session["user_id"] = user.id
    session["auth"] = _session_stamp(user)
    csrf_token()


def _is_exempt() -> bool:
    endpoint = request.url_rule.endpoint if request.url_rule else None
    function = current_app.view_functions.get(endpoint) if endpoint else None
    return function is not None and f"{function.__module__}.{function.__name__}" in _csrf_exempt_views


def _check_csrf() -> None:
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        raise ApiError(
            400, "csrf", "the form expired or did not come from this site; reload the page and try again"
        )


def _api_error(error: ApiError) -> Response | tuple[Any, int]:
    if is_api_request() or request.accept_mimetypes.best == "application/json":
        response = jsonify(error.body())
        response.status_code = error.status
        response.headers.update(error.headers)
        return response
    html = render_template("error.html", status=error.status, message=error.message)
    return Response(html, status=error.status, headers=error.headers)


def _http_error(error: HTTPException) -> Response | tuple[Any, int]:
    status = error.code or 500
    code = STATUS_CODES.get(status, "error")
    message = error.description or error.name
    return _api_error(ApiError(status, code, message))


def _unexpected(error: Exception) -> Response | tuple[Any, int]:
    current_app.logger.exception("unexpected error", exc_info=error)
    return _api_error(ApiError(500, "internal", "something went wrong on our side; it has been logged"))
