"""Named staff accounts: add, list, disable, change password or role; every change audited.

The CLI (`hiring-jobs users ...`) and the admin page call these functions in the
caller's transaction. Passwords are stored as werkzeug scrypt hashes. Changing a password,
a role or the disabled flag raises the account's session version, which ends every
session opened before (web.security checks it on each request).

The settings' admin (and viewer) password bootstraps an account of that name when none
exists yet; from then on the database is the reference: changing the setting does not
change the stored password.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from hiring_jobs import audit
from hiring_jobs.models import Account, AccountRole
from hiring_jobs.settings import Settings, SettingsError

USERNAME_MAX = 64
USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
# A password setting in werkzeug's hash format is stored as the hash itself.
_HASH_PREFIXES = ("scrypt:", "pbkdf2:")


class AccessError(ValueError):
    """A change to accounts or tokens that cannot be made; the message says why."""


def normalise_username(raw: str) -> str:
    """Lower case; letters, digits and `._@-`, starting with a letter or digit, 64 at most."""
    username = raw.strip().lower()
    if not USERNAME.fullmatch(username):
        raise AccessError(
            "a user name is 1 to 64 lower-case letters, digits, '.', '_', '@' or '-',"
            " starting with a letter or digit"
        )
    return username


def check_new_password(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise AccessError(
            f"a password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )
    if "\x00" in password:
        raise AccessError("a password cannot contain NUL characters")


def find(session: Session, username: str) -> Account | None:
    return session.scalar(select(Account).where(Account.username == username))


def get(session: Session, username: str) -> Account:
    account = find(session, normalise_username(username))
    if account is None:
        raise AccessError(f"no account {username!r}")
    return account


def list_all(session: Session) -> list[Account]:
    return list(session.scalars(select(Account).order_by(Account.username)))


def any_enabled(session: Session) -> bool:
    return bool(session.scalar(select(select(Account.id).where(~Account.disabled).exists())))


def add(session: Session, username: str, role: AccountRole, password: str, *, by: str) -> Account:
    username = normalise_username(username)
    check_new_password(password)
    if find(session, username) is not None:
        raise AccessError(f"account {username!r} exists already")
    account = Account(username=username, role=role, password_hash=generate_password_hash(password))
    session.add(account)
    session.flush()
    _audit(session, by, "account.add", account, role=role.value)
    return account


def put(session: Session, username: str, role: AccountRole, password: str, *, by: str) -> Account:
    """The account, added or given this role and password and enabled: for tools that log
    in with a fresh password on every run (screenshots, page timings)."""
    if find(session, normalise_username(username)) is None:
        return add(session, username, role, password, by=by)
    set_password(session, username, password, by=by)
    set_disabled(session, username, False, by=by)
    return set_role(session, username, role, by=by)


def set_password(session: Session, username: str, password: str, *, by: str) -> Account:
    account = get(session, username)
    check_new_password(password)
    account.password_hash = generate_password_hash(password)
    end_sessions(account)
    _audit(session, by, "account.password", account)
    return account


def set_role(session: Session, username: str, role: AccountRole, *, by: str) -> Account:
    account = get(session, username)
    if role != AccountRole.ADMIN:
        _keep_an_admin(session, account, "lose the admin role")
    account.role = role
    end_sessions(account)
    _audit(session, by, "account.role", account, role=role.value)
    return account


def set_disabled(session: Session, username: str, disabled: bool, *, by: str) -> Account:
    account = get(session, username)
    if disabled:
        _keep_an_admin(session, account, "be disabled")
    account.disabled = disabled
    end_sessions(account)
    _audit(session, by, "account.disable" if disabled else "account.enable", account)
    return account


def end_sessions(account: Account) -> None:
    """Every session opened before now ends at its next request."""
    account.session_version += 1


def bootstrap(session: Session, settings: Settings) -> None:
    """Add the settings' admin and viewer accounts if they do not exist yet."""
    for username, password, role in _settings_accounts(settings):
        if find(session, username) is not None:
            continue
        hashed = password if password.startswith(_HASH_PREFIXES) else None
        created = session.scalar(
            insert(Account)
            .values(
                username=username,
                role=role,
                password_hash=hashed or generate_password_hash(password),
                disabled=False,
                session_version=1,
            )
            .on_conflict_do_nothing(index_elements=["username"])  # another process was first
            .returning(Account.id)
        )
        if created is not None:
            audit.record(
                session,
                actor="settings",
                action="account.bootstrap",
                target=f"account {username}",
                details={"role": role.value},
            )


def _settings_accounts(settings: Settings) -> Iterator[tuple[str, str, AccountRole]]:
    if not settings.admin_password:
        return
    admin = _setting_username("HIRING_JOBS_ADMIN_USERNAME", settings.admin_username)
    yield admin, settings.admin_password, AccountRole.ADMIN
    viewer = _setting_username("HIRING_JOBS_VIEWER_USERNAME", settings.viewer_username)
    if settings.viewer_password and viewer != admin:
        yield viewer, settings.viewer_password, AccountRole.VIEWER


def _setting_username(name: str, value: str) -> str:
    try:
        return normalise_username(value)
    except AccessError as exc:
        raise SettingsError(f"{name}: {exc}") from None


def _keep_an_admin(session: Session, account: Account, change: str) -> None:
    if account.role != AccountRole.ADMIN or account.disabled:
        return
    # Locked: two admins demoting each other at once cannot both succeed.
    admins = session.scalars(
        select(Account.id)
        .where(Account.role == AccountRole.ADMIN, ~Account.disabled)
        .with_for_update()
    ).all()
    if set(admins) <= {account.id}:
        raise AccessError(f"{account.username!r} is the last enabled admin: it cannot {change}")


def _audit(session: Session, by: str, action: str, account: Account, **details: str) -> None:
    audit.record(
        session, actor=by, action=action, target=f"account {account.username}", details=details
    )
