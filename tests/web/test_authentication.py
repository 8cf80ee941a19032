"""Scripts and applications: HTTP Basic (remembered briefly, throttled) and API tokens."""

from __future__ import annotations

import io

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.access import accounts, logins, tokens
from hiring_jobs.models import ApiToken, AuditLogEntry, TokenScope
from hiring_jobs.settings import get_settings
from tests.support.factories import make_user
from tests.web.helpers import ADMIN, VIEWER, basic, bearer, defer_jobs, pdf_bytes


def make_token(factory: sessionmaker[Session], scope: TokenScope) -> str:
    """A token made as `hiring-jobs tokens create` makes it (same settings as the app)."""
    with factory() as session:
        _, raw = tokens.create(
            session,
            tokens.token_key(get_settings()),
            name=f"{scope.value}-script",
            scope=scope,
            by="admin",
        )
        session.commit()
    return raw


def audit_rows(factory: sessionmaker[Session], action: str) -> list[AuditLogEntry]:
    with factory() as session:
        query = select(AuditLogEntry).where(AuditLogEntry.action == action)
        return list(session.scalars(query.order_by(AuditLogEntry.id)))


def test_basic_auth_needs_no_csrf_and_keeps_its_role(
    client: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    [job_id] = defer_jobs(session_factory, "tests.record", [{"user_id": 1, "message": "x"}])
    assert client.post(f"/api/jobs/{job_id}/cancel", headers=basic(*VIEWER)).status_code == 403
    response = client.post(f"/api/jobs/{job_id}/cancel", headers=basic(*ADMIN))
    assert response.status_code == 200
    assert response.get_json()["state"] == "CANCELLED"
    [entry] = audit_rows(session_factory, "job.cancel")
    assert entry.actor == "admin"


@pytest.mark.parametrize("path", ["/api/jobs/bulk", "/admin/jobs/bulk", "/logout"])
def test_bad_credentials_on_a_post_answer_401_not_a_csrf_error(
    client: FlaskClient, path: str
) -> None:
    response = client.post(path, headers=basic("admin", "wrong"), data={"action": "retry"})
    assert response.status_code == 401
    assert b"CSRF" not in response.data


@pytest.mark.parametrize(
    "header", ["Basic !!!", "Basic " + "e30=", "Digest x", "Bearer", "Bearer hj_unknown"]
)
def test_malformed_or_unknown_credentials_answer_401(client: FlaskClient, header: str) -> None:
    response = client.get("/api/stats", headers={"Authorization": header})
    assert response.status_code == 401
    assert "WWW-Authenticate" not in response.headers  # browsers never cache Basic creds


def test_a_verified_basic_credential_is_remembered_without_hashing_again(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []
    original = logins.check_password_hash
    monkeypatch.setattr(
        logins, "check_password_hash", lambda *args: hashed.append("x") or original(*args)
    )
    for _ in range(5):
        assert client.get("/api/stats", headers=basic(*ADMIN)).status_code == 200
    assert hashed == ["x"]


def test_a_remembered_credential_stops_working_once_the_password_changes(
    client: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    assert client.get("/api/stats", headers=basic(*ADMIN)).status_code == 200
    with session_factory() as session:
        accounts.set_password(session, "admin", "the new admin password", by="admin")
        session.commit()
    assert client.get("/api/stats", headers=basic(*ADMIN)).status_code == 401
    assert (
        client.get("/api/stats", headers=basic("admin", "the new admin password")).status_code
        == 200
    )


def test_wrong_basic_credentials_are_audited_then_throttled(
    client: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    statuses = [
        client.get("/api/stats", headers=basic("admin", "guess")).status_code for _ in range(7)
    ]
    assert statuses == [401] * 6 + [429]
    locked = client.get("/api/stats", headers=basic(*ADMIN))
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) >= 1
    assert "too many failed logins" in locked.get_json()["error"]
    failed = audit_rows(session_factory, "auth.login_failed")
    assert len(failed) == 6
    assert {entry.details["via"] for entry in failed} == {"basic"}


def test_an_app_token_uploads_resumes_and_nothing_else(
    client: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    raw = make_token(session_factory, TokenScope.APP)
    with session_factory() as session:
        user_id = make_user(session).id
        session.commit()
    upload = client.post(
        "/api/resumes",
        data={"user_id": str(user_id), "file": (io.BytesIO(pdf_bytes()), "cv.pdf")},
        headers=bearer(raw),
        content_type="multipart/form-data",
    )
    assert upload.status_code == 201
    assert client.get("/api/jobs", headers=bearer(raw)).status_code == 403
    assert client.post("/api/jobs/1/cancel", headers=bearer(raw)).status_code == 403
    [entry] = audit_rows(session_factory, "resume.upload")
    assert entry.actor == "token:app-script"


def test_a_read_token_reads_and_an_operate_token_also_acts(
    client: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    [job_id] = defer_jobs(session_factory, "tests.record", [{"user_id": 1, "message": "x"}])
    read, operate = (make_token(session_factory, s) for s in (TokenScope.READ, TokenScope.OPERATE))
    assert client.get("/metrics", headers=bearer(read)).status_code == 200
    assert client.get(f"/api/jobs/{job_id}", headers=bearer(read)).status_code == 200
    assert client.post(f"/api/jobs/{job_id}/cancel", headers=bearer(read)).status_code == 403
    assert client.post(f"/api/jobs/{job_id}/cancel", headers=bearer(operate)).status_code == 200
    assert client.get("/admin/accounts", headers=bearer(operate)).status_code == 403


def test_a_revoked_token_is_refused_and_the_refusal_audited(
    client: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    raw = make_token(session_factory, TokenScope.READ)
    assert client.get("/api/stats", headers=bearer(raw)).status_code == 200
    with session_factory() as session:
        token = session.scalars(select(ApiToken)).one()
        assert token.last_used_at is not None
        tokens.revoke(session, token.id, by="admin")
        session.commit()
    assert client.get("/api/stats", headers=bearer(raw)).status_code == 401
    [failed] = audit_rows(session_factory, "auth.login_failed")
    assert (failed.actor, failed.details["via"]) == ("(token)", "token")


@pytest.mark.parametrize(
    "credentials",
    [
        basic("ad\x00min", "pw"),
        basic("é" * 3, "\x00"),
        basic("x" * 20_000, "y"),
        {"Authorization": "Bearer " + "hj_" + "x" * 20_000},
        {"Authorization": "Bearer hj_é²"},
    ],
)
def test_hostile_credentials_are_refused_without_error(
    client: FlaskClient, credentials: dict[str, str]
) -> None:
    assert client.post("/api/jobs/bulk", headers=credentials).status_code == 401
