"""Logging in and out of the admin pages (web.authentication: how requests are checked)."""

from __future__ import annotations

import math

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from hiring_jobs import audit
from hiring_jobs.access import accounts, logins
from hiring_jobs.models import Account
from web import authentication, security
from web.db import get_session
from web.redirects import redirect_target

bp = Blueprint("auth", __name__)

REFUSED = "Unknown user name or wrong password."


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    authentication.ensure_accounts()
    if not accounts.any_enabled(get_session()):
        # No account: nobody can log in, and the page says how to fix that.
        return render_template("auth/not_configured.html"), 503
    next_url = redirect_target(request.values.get("next"))
    if request.method == "GET":
        return render_template("auth/login.html", next=next_url, error=None)
    try:
        account = logins.check_password(
            get_session(),
            request.form.get("username", ""),
            request.form.get("password", ""),
            authentication.attempt("form"),
        )
    except logins.Throttled as exc:
        error = f"Too many failed logins: try again in {math.ceil(exc.retry_after)} seconds."
        page = render_template("auth/login.html", next=next_url, error=error)
        return page, 429, {"Retry-After": str(math.ceil(exc.retry_after))}
    except logins.LoginRefused:
        return render_template("auth/login.html", next=next_url, error=REFUSED), 401
    security.log_in(account)
    return redirect(next_url)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Ends every session of the account, on every device (the cookie alone proves nothing
    once the account's session version has moved on)."""
    user = security.current_user()
    if user is not None:
        session = get_session()
        if user.account_id is not None and user.via == "session":
            account = session.get(Account, user.account_id)
            assert account is not None  # loaded for this very request
            accounts.end_sessions(account)
        audit.record(session, actor=user.username, action="auth.logout")
        session.commit()
    security.log_out()
    return redirect(url_for("auth.login"))
