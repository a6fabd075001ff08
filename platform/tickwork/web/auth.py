"""Signing in and out of the admin panel."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, redirect, render_template, request, session, url_for

from tickwork.queues import connection
from tickwork.users import authenticate
from tickwork.web import throttle
from tickwork.web.errors import ApiError
from tickwork.web.requests import sign_in

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("login.html", email="", error=None)
    email = request.form.get("email", "").strip()
    password = request.form.get("password", "")
    address = request.remote_addr or "unknown"
    conn = connection()
    wait = throttle.retry_after(conn, email, address)
    if wait:
        minutes = max(1, round(wait / 60))
        raise ApiError(
            429, "too_many_requests", f"too many failed sign-ins; try again in about {minutes} minute(s)",
            headers={"Retry-After": str(wait)},
        )  # fmt: skip
    user = authenticate(g.db, email, password)
    if user is None:
        throttle.record_failure(conn, email, address)
        return render_template("login.html", email=email, error="That email and password do not match."), 401
    throttle.clear(conn, email, address)
    sign_in(user)
    target = request.args.get("next", "")
    return redirect(
        target if target.startswith("/") and not target.startswith("//") else url_for("pages.dashboard")
    )


@bp.post("/logout")
def logout() -> Any:
    session.clear()
    return redirect(url_for("auth.login"))
