"""The accounts and tokens pages: admins only, every change audited, a token shown once."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import Account, AccountRole, ApiToken, AuditLogEntry
from tests.web.helpers import bearer, log_in, post

NEW_PASSWORD = "maria's first password"


def account(factory: sessionmaker[Session], username: str) -> Account:
    with factory() as session:
        return session.scalars(select(Account).where(Account.username == username)).one()


@pytest.mark.parametrize("path", ["/admin/accounts", "/admin/tokens"])
def test_only_admins_see_the_pages_and_the_menu_links(
    operator: FlaskClient, viewer: FlaskClient, app: Flask, path: str
) -> None:
    assert operator.get(path).status_code == 200
    assert b'href="/admin/accounts"' in operator.get("/admin/").data
    assert viewer.get(path).status_code == 403
    assert post(viewer, path, {"username": "x", "name": "x"}).status_code == 403
    assert b'href="/admin/accounts"' not in viewer.get("/admin/").data


def test_an_admin_adds_an_operator_who_then_logs_in(
    operator: FlaskClient, app: Flask, session_factory: sessionmaker[Session]
) -> None:
    form = {"username": "Maria", "role": "operator", "password": NEW_PASSWORD}
    added = post(operator, "/admin/accounts", form)
    assert added.status_code == 302
    page = operator.get("/admin/accounts").data.decode()
    assert "Account maria added." in page and "maria" in page
    log_in(app.test_client(), "maria", NEW_PASSWORD)
    assert account(session_factory, "maria").last_login_at is not None


def test_refusals_are_shown_on_the_page(operator: FlaskClient) -> None:
    post(operator, "/admin/accounts", {"username": "a b", "role": "operator", "password": "x"})
    assert "a user name is 1 to 64" in operator.get("/admin/accounts").data.decode()
    post(operator, "/admin/accounts", {"username": "ok", "role": "owner", "password": "x"})
    assert "choose a role" in operator.get("/admin/accounts").data.decode()
    post(operator, "/admin/accounts/admin/disable")
    assert "last enabled admin" in operator.get("/admin/accounts").data.decode()


def test_changing_someone_ends_their_sessions_but_not_the_admins_own(
    operator: FlaskClient, app: Flask, session_factory: sessionmaker[Session]
) -> None:
    post(
        operator,
        "/admin/accounts",
        {"username": "maria", "role": "operator", "password": NEW_PASSWORD},
    )
    maria = app.test_client()
    log_in(maria, "maria", NEW_PASSWORD)
    post(operator, "/admin/accounts/maria/role", {"role": "viewer"})
    assert maria.get("/api/stats").status_code == 401
    assert account(session_factory, "maria").role == AccountRole.VIEWER
    post(operator, "/admin/accounts/admin/password", {"password": "the admin's new password"})
    assert operator.get("/api/stats").status_code == 200  # this session goes on
    post(operator, "/admin/accounts/maria/disable")
    assert account(session_factory, "maria").disabled
    post(operator, "/admin/accounts/maria/enable")
    with session_factory() as session:
        actions = session.scalars(
            select(AuditLogEntry.action).where(AuditLogEntry.action.like("account.%"))
        ).all()
    assert actions[-5:] == [
        "account.add",
        "account.role",
        "account.password",
        "account.disable",
        "account.enable",
    ]


def test_a_token_is_shown_once_works_and_can_be_revoked(
    operator: FlaskClient, client: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    created = post(operator, "/admin/tokens", {"name": "resume-upload", "scope": "app"})
    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    [raw] = re.findall(r"hj_[A-Za-z0-9_-]{43}", created.data.decode())
    listing = operator.get("/admin/tokens").data.decode()
    assert raw not in listing and raw[:10] in listing
    with session_factory() as session:
        token = session.scalars(select(ApiToken)).one()
    assert client.post("/api/applications", json={}, headers=bearer(raw)).status_code == 400
    post(operator, f"/admin/tokens/{token.id}/revoke")
    assert client.post("/api/applications", json={}, headers=bearer(raw)).status_code == 401
    assert "revoked" in operator.get("/admin/tokens").data.decode()


def test_a_token_needs_a_name_and_a_known_scope(operator: FlaskClient) -> None:
    post(operator, "/admin/tokens", {"name": "", "scope": "app"})
    assert "a token name is 1 to 100" in operator.get("/admin/tokens").data.decode()
    post(operator, "/admin/tokens", {"name": "x", "scope": "everything"})
    assert "choose a scope" in operator.get("/admin/tokens").data.decode()
