"""Staff accounts: names, passwords, roles and the disabled flag, each change audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from hiring_jobs import settings
from hiring_jobs.access import accounts
from hiring_jobs.access.accounts import AccessError
from hiring_jobs.models import Account, AccountRole, AuditLogEntry

PASSWORD = "correct horse battery"


def audit_actions(session: Session) -> list[tuple[str, str, str]]:
    rows = session.execute(
        select(AuditLogEntry.actor, AuditLogEntry.action, AuditLogEntry.target).order_by(
            AuditLogEntry.id
        )
    )
    return [tuple(row) for row in rows]


def test_an_added_account_has_a_lower_case_name_and_a_scrypt_hash(session: Session) -> None:
    account = accounts.add(session, "  Maria.Lopez ", AccountRole.OPERATOR, PASSWORD, by="ana")
    assert account.username == "maria.lopez"
    assert account.password_hash.startswith("scrypt:")
    assert check_password_hash(account.password_hash, PASSWORD)
    assert (account.disabled, account.session_version) == (False, 1)
    assert audit_actions(session) == [("ana", "account.add", "account maria.lopez")]


@pytest.mark.parametrize("username", ["", "-x", "has space", "é", "a" * 65, "ad\x00min"])
def test_user_names_are_letters_digits_and_a_few_signs(session: Session, username: str) -> None:
    with pytest.raises(AccessError, match="user name"):
        accounts.add(session, username, AccountRole.VIEWER, PASSWORD, by="ana")


@pytest.mark.parametrize("password", ["short", "x" * 1025, "twelve chars\x00"])
def test_passwords_are_long_enough_and_plain_text(session: Session, password: str) -> None:
    with pytest.raises(AccessError, match="password"):
        accounts.add(session, "maria", AccountRole.VIEWER, password, by="ana")


def test_a_name_is_taken_once_whatever_its_case(session: Session) -> None:
    accounts.add(session, "maria", AccountRole.VIEWER, PASSWORD, by="ana")
    with pytest.raises(AccessError, match="exists already"):
        accounts.add(session, "MARIA", AccountRole.ADMIN, PASSWORD, by="ana")


def test_password_role_and_disabled_changes_end_sessions(session: Session) -> None:
    account = accounts.add(session, "maria", AccountRole.OPERATOR, PASSWORD, by="ana")
    accounts.set_password(session, "maria", "another long password", by="ana")
    assert account.session_version == 2
    assert check_password_hash(account.password_hash, "another long password")
    accounts.set_role(session, "maria", AccountRole.VIEWER, by="ana")
    accounts.set_disabled(session, "maria", True, by="ana")
    accounts.set_disabled(session, "maria", False, by="ana")
    assert (account.role, account.disabled, account.session_version) == (
        AccountRole.VIEWER,
        False,
        5,
    )
    assert [action for _, action, _ in audit_actions(session)] == [
        "account.add",
        "account.password",
        "account.role",
        "account.disable",
        "account.enable",
    ]


def test_the_last_enabled_admin_cannot_be_demoted_or_disabled(session: Session) -> None:
    accounts.add(session, "root", AccountRole.ADMIN, PASSWORD, by="ana")
    with pytest.raises(AccessError, match="last enabled admin"):
        accounts.set_role(session, "root", AccountRole.OPERATOR, by="ana")
    with pytest.raises(AccessError, match="last enabled admin"):
        accounts.set_disabled(session, "root", True, by="ana")
    accounts.add(session, "second", AccountRole.ADMIN, PASSWORD, by="ana")
    accounts.set_disabled(session, "root", True, by="ana")
    with pytest.raises(AccessError, match="'second' is the last enabled admin"):
        accounts.set_role(session, "second", AccountRole.VIEWER, by="ana")


def test_changing_an_unknown_account_says_so(session: Session) -> None:
    with pytest.raises(AccessError, match="no account 'ghost'"):
        accounts.set_role(session, "ghost", AccountRole.VIEWER, by="ana")


def test_the_settings_bootstrap_their_accounts_once(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HIRING_JOBS_ADMIN_USERNAME", "Boss")
    monkeypatch.setenv("HIRING_JOBS_ADMIN_PASSWORD", "plain-secret")
    monkeypatch.setenv("HIRING_JOBS_VIEWER_PASSWORD", generate_password_hash("v", "pbkdf2"))
    settings.get_settings.cache_clear()
    accounts.bootstrap(session, settings.get_settings())
    boss, viewer = accounts.get(session, "boss"), accounts.get(session, "viewer")
    assert boss.role == AccountRole.ADMIN and viewer.role == AccountRole.VIEWER
    assert boss.password_hash.startswith("scrypt:")  # a plain setting is hashed
    assert viewer.password_hash.startswith("pbkdf2:")  # a hashed one is kept as it is

    accounts.set_password(session, "boss", "changed in the database", by="boss")
    accounts.bootstrap(session, settings.get_settings())
    assert check_password_hash(
        accounts.get(session, "boss").password_hash, "changed in the database"
    )
    assert len(session.scalars(select(Account)).all()) == 2
    assert [action for _, action, _ in audit_actions(session)].count("account.bootstrap") == 2


def test_without_an_admin_password_nothing_is_bootstrapped(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HIRING_JOBS_ADMIN_PASSWORD", "")
    monkeypatch.setenv("HIRING_JOBS_VIEWER_PASSWORD", "viewer-password")
    settings.get_settings.cache_clear()
    accounts.bootstrap(session, settings.get_settings())
    assert accounts.list_all(session) == []
    assert not accounts.any_enabled(session)


def test_put_adds_an_account_or_resets_an_existing_one(session: Session) -> None:
    added = accounts.put(session, "shots", AccountRole.OPERATOR, PASSWORD, by="tool")
    accounts.set_disabled(session, "shots", True, by="ana")
    again = accounts.put(session, "shots", AccountRole.VIEWER, "a different password", by="tool")
    assert again is added
    assert (again.role, again.disabled) == (AccountRole.VIEWER, False)
    assert check_password_hash(again.password_hash, "a different password")
