"""Logins, roles, CSRF and cookies."""

from __future__ import annotations

import base64

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs import settings
from hiring_jobs.models import AuditLogEntry
from tests.web.helpers import ADMIN, VIEWER, csrf_of, defer_jobs, log_in, post
from web import create_app


def basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.mark.parametrize("path", ["/admin/", "/admin/jobs", "/admin/jobs/1", "/admin/audit"])
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
        entry = session.scalars(select(AuditLogEntry)).one()
    assert (entry.actor, entry.action) == ("admin", "auth.login_failed")


def test_login_then_logout(client: FlaskClient) -> None:
    log_in(client, *ADMIN)
    assert client.get("/admin/").status_code == 200
    assert post(client, "/logout").status_code == 302
    assert client.get("/admin/").status_code == 302


def test_the_login_form_needs_its_csrf_token(client: FlaskClient) -> None:
    client.get("/login")
    response = client.post("/login", data={"username": ADMIN[0], "password": ADMIN[1]})
    assert response.status_code == 400


def test_login_only_redirects_to_local_paths(client: FlaskClient) -> None:
    client.get("/login")
    data = {"username": ADMIN[0], "password": ADMIN[1], "csrf_token": csrf_of(client)}
    response = client.post("/login", data=data | {"next": "//evil.example/x"})
    assert response.headers["Location"] == "/admin/"


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
    assert client.get("/api/jobs", headers=basic("admin", "")).status_code == 401


def test_a_plain_password_setting_is_hashed_at_startup(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HIRING_JOBS_ADMIN_PASSWORD", "plain-secret")
    settings.get_settings.cache_clear()
    app = create_app({"TESTING": True})
    stored = app.extensions["hiring_jobs.accounts"].by_name["admin"].password_hash
    assert stored != "plain-secret" and stored.startswith("scrypt:")
    assert (
        app.test_client().get("/api/jobs", headers=basic("admin", "plain-secret")).status_code
        == 200
    )


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


def test_basic_auth_needs_no_csrf_and_keeps_its_role(
    app: Flask, session_factory: sessionmaker[Session]
) -> None:
    [job_id] = defer_jobs(session_factory, "tests.record", [{"user_id": 1, "message": "x"}])
    client = app.test_client()
    assert client.post(f"/api/jobs/{job_id}/cancel", headers=basic(*VIEWER)).status_code == 403
    response = client.post(f"/api/jobs/{job_id}/cancel", headers=basic(*ADMIN))
    assert response.status_code == 200
    assert response.get_json()["state"] == "CANCELLED"
    assert client.get("/api/jobs", headers=basic("admin", "wrong")).status_code == 401


def test_pages_send_security_headers(operator: FlaskClient) -> None:
    headers = operator.get("/admin/").headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
