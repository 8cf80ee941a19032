"""Logins, sessions and their revocation, roles, throttling, CSRF and cookies."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs import settings
from hiring_jobs.access import accounts
from hiring_jobs.models import Account, AccountRole, AuditLogEntry
from tests.support.factories import make_account
from tests.web.helpers import ADMIN, basic, csrf_of, defer_jobs, log_in, post
from web import create_app


@pytest.mark.parametrize(
    "path",
    ["/admin/", "/admin/jobs", "/admin/jobs/1", "/admin/audit", "/admin/tasks", "/admin/alerts"],
)
def test_pages_send_anonymous_visitors_to_the_login_form(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", ["/api/jobs", "/api/stats", "/metrics", "/health/detailed"])
def test_api_and_ops_endpoints_answer_401_without_credentials(
    client: FlaskClient, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 401
    assert "log in" in response.get_json()["error"]
    assert "WWW-Authenticate" not in response.headers  # browsers never cache Basic creds


def test_a_wrong_password_is_refused_and_audited(
    client: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    client.get("/login")
    response = client.post(
        "/login", data={"username": "admin", "password": "nope", "csrf_token": csrf_of(client)}
    )
    assert response.status_code == 401
    assert client.get("/admin/").status_code == 302
    with session_factory() as session:
        entry = session.scalars(
            select(AuditLogEntry).where(AuditLogEntry.action == "auth.login_failed")
        ).one()
    assert (entry.actor, entry.target) == ("admin", "127.0.0.1")
    assert entry.details == {"via": "form", "reason": "wrong password"}


def test_login_then_logout(client: FlaskClient) -> None:
    log_in(client, *ADMIN)
    assert client.get("/admin/").status_code == 200
    assert post(client, "/logout").status_code == 302
    assert client.get("/admin/").status_code == 302


def test_the_login_form_needs_its_csrf_token(client: FlaskClient) -> None:
    client.get("/login")
    response = client.post("/login", data={"username": ADMIN[0], "password": ADMIN[1]})
    assert response.status_code == 400


def test_the_session_cookie_is_httponly_samesite_lax_and_secure(client: FlaskClient) -> None:
    client.get("/login")
    response = client.post(
        "/login", data={"username": ADMIN[0], "password": ADMIN[1], "csrf_token": csrf_of(client)}
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" in cookie


def test_without_an_admin_password_login_is_impossible_and_says_why(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HIRING_JOBS_ADMIN_PASSWORD", "")
    settings.get_settings.cache_clear()
    client = create_app({"TESTING": True}).test_client()
    response = client.get("/login")
    assert response.status_code == 503
    assert b"HIRING_JOBS_ADMIN_PASSWORD" in response.data
    assert b"hiring-jobs users add" in response.data
    assert client.get("/api/jobs", headers=basic("admin", "")).status_code == 401


def test_the_settings_password_bootstraps_the_first_admin_account(
    database_url: str, monkeypatch: pytest.MonkeyPatch, session_factory: sessionmaker[Session]
) -> None:
    monkeypatch.setenv("HIRING_JOBS_ADMIN_PASSWORD", "plain-secret")
    settings.get_settings.cache_clear()
    client = create_app({"TESTING": True}).test_client()
    assert client.get("/api/jobs", headers=basic("admin", "plain-secret")).status_code == 200
    with session_factory() as session:
        admin = session.scalars(select(Account)).one()
    assert (admin.username, admin.role) == ("admin", AccountRole.ADMIN)
    assert admin.password_hash.startswith("scrypt:")


def test_a_viewer_can_read_but_not_act(
    viewer: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    [job_id] = defer_jobs(session_factory, "tests.record", [{"user_id": 1, "message": "x"}])
    assert viewer.get(f"/admin/jobs/{job_id}").status_code == 200
    assert b"Cancel</button>" not in viewer.get(f"/admin/jobs/{job_id}").data
    for url in (f"/admin/jobs/{job_id}/cancel", "/admin/jobs/bulk", "/admin/periodic/x/run"):
        assert post(viewer, url, {"action": "cancel", "ids": str(job_id)}).status_code == 403
    api = viewer.post(f"/api/jobs/{job_id}/cancel", headers={"X-CSRF-Token": csrf_of(viewer)})
    assert api.status_code == 403


def test_a_state_change_without_the_csrf_token_is_refused(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    [job_id] = defer_jobs(session_factory, "tests.record", [{"user_id": 1, "message": "x"}])
    assert operator.post(f"/admin/jobs/{job_id}/cancel").status_code == 400
    wrong = operator.post(f"/admin/jobs/{job_id}/cancel", data={"csrf_token": "forged"})
    assert wrong.status_code == 400
    api = operator.post(f"/api/jobs/{job_id}/cancel")
    assert api.status_code == 400
    assert "CSRF" in api.get_json()["error"]


def test_pages_send_security_headers(operator: FlaskClient) -> None:
    headers = operator.get("/admin/").headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.fixture
def maria(session_factory: sessionmaker[Session]) -> tuple[str, str]:
    """A named operator's account, added the way `hiring-jobs users add` adds it."""
    with session_factory() as session:
        make_account(session, "maria", "maria's password 1", AccountRole.OPERATOR)
        session.commit()
    return "maria", "maria's password 1"


def test_a_named_operator_acts_under_their_own_name(
    app: Flask, maria: tuple[str, str], session_factory: sessionmaker[Session]
) -> None:
    [job_id] = defer_jobs(session_factory, "tests.record", [{"user_id": 1, "message": "x"}])
    client = app.test_client()
    log_in(client, *maria)
    assert post(client, f"/admin/jobs/{job_id}/cancel").status_code == 302
    entries = client.get("/api/audit").get_json()["entries"]
    assert [(e["actor"], e["action"]) for e in entries[:2]] == [
        ("maria", "job.cancel"),
        ("maria", "auth.login"),
    ]
    with session_factory() as session:
        account = session.scalars(select(Account).where(Account.username == "maria")).one()
    assert account.last_login_at is not None


def test_a_session_cookie_replayed_after_logout_is_refused(
    app: Flask, maria: tuple[str, str]
) -> None:
    client = app.test_client()
    log_in(client, *maria)
    with client.session_transaction() as cookie:
        stolen = dict(cookie)
    assert post(client, "/logout").status_code == 302
    replay = app.test_client()
    with replay.session_transaction() as cookie:
        cookie.update(stolen)
    assert replay.get("/api/stats").status_code == 401
    assert replay.get("/admin/").status_code == 302


@pytest.mark.parametrize(
    "change",
    [
        lambda s: accounts.set_password(s, "maria", "a brand new password", by="admin"),
        lambda s: accounts.set_disabled(s, "maria", True, by="admin"),
        lambda s: accounts.set_role(s, "maria", AccountRole.VIEWER, by="admin"),
    ],
    ids=["password change", "disable", "role change"],
)
def test_account_changes_end_its_open_sessions(
    app: Flask,
    maria: tuple[str, str],
    session_factory: sessionmaker[Session],
    change: Callable[[Session], object],
) -> None:
    client = app.test_client()
    log_in(client, *maria)
    assert client.get("/api/stats").status_code == 200
    with session_factory() as session:
        change(session)
        session.commit()
    assert client.get("/api/stats").status_code == 401


def test_repeated_wrong_passwords_lock_the_account_for_a_while(
    client: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    client.get("/login")
    form = {"username": ADMIN[0], "password": "guess", "csrf_token": csrf_of(client)}
    statuses = [client.post("/login", data=form).status_code for _ in range(6)]
    assert statuses == [401] * 6
    locked = client.post("/login", data=form | {"password": ADMIN[1]})
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "1"
    assert b"Too many failed logins" in locked.data
    with session_factory() as session:
        failed = session.scalars(
            select(AuditLogEntry.details).where(AuditLogEntry.action == "auth.login_failed")
        ).all()
    assert len(failed) == 6 and failed[-1]["locked_seconds"] == 1


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/admin/jobs?status=failed", "/admin/jobs?status=failed"),
        ("/\t/evil.example", "/admin/"),
        ("//evil.example/x", "/admin/"),
        ("/admin/\r\nSet-Cookie: x=1", "/admin/"),
    ],
)
def test_login_only_redirects_to_this_apps_pages(
    client: FlaskClient, next_url: str, expected: str
) -> None:
    client.get("/login")
    data = {"username": ADMIN[0], "password": ADMIN[1], "csrf_token": csrf_of(client)}
    response = client.post("/login", data=data | {"next": next_url})
    assert response.status_code == 302
    assert response.headers["Location"] == expected
