"""Who is asking and what they may do: logins, roles, CSRF tokens, security headers.

Two accounts come from the settings: the admin (role `operator`: may act on jobs) and the
viewer (role `viewer`: read-only). Passwords are hashed once at startup (or given already
hashed), and compared with werkzeug's constant-time check. Browsers log in with a form and
carry a signed session cookie; every state-changing request then needs the session's CSRF
token (form field `csrf_token` or header `X-CSRF-Token`). Scripts may instead send HTTP
Basic credentials on each request: a cross-site page cannot attach those, because this app
never answers with a Basic challenge, so browsers never store them; no CSRF token is needed.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response

from hiring_jobs.settings import Settings

_EXTENSION = "hiring_jobs.accounts"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Spelling of werkzeug's hash formats: such a password setting is used as the hash itself.
_HASH_PREFIXES = ("scrypt:", "pbkdf2:")

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])


class Role(enum.StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"


@dataclasses.dataclass(frozen=True)
class Account:
    username: str
    password_hash: str
    role: Role


@dataclasses.dataclass(frozen=True)
class User:
    username: str
    role: Role
    via: str  # "session" or "basic"

    @property
    def can_act(self) -> bool:
        return self.role == Role.OPERATOR


class Accounts:
    """The configured accounts; empty when no admin password is set (logins impossible)."""

    def __init__(self, settings: Settings) -> None:
        self.by_name: dict[str, Account] = {}
        if not settings.admin_password:
            return
        self._add(settings.admin_username, settings.admin_password, Role.OPERATOR)
        if settings.viewer_password and settings.viewer_username != settings.admin_username:
            self._add(settings.viewer_username, settings.viewer_password, Role.VIEWER)
        # Checked when the name is unknown, so both cases take the same time (same method).
        method = next(iter(self.by_name.values())).password_hash.split("$", 1)[0]
        self._dummy_hash = generate_password_hash(secrets.token_hex(16), method=method)

    @property
    def configured(self) -> bool:
        return bool(self.by_name)

    def _add(self, username: str, password: str, role: Role) -> None:
        hashed = password if password.startswith(_HASH_PREFIXES) else None
        self.by_name[username] = Account(username, hashed or generate_password_hash(password), role)

    def authenticate(self, username: str, password: str) -> Account | None:
        account = self.by_name.get(username)
        if account is None:
            if self.configured:
                check_password_hash(self._dummy_hash, password)
            return None
        return account if check_password_hash(account.password_hash, password) else None


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions[_EXTENSION] = Accounts(settings)
    app.before_request(_load_user)
    app.before_request(_check_csrf)
    app.after_request(_security_headers)
    app.context_processor(lambda: {"current_user": g.get("user"), "csrf_token": csrf_token})


def accounts() -> Accounts:
    found: Accounts = current_app.extensions[_EXTENSION]
    return found


def current_user() -> User | None:
    user: User | None = g.get("user")
    return user


def log_in(account: Account) -> None:
    # A fresh session: nothing from before the login (fixation) survives it.
    session.clear()
    session.permanent = True
    session["user"] = account.username
    session["role"] = account.role.value
    session["csrf"] = secrets.token_urlsafe(32)


def log_out() -> None:
    session.clear()


def csrf_token() -> str:
    """The session's token, created on first use (the login form needs one too)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    token: str = session["csrf"]
    return token


def _load_user() -> None:
    g.user = _basic_auth_user() or _session_user()


def _session_user() -> User | None:
    name, role = session.get("user"), session.get("role")
    account = accounts().by_name.get(name) if isinstance(name, str) else None
    # The role is checked against the settings: a changed configuration wins over a cookie.
    if account is None or account.role.value != role:
        return None
    return User(account.username, account.role, "session")


def _basic_auth_user() -> User | None:
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username:
        return None
    account = accounts().authenticate(auth.username, auth.password or "")
    return User(account.username, account.role, "basic") if account else None


def _check_csrf() -> None:
    if request.method in SAFE_METHODS or request.endpoint == "static":
        return
    user = current_user()
    if user is not None and user.via == "basic":
        return
    sent = request.headers.get("X-CSRF-Token") or _form_token()
    expected = session.get("csrf")
    if not sent or not isinstance(expected, str) or not secrets.compare_digest(sent, expected):
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


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path in {"/metrics", "/health/detailed"}


def login_required(view: F) -> F:
    """Pages redirect to the login form; API and ops endpoints answer 401."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        if current_user() is None:
            if _wants_json():
                abort(401, description="log in, or send HTTP Basic credentials")
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def operator_required(view: F) -> F:
    """Actions: a viewer gets 403, whatever the request says."""

    @functools.wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        user = current_user()
        if user is None or not user.can_act:
            abort(403, description="read-only account: this action needs the operator role")
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def redirect_target(raw: str | None) -> str:
    """Only local paths: `next=` must not send a fresh login to another site."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return url_for("admin.home")
