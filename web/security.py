"""What the person or application asking may do: permissions, CSRF tokens, security headers.

Who is asking is found by web.authentication (a session cookie, an API token or HTTP
Basic credentials) before any view runs. Views declare what they need with one decorator:
`login_required` (read), `operator_required` (act on jobs, dead letters, candidates),
`app_required` (the app-side endpoints) or `admin_required` (accounts and tokens).

Sessions need their CSRF token on every state-changing request (form field `csrf_token`
or header `X-CSRF-Token`). Requests carrying a token or Basic credentials do not: a
cross-site page cannot attach an Authorization header, and this app never answers with a
Basic challenge, so browsers never store such credentials.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from hiring_jobs.models import Account, AccountRole, TokenScope

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON_PATHS = ("/api/", "/metrics", "/health")

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])


class Permission(enum.StrEnum):
    READ = "read"  # every page and read endpoint
    ACT = "act"  # actions on jobs, dead letters and candidates; reveals
    APP = "app"  # the app-side endpoints: uploads, applications
    ADMIN = "admin"  # accounts and API tokens


ROLE_PERMISSIONS = {
    AccountRole.VIEWER: frozenset({Permission.READ}),
    AccountRole.OPERATOR: frozenset({Permission.READ, Permission.ACT, Permission.APP}),
    AccountRole.ADMIN: frozenset(Permission),
}
SCOPE_PERMISSIONS = {
    TokenScope.APP: frozenset({Permission.APP}),
    TokenScope.READ: frozenset({Permission.READ}),
    TokenScope.OPERATE: frozenset({Permission.READ, Permission.ACT, Permission.APP}),
}
FORBIDDEN = {
    Permission.READ: "this token's scope is `app`: it may only call the app-side endpoints",
    Permission.ACT: "read-only: this action needs the operator role (or a token with the "
    "`operate` scope)",
    Permission.APP: "this endpoint needs the operator role or a token with the `app` or "
    "`operate` scope",
    Permission.ADMIN: "managing accounts and tokens needs the admin role",
}


@dataclasses.dataclass(frozen=True)
class User:
    """Whoever a request comes from: an account (session or Basic) or an API token."""

    username: str  # shown and written to the audit log: the account, or `token:NAME`
    role: str  # the account's role, or `token (SCOPE)`
    via: str  # "session", "basic" or "token"
    permissions: frozenset[Permission]
    account_id: int | None = None

    @classmethod
    def of_account(cls, account: Account, via: str) -> User:
        role = account.role
        return cls(account.username, role.value, via, ROLE_PERMISSIONS[role], account.id)

    @classmethod
    def of_token(cls, name: str, scope: TokenScope) -> User:
        return cls(f"token:{name}", f"token ({scope.value})", "token", SCOPE_PERMISSIONS[scope])

    @property
    def can_act(self) -> bool:
        return Permission.ACT in self.permissions

    @property
    def is_admin(self) -> bool:
        return Permission.ADMIN in self.permissions


def init_app(app: Flask) -> None:
    app.before_request(_check_csrf)
    app.after_request(_security_headers)
    app.context_processor(lambda: {"current_user": current_user(), "csrf_token": csrf_token})


def current_user() -> User | None:
    user: User | None = g.get("user")
    return user


def log_in(account: Account) -> None:
    # A fresh session: nothing from before the login (fixation) survives it.
    session.clear()
    session.permanent = True
    session["account"] = account.id
    session["version"] = account.session_version
    session["csrf"] = secrets.token_urlsafe(32)


def log_out() -> None:
    session.clear()


def csrf_token() -> str:
    """The session's token, created on first use (the login form needs one too)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    token: str = session["csrf"]
    return token


def wants_json() -> bool:
    return request.path.startswith(JSON_PATHS)


def requires(permission: Permission) -> Callable[[F], F]:
    """Anonymous: pages redirect to the login form, JSON endpoints answer 401. Without the
    permission: 403, whatever the request says."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            user = current_user()
            if user is None:
                if wants_json():
                    abort(401, description="log in, or send an API token (Authorization: Bearer)")
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if permission not in user.permissions:
                abort(403, description=FORBIDDEN[permission])
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate


login_required = requires(Permission.READ)
operator_required = requires(Permission.ACT)
app_required = requires(Permission.APP)
admin_required = requires(Permission.ADMIN)


def _check_csrf() -> None:
    if request.method in SAFE_METHODS or request.endpoint == "static":
        return
    user = current_user()
    if user is not None and user.via != "session":
        return
    sent = request.headers.get("X-CSRF-Token") or _form_token()
    expected = session.get("csrf")
    # Compared as bytes: compare_digest refuses non-ASCII text.
    matches = isinstance(expected, str) and secrets.compare_digest(
        (sent or "").encode(), expected.encode()
    )
    if not sent or not matches:
        abort(400, description="missing or invalid CSRF token: reload the page and try again")


def _form_token() -> str | None:
    # Only forms carry the field (an oversized upload raises its 413 right here).
    if request.mimetype in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        return request.form.get("csrf_token")
    return None


def _security_headers(response: Response) -> Response:
    # Nothing is loaded from elsewhere; inline styles stay allowed for rendered emails only.
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-src 'self'; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'; object-src 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
