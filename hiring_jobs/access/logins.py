"""One login attempt: a password or a token, throttled, with failures audited.

Both checks commit their own bookkeeping (failure counters, audit rows, last login or last
use) on the caller's session before they return or raise, so a refused request still
leaves its trace.
"""

from __future__ import annotations

import dataclasses
import functools
import secrets
from datetime import UTC, datetime
from typing import Any, NoReturn

from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from hiring_jobs import audit
from hiring_jobs.access import accounts, throttle, tokens
from hiring_jobs.models import Account, ApiToken

MAX_ACTOR_LENGTH = 100


class LoginRefused(Exception):
    """Unknown name, wrong password, disabled account, unknown or revoked token."""


class Throttled(Exception):
    """Too many recent failures for this account or address: try again later."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed logins: try again in {retry_after:.0f} s")
        self.retry_after = retry_after


@dataclasses.dataclass(frozen=True)
class Attempt:
    via: str  # "form", "basic" or "token"
    address: str  # the client's address


def check_password(session: Session, username: str, password: str, attempt: Attempt) -> Account:
    """The enabled account whose password this is; raises Throttled or LoginRefused."""
    # Escaped: the name goes into counters and the audit log, whatever was typed.
    name = username.strip().lower()[: accounts.USERNAME_MAX].encode("unicode_escape").decode()
    keys = [throttle.account_key(name), throttle.address_key(attempt.address)]
    _refuse_while_locked(session, keys)
    account = accounts.find(session, name) if accounts.USERNAME.fullmatch(name) else None
    reason = _password_problem(account, password)
    if reason is not None:
        _refuse(session, keys, name or "(empty)", attempt, reason=reason)
    assert account is not None  # _password_problem says "unknown account" otherwise
    throttle.clear(session, keys[:1])
    account.last_login_at = datetime.now(UTC)
    if attempt.via == "form":
        audit.record(session, actor=account.username, action="auth.login", target=attempt.address)
    session.commit()
    return account


def check_token(session: Session, key: bytes, raw: str, attempt: Attempt) -> ApiToken:
    """The active token; raises Throttled or LoginRefused. Valid tokens skip the throttle:
    checking one is cheap, and 256 random bits cannot be guessed."""
    token = tokens.find_active(session, key, raw)
    if token is None:
        keys = [throttle.address_key(attempt.address)]
        _refuse_while_locked(session, keys)
        _refuse(session, keys, "(token)", attempt, reason="unknown or revoked token")
    if tokens.mark_used(session, token):
        session.commit()
    return token


@functools.cache
def _dummy_hash() -> str:
    """Checked for unknown names, so they take as long as a wrong password."""
    return generate_password_hash(secrets.token_hex(16))


def _password_problem(account: Account | None, password: str) -> str | None:
    if account is None:
        check_password_hash(_dummy_hash(), password)
        return "unknown account"
    if not check_password_hash(account.password_hash, password):
        return "wrong password"
    return "disabled account" if account.disabled else None


def _refuse_while_locked(session: Session, keys: list[str]) -> None:
    wait = throttle.locked_for(session, keys)
    if wait > 0:
        raise Throttled(wait)


def _refuse(
    session: Session, keys: list[str], actor: str, attempt: Attempt, *, reason: str
) -> NoReturn:
    locked = throttle.record_failure(session, keys)
    details: dict[str, Any] = {"via": attempt.via, "reason": reason}
    if locked:
        details["locked_seconds"] = round(locked)
    audit.record(
        session,
        actor=actor[:MAX_ACTOR_LENGTH],
        action="auth.login_failed",
        target=attempt.address,
        details=details,
    )
    session.commit()
    raise LoginRefused(reason)
