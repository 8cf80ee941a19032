"""`hiring-jobs users ...` and `hiring-jobs tokens ...`: staff accounts and API tokens.

The same functions as the admin pages (hiring_jobs.access); every change is written to
the audit log as `cli:USER@HOST`.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import click
from sqlalchemy.orm import Session

from hiring_jobs import db
from hiring_jobs.access import accounts, tokens
from hiring_jobs.access.accounts import AccessError
from hiring_jobs.models import AccountRole, TokenScope
from hiring_jobs.settings import SettingsError, get_settings

T = TypeVar("T")


def _actor() -> str:
    return f"cli:{getpass.getuser()}@{socket.gethostname()}"


def _in_session(action: Callable[[Session], T]) -> T:
    """Run `action` in one committed transaction, after the settings' accounts exist."""
    try:
        db.check_database(db.database_url())
        with db.session_scope() as session:
            accounts.bootstrap(session, get_settings())
            return action(session)
    except (AccessError, SettingsError, db.DatabaseUnavailable, db.NotMigrated) as exc:
        raise click.ClickException(str(exc)) from None


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if value else "-"


role_argument = click.argument("role", type=click.Choice([role.value for role in AccountRole]))
password_option = click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help=f"At least {accounts.MIN_PASSWORD_LENGTH} characters (asked when not given).",
)


@click.group()
def users() -> None:
    """Staff accounts of the admin pages and the API: viewer, operator or admin.

    Viewers read; operators also act on jobs, dead letters and candidates; admins also
    manage accounts and tokens. A password change, a role change or disabling an account
    ends its sessions at once.
    """


@users.command("add")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice([role.value for role in AccountRole]),
    default=AccountRole.OPERATOR.value,
    show_default=True,
)
@password_option
def add_user(username: str, role: str, password: str) -> None:
    """Add an account (the password is asked twice when not given)."""
    account = _in_session(
        lambda s: accounts.add(s, username, AccountRole(role), password, by=_actor())
    )
    click.echo(f"account {account.username} added ({account.role.value})")


@users.command("list")
def list_users() -> None:
    """Every account: role, state, last login."""
    found = _in_session(accounts.list_all)
    click.echo(f"{'user name':<32}  {'role':<8}  {'state':<8}  last login (UTC)")
    for account in found:
        state = "disabled" if account.disabled else "enabled"
        click.echo(
            f"{account.username:<32}  {account.role.value:<8}  {state:<8}"
            f"  {_when(account.last_login_at)}"
        )


@users.command("disable")
@click.argument("username")
def disable_user(username: str) -> None:
    """Refuse the account's logins and end its sessions."""
    _in_session(lambda s: accounts.set_disabled(s, username, True, by=_actor()))
    click.echo(f"account {username} disabled; its sessions have ended")


@users.command("enable")
@click.argument("username")
def enable_user(username: str) -> None:
    """Allow a disabled account to log in again."""
    _in_session(lambda s: accounts.set_disabled(s, username, False, by=_actor()))
    click.echo(f"account {username} enabled")


@users.command("set-password")
@click.argument("username")
@password_option
def set_password(username: str, password: str) -> None:
    """Change the account's password and end its sessions."""
    _in_session(lambda s: accounts.set_password(s, username, password, by=_actor()))
    click.echo(f"password of {username} changed; its sessions have ended")


@users.command("set-role")
@click.argument("username")
@role_argument
def set_role(username: str, role: str) -> None:
    """Give the account another role and end its sessions."""
    _in_session(lambda s: accounts.set_role(s, username, AccountRole(role), by=_actor()))
    click.echo(f"account {username} is now {role}; its sessions have ended")


@click.group("tokens")
def tokens_group() -> None:
    """API tokens for applications and scripts (`Authorization: Bearer <token>`).

    Scopes: `app` (the app-side endpoints only), `read` (every read endpoint), `operate`
    (read, and the actions an operator may take). Only a keyed hash is stored: a token is
    shown once, when it is created. Changing HIRING_JOBS_SECRET_KEY invalidates them all.
    """


@tokens_group.command("create")
@click.option("--name", required=True, help="What uses it, e.g. resume-upload.")
@click.option("--scope", type=click.Choice([scope.value for scope in TokenScope]), required=True)
def create_token(name: str, scope: str) -> None:
    """Create a token and print it (once: it cannot be shown again)."""
    key = tokens.token_key(get_settings())
    token, raw = _in_session(
        lambda s: tokens.create(s, key, name=name, scope=TokenScope(scope), by=_actor())
    )
    click.echo(f"token {token.id} ({token.name}, scope {token.scope.value}):")
    click.echo(raw)
    click.echo("Copy it now: it is not stored and is never shown again.", err=True)


@tokens_group.command("list")
def list_tokens() -> None:
    """Every token: scope, first characters, creation, last use, revocation."""
    found = _in_session(tokens.list_all)
    click.echo(f"{'id':>5}  {'name':<24}  {'scope':<8}  {'starts with':<12}  last used   state")
    for token in found:
        state = f"revoked {_when(token.revoked_at)}" if token.revoked_at else "active"
        click.echo(
            f"{token.id:>5}  {token.name[:24]:<24}  {token.scope.value:<8}  {token.prefix:<12}"
            f"  {_when(token.last_used_at)}  {state}"
        )


@tokens_group.command("revoke")
@click.argument("token_id", type=click.IntRange(min=1))
def revoke_token(token_id: int) -> None:
    """Revoke a token: requests with it fail at once."""
    token = _in_session(lambda s: tokens.revoke(s, token_id, by=_actor()))
    click.echo(f"token {token.id} ({token.name}) revoked")
