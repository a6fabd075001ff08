"""The admin panel's pages (server-rendered)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for

bp = Blueprint("pages", __name__)


@bp.before_request
def _signed_in() -> Any:
    if g.principal is None:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return None


@bp.get("/")
def dashboard() -> Any:
    return render_template("base.html")
