"""One login attempt: checked, throttled, and audited when it fails."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from hiring_jobs.access import logins, throttle, tokens
from hiring_jobs.models import Account, AccountRole, AuditLogEntry, TokenScope
from tests.support.factories import make_account

FORM = logins.Attempt(via="form", address="203.0.113.7")
PASSWORD = "maria's password"
KEY = b"k" * 32


@pytest.fixture
def maria(session: Session) -> Account:
    account = make_account(session, "maria", PASSWORD, AccountRole.OPERATOR)
    session.commit()
    return account


def failures(session: Session) -> list[tuple[str, str, dict[str, Any]]]:
    rows = session.execute(
        select(AuditLogEntry.actor, AuditLogEntry.target, AuditLogEntry.details)
        .where(AuditLogEntry.action == "auth.login_failed")
        .order_by(AuditLogEntry.id)
    )
    return [tuple(row) for row in rows]


def test_the_right_password_logs_in_and_records_it(session: Session, maria: Account) -> None:
    assert logins.check_password(session, " Maria ", PASSWORD, FORM) is maria
    assert maria.last_login_at is not None
    entry = session.scalars(select(AuditLogEntry)).one()
    assert (entry.actor, entry.action, entry.target) == ("maria", "auth.login", "203.0.113.7")


@pytest.mark.parametrize(
    ("username", "password", "reason"),
    [
        ("maria", "wrong", "wrong password"),
        ("ghost", PASSWORD, "unknown account"),
        ("ma\x00ria", PASSWORD, "unknown account"),
    ],
)
def test_a_refusal_is_counted_and_audited(
    session: Session, maria: Account, username: str, password: str, reason: str
) -> None:
    with pytest.raises(logins.LoginRefused):
        logins.check_password(session, username, password, FORM)
    [(actor, target, details)] = failures(session)
    assert (target, details) == ("203.0.113.7", {"via": "form", "reason": reason})
    assert "\x00" not in actor


def test_a_disabled_account_is_refused_even_with_its_password(
    session: Session, maria: Account
) -> None:
    maria.disabled = True
    session.commit()
    with pytest.raises(logins.LoginRefused, match="disabled account"):
        logins.check_password(session, "maria", PASSWORD, FORM)


def test_a_locked_account_is_refused_without_checking_the_password(
    session: Session, maria: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(throttle.FREE_FAILURES + 1):
        with pytest.raises(logins.LoginRefused):
            logins.check_password(session, "maria", "guess", FORM)
    assert failures(session)[-1][2]["locked_seconds"] == 1
    checked: list[str] = []
    monkeypatch.setattr(logins, "check_password_hash", lambda *args: checked.append("x"))
    with pytest.raises(logins.Throttled) as refused:
        logins.check_password(session, "maria", PASSWORD, FORM)
    assert 0 < refused.value.retry_after <= 1
    assert checked == []  # no hash computed while locked


def test_guesses_from_one_address_lock_it_for_every_account(
    session: Session, maria: Account
) -> None:
    for number in range(throttle.FREE_FAILURES + 1):
        with pytest.raises(logins.LoginRefused):
            logins.check_password(session, f"user{number}", "guess", FORM)
    with pytest.raises(logins.Throttled):
        logins.check_password(session, "maria", PASSWORD, FORM)
    elsewhere = logins.Attempt(via="form", address="198.51.100.1")
    assert logins.check_password(session, "maria", PASSWORD, elsewhere) is maria


def test_a_valid_token_passes_and_a_bad_one_is_counted_against_the_address(
    session: Session,
) -> None:
    token, raw = tokens.create(session, KEY, name="app", scope=TokenScope.APP, by="ana")
    session.commit()
    via_token = logins.Attempt(via="token", address="203.0.113.7")
    assert logins.check_token(session, KEY, raw, via_token) is token
    session.refresh(token)
    assert token.last_used_at is not None
    for _ in range(throttle.FREE_FAILURES + 1):
        with pytest.raises(logins.LoginRefused):
            logins.check_token(session, KEY, "hj_guess", via_token)
    assert failures(session)[0] == (
        "(token)",
        "203.0.113.7",
        {"via": "token", "reason": "unknown or revoked token"},
    )
    with pytest.raises(logins.Throttled):
        logins.check_token(session, KEY, "hj_guess", via_token)
    assert logins.check_token(session, KEY, raw, via_token) is token  # valid: not throttled
