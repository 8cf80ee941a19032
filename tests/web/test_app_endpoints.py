"""App-side endpoints: a row and its job commit together; uploads are checked by content."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import Application, ApplicationStatusChange, Resume, StoredFile
from tests.support.factories import make_posting, make_user
from tests.support.jobs import jobs
from tests.web.helpers import ADMIN, csrf_of, log_in, pdf_bytes, post_json
from web import create_app


def task_args(job: dict[str, Any]) -> dict[str, Any]:
    """The arguments the task receives: the request id rides along and is stripped."""
    return {key: value for key, value in job["args"].items() if key != "_request_id"}


@pytest.fixture
def user_id(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        found = make_user(session).id
        session.commit()
    return found


def upload(client: FlaskClient, data: bytes, user: int | str, name: str = "cv.pdf") -> object:
    return client.post(
        "/api/resumes",
        data={"user_id": str(user), "file": (io.BytesIO(data), name)},
        headers={"X-CSRF-Token": csrf_of(client)},
        content_type="multipart/form-data",
    )


def test_an_upload_stores_the_resume_and_defers_its_parse_together(
    operator: FlaskClient, session_factory: sessionmaker[Session], user_id: int
) -> None:
    response = upload(operator, pdf_bytes(), user_id, name="../../etc/passwd.pdf")
    assert response.status_code == 201
    body = response.get_json()
    with session_factory() as session:
        resume = session.get(Resume, body["resume_id"])
        assert resume is not None and resume.user_id == user_id
        stored = session.get(StoredFile, resume.file_id)
        [job] = jobs(session, "resume.parse")
    assert job["id"] == body["job_id"] and task_args(job) == {"resume_id": body["resume_id"]}
    assert stored is not None and ".." not in stored.path and "passwd" not in stored.path
    assert stored.original_name == "passwd.pdf"


def test_a_file_named_pdf_that_is_not_one_is_refused(
    operator: FlaskClient, session_factory: sessionmaker[Session], user_id: int
) -> None:
    response = upload(operator, b"MZ\x90\x00 not a pdf at all", user_id, name="resume.pdf")
    assert response.status_code == 400
    assert "not a PDF" in response.get_json()["error"]
    with session_factory() as session:
        assert jobs(session) == [] and session.scalars(select(Resume)).all() == []


def test_an_upload_past_the_limit_is_a_413_with_a_json_error(accounts: None, user_id: int) -> None:
    app: Flask = create_app({"TESTING": True, "MAX_UPLOAD_BYTES": 2000, "MAX_CONTENT_LENGTH": 4000})
    client = app.test_client()
    log_in(client, *ADMIN)
    just_over = upload(client, b"%PDF-1.4 " + b"x" * 2500, user_id)
    assert just_over.status_code == 413
    assert "limit" in just_over.get_json()["error"]
    far_over = upload(client, b"%PDF-1.4 " + b"x" * 10_000, user_id)
    assert far_over.status_code == 413
    assert far_over.is_json


def test_uploads_need_an_operator(client: FlaskClient, viewer: FlaskClient, user_id: int) -> None:
    assert upload(client, pdf_bytes(), user_id).status_code == 401
    assert upload(viewer, pdf_bytes(), user_id).status_code == 403


def test_an_upload_for_an_unknown_user_is_a_404(operator: FlaskClient) -> None:
    assert upload(operator, pdf_bytes(), 987654).status_code == 404
    assert upload(operator, pdf_bytes(), "abc").status_code == 400


def test_creating_an_application_records_it_and_defers_its_email(
    operator: FlaskClient, session_factory: sessionmaker[Session], user_id: int
) -> None:
    with session_factory() as session:
        posting_id = make_posting(session).id
        session.commit()
    body = {"candidate_id": user_id, "job_posting_id": posting_id, "cover_letter": "Hi"}
    response = post_json(operator, "/api/applications", body)
    assert response.status_code == 201
    created = response.get_json()
    with session_factory() as session:
        [job] = jobs(session, "email.send_application_status")
        change = session.get(ApplicationStatusChange, created["status_change_id"])
    assert job["id"] == created["email_job_id"]
    assert task_args(job) == {
        "application_id": created["application_id"],
        "status_change_id": created["status_change_id"],
    }
    assert change is not None and change.to_status == "applied"
    assert post_json(operator, "/api/applications", body).status_code == 409


def test_a_status_change_writes_the_change_and_its_email_job(
    operator: FlaskClient, session_factory: sessionmaker[Session], user_id: int
) -> None:
    with session_factory() as session:
        application = Application(candidate_id=user_id, job_posting_id=make_posting(session).id)
        session.add(application)
        session.commit()
        application_id = application.id
    url = f"/api/applications/{application_id}/status"
    response = post_json(operator, url, {"status": "interview_scheduled", "note": "Tue 10:00"})
    assert response.status_code == 200
    body = response.get_json()
    with session_factory() as session:
        [job] = jobs(session, "email.send_application_status")
        change = session.get(ApplicationStatusChange, body["status_change_id"])
        assert session.get(Application, application_id).status == "interview_scheduled"
    assert job["id"] == body["job_id"]
    assert task_args(job) == {"application_id": application_id, "status_change_id": change.id}
    assert (change.from_status, change.to_status, change.note) == (
        "applied",
        "interview_scheduled",
        "Tue 10:00",
    )
    assert post_json(operator, url, {"status": "interview_scheduled"}).status_code == 409
    assert post_json(operator, url, {"status": "promoted"}).status_code == 400
    assert (
        post_json(operator, "/api/applications/999999/status", {"status": "hired"}).status_code
        == 404
    )


def test_the_request_id_follows_the_upload_into_its_job(
    operator: FlaskClient, session_factory: sessionmaker[Session], user_id: int
) -> None:
    response = operator.post(
        "/api/resumes",
        data={"user_id": str(user_id), "file": (io.BytesIO(pdf_bytes()), "cv.pdf")},
        headers={"X-CSRF-Token": csrf_of(operator), "X-Request-ID": "req-upload-1"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201
    assert response.headers["X-Request-ID"] == "req-upload-1"
    with session_factory() as session:
        [job] = jobs(session, "resume.parse")
    assert job["args"]["_request_id"] == "req-upload-1"


def test_a_request_without_an_id_gets_one_and_a_bad_id_is_replaced(operator: FlaskClient) -> None:
    made = operator.get("/health").headers["X-Request-ID"]
    assert len(made) == 32
    replaced = operator.get("/health", headers={"X-Request-ID": "<script>"})
    assert replaced.headers["X-Request-ID"] != "<script>"
