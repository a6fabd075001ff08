"""Tickwork's web layer: the admin panel and the JSON API, from one Flask app factory.

One blueprint per area: ``auth`` (sign in and out), ``pages`` (the admin panel), ``api``
(/api/v1, API keys), ``metrics`` (/metrics for Prometheus) and ``twilio_status`` (Twilio's
delivery callbacks). Views parse input, check permission through ``principal``, call a
service function and render; they hold no business rules of their own.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, g, jsonify

from tickwork.settings import get_settings

SESSION_LIFETIME = timedelta(hours=12)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The WSGI app (``gunicorn "tickwork.web:create_app()"``)."""
    settings = get_settings()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="tickwork_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=(getattr(settings, "public_url", None) or "").startswith("https://"),
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        MAX_CONTENT_LENGTH=8 * 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.config.update(config or {})

    from tickwork.web import api, auth, metrics, pages, requests, twilio_status

    requests.install(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(metrics.bp)
    app.register_blueprint(twilio_status.bp)

    @app.get("/healthz")
    def healthz() -> Any:
        """Liveness for load balancers and docker-compose: the database answers."""
        from sqlalchemy import text

        g.db.execute(text("SELECT 1"))
        return jsonify({"status": "ok"})

    return app
