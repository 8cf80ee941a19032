"""Who is asking: a session cookie, an API token, or HTTP Basic credentials.

- Session: the signed cookie names an account and the session version it was opened
  with. The account is read on every request, so a logout, a password or role change or
  disabling the account (each raises the version) ends the session at its next request.
- Token (`Authorization: Bearer hj_...`): one HMAC and one indexed read (access.tokens).
- Basic, for people's scripts: checking a password costs a scrypt hash, so a verified
  credential is remembered in this process for REMEMBER_SECONDS, keyed by an HMAC of name
  and password under a random per-process key (no password is kept). A remembered
  credential costs one read of the account, whose session version must still match.

Failed checks are throttled and audited (access.logins). Credentials that fail answer
401 (429 while throttled) before anything else, CSRF included, looks at the request.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import math
import secrets
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, abort, current_app, g, request, session
from werkzeug.exceptions import TooManyRequests

from hiring_jobs.access import accounts, logins, tokens
from hiring_jobs.models import Account
from hiring_jobs.settings import Settings
from web.db import get_session
from web.security import User

_EXTENSION = "hiring_jobs.authentication"
REMEMBER_SECONDS = 60.0
REMEMBER_AT_MOST = 1024
REFUSED = "invalid credentials: unknown or disabled account, wrong password, or unknown token"
T = TypeVar("T")


class RememberedCredentials:
    """Basic credentials verified in the last REMEMBER_SECONDS: account id and version."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._entries: dict[bytes, tuple[int, int, float]] = {}
        self._lock = threading.Lock()

    def _fingerprint(self, username: str, password: str) -> bytes:
        credential = f"{len(username)}:{username}:{password}".encode("utf-8", "surrogatepass")
        return hmac.new(self._key, credential, hashlib.sha256).digest()

    def get(self, username: str, password: str) -> tuple[int, int] | None:
        fingerprint = self._fingerprint(username, password)
        with self._lock:
            found = self._entries.get(fingerprint)
            if found is None or found[2] < time.monotonic():
                self._entries.pop(fingerprint, None)
                return None
        return found[0], found[1]

    def put(self, username: str, password: str, account: Account) -> None:
        fingerprint = self._fingerprint(username, password)
        expires = time.monotonic() + REMEMBER_SECONDS
        with self._lock:
            if len(self._entries) >= REMEMBER_AT_MOST:
                self._entries.clear()  # a burst of distinct credentials: start afresh
            self._entries[fingerprint] = (account.id, account.session_version, expires)


@dataclasses.dataclass
class _State:
    settings: Settings
    token_key: bytes
    remembered: RememberedCredentials = dataclasses.field(default_factory=RememberedCredentials)
    bootstrapped: bool = False
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions[_EXTENSION] = _State(settings, tokens.token_key(settings))
    app.before_request(_load_user)


def _state() -> _State:
    found: _State = current_app.extensions[_EXTENSION]
    return found


def token_key() -> bytes:
    return _state().token_key


def ensure_accounts() -> None:
    """The settings' accounts exist (created at the first login this process sees)."""
    state = _state()
    with state.lock:
        if not state.bootstrapped:
            session = get_session()
            accounts.bootstrap(session, state.settings)
            session.commit()
            state.bootstrapped = True


def attempt(via: str) -> logins.Attempt:
    return logins.Attempt(via=via, address=request.remote_addr or "unknown")


def checked(check: Callable[[], T]) -> T:
    """Run a login check; a refusal becomes 401, a lockout 429 with Retry-After."""
    try:
        return check()
    except logins.Throttled as exc:
        raise TooManyRequests(str(exc), retry_after=math.ceil(exc.retry_after)) from None
    except logins.LoginRefused:
        abort(401, description=REFUSED)


def _load_user() -> None:
    if request.endpoint == "static":
        g.user = None  # stylesheets and scripts: nobody needs to be looked up
        return
    header = request.headers.get("Authorization")
    g.user = _from_header(header) if header is not None else _from_session()


def _from_session() -> User | None:
    account_id, version = session.get("account"), session.get("version")
    if not isinstance(account_id, int) or not isinstance(version, int):
        return None
    account = get_session().get(Account, account_id)
    if account is None or account.disabled or account.session_version != version:
        session.pop("account", None)  # ended: logged out, password or role changed, disabled
        return None
    return User.of_account(account, "session")


def _from_header(header: str) -> User:
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() == "bearer":
        return _from_token(credentials.strip())
    basic = request.authorization
    if scheme.lower() == "basic" and basic is not None and basic.username:
        return _from_basic(basic.username, basic.password or "")
    abort(401, description="send `Authorization: Bearer <token>` or HTTP Basic credentials")


def _from_token(raw: str) -> User:
    token = checked(lambda: logins.check_token(get_session(), token_key(), raw, attempt("token")))
    return User.of_token(token.name, token.scope)


def _from_basic(username: str, password: str) -> User:
    remembered = _state().remembered
    found = remembered.get(username, password)
    if found is not None:
        account = get_session().get(Account, found[0])
        if account is not None and not account.disabled and account.session_version == found[1]:
            return User.of_account(account, "basic")
    ensure_accounts()
    account = checked(
        lambda: logins.check_password(get_session(), username, password, attempt("basic"))
    )
    remembered.put(username, password, account)
    return User.of_account(account, "basic")
