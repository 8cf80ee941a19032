"""`hiring-jobs users` and `hiring-jobs tokens`: the same accounts and tokens as the pages."""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs import settings
from hiring_jobs.access import tokens
from hiring_jobs.cli import main
from hiring_jobs.models import Account, AccountRole, ApiToken, AuditLogEntry
from tests.support.processes import cli_env, run_cli
from web import create_app

PASSWORD = "a long enough password"


def run(*args: str, given: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=given)


def account(factory: sessionmaker[Session], username: str) -> Account:
    with factory() as session:
        return session.scalars(select(Account).where(Account.username == username)).one()


def test_add_asks_the_password_twice_then_lists_the_account(
    session_factory: sessionmaker[Session],
) -> None:
    added = run("users", "add", "Maria", "--role", "operator", given=f"{PASSWORD}\n{PASSWORD}\n")
    assert added.exit_code == 0, added.output
    assert "account maria added (operator)" in added.output
    assert PASSWORD not in added.output  # typed, never echoed
    listed = run("users", "list")
    assert "maria" in listed.output and "operator" in listed.output and "enabled" in listed.output
    with session_factory() as session:
        entry = session.scalars(select(AuditLogEntry)).one()
    assert entry.action == "account.add" and entry.actor.startswith("cli:")


def test_set_role_set_password_disable_and_enable(session_factory: sessionmaker[Session]) -> None:
    run("users", "add", "maria", given=f"{PASSWORD}\n{PASSWORD}\n")
    assert run("users", "set-role", "maria", "viewer").exit_code == 0
    assert run("users", "set-password", "maria", "--password", "another password!").exit_code == 0
    assert run("users", "disable", "maria").exit_code == 0
    found = account(session_factory, "maria")
    assert (found.role, found.disabled, found.session_version) == (AccountRole.VIEWER, True, 4)
    assert run("users", "enable", "maria").exit_code == 0
    assert not account(session_factory, "maria").disabled


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "add", "has space", "--password", PASSWORD], "user name is 1 to 64"),
        (["users", "add", "maria", "--password", "short"], "a password has 12"),
        (["users", "disable", "ghost"], "no account 'ghost'"),
        (["users", "set-role", "maria", "owner"], "'owner' is not one of"),
        (["tokens", "revoke", "42"], "no token 42"),
        (["tokens", "create", "--name", "x", "--scope", "all"], "'all' is not one of"),
    ],
)
def test_mistakes_are_one_line_errors(database_url: str, args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_the_settings_admin_is_bootstrapped_and_cannot_be_locked_out(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HIRING_JOBS_ADMIN_PASSWORD", "admin-password-1")
    settings.get_settings.cache_clear()
    assert "admin" in run("users", "list").output
    refused = run("users", "disable", "admin")
    assert refused.exit_code == 1
    assert "'admin' is the last enabled admin: it cannot be disabled" in refused.output


def test_a_token_is_printed_once_listed_by_its_prefix_and_revoked(
    session_factory: sessionmaker[Session],
) -> None:
    created = run("tokens", "create", "--name", "resume-upload", "--scope", "app")
    assert created.exit_code == 0, created.output
    raw = created.stdout.splitlines()[1]
    with session_factory() as session:
        token = session.scalars(select(ApiToken)).one()
        assert tokens.find_active(session, tokens.token_key(settings.get_settings()), raw)
    assert (token.name, token.scope.value) == ("resume-upload", "app")
    listed = run("tokens", "list").output
    assert token.prefix in listed and raw not in listed and "active" in listed
    assert run("tokens", "revoke", str(token.id)).exit_code == 0
    assert "revoked" in run("tokens", "list").output


def test_the_installed_command_creates_a_token_the_web_app_accepts(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A separate process agrees with this one on the key (the data directory's)."""
    env = cli_env(
        DATABASE_URL=database_url, HIRING_JOBS_DATA_DIR=str(settings.get_settings().data_dir)
    )
    created = run_cli("tokens", "create", "--name", "reports", "--scope", "read", env=env)
    assert created.returncode == 0, created.stderr
    assert "never shown again" in created.stderr

    client = create_app({"TESTING": True}).test_client()
    raw = created.stdout.splitlines()[1]
    assert client.get("/api/stats", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
