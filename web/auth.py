"""Logging in and out of the admin pages (see web.security for how requests are checked)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from hiring_jobs.queue import audit
from web import security
from web.db import get_session

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if not security.accounts().configured:
        # No admin password: nobody can log in, and the page says how to fix that.
        return render_template("auth/not_configured.html"), 503
    next_url = security.redirect_target(request.values.get("next"))
    if request.method == "GET":
        return render_template("auth/login.html", next=next_url, error=None)
    username = request.form.get("username", "")
    account = security.accounts().authenticate(username, request.form.get("password", ""))
    _audit_login(username[:100], succeeded=account is not None)
    if account is None:
        error = "Unknown user name or wrong password."
        return render_template("auth/login.html", next=next_url, error=error), 401
    security.log_in(account)
    return redirect(next_url)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    user = security.current_user()
    if user is not None:
        session = get_session()
        audit.record(session, actor=user.username, action="auth.logout")
        session.commit()
    security.log_out()
    return redirect(url_for("auth.login"))


def _audit_login(username: str, *, succeeded: bool) -> None:
    session = get_session()
    action = "auth.login" if succeeded else "auth.login_failed"
    audit.record(
        session, actor=username or "(empty)", action=action, target=request.remote_addr or ""
    )
    session.commit()
