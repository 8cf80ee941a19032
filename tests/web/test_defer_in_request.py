"""The defer helper inside a Flask request: the response's rows and job commit together."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify
from flask.testing import FlaskClient
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import User
from hiring_jobs.queue.defer import defer
from tests.support import tasks
from tests.support.jobs import jobs
from web import create_app
from web.db import get_session


def _app_with_signup_route() -> Flask:
    """A signup endpoint shaped like the platform's own: write a user, defer a job, commit."""
    bp = Blueprint("signup", __name__)

    @bp.post("/signup/<email>")
    def signup(email: str) -> ResponseReturnValue:
        session = get_session()
        user = User(email=email, full_name="New User")
        session.add(user)
        session.flush()
        job_id = defer(session, tasks.record, user_id=user.id, message="welcome")
        if email.startswith("fail"):
            raise RuntimeError("the request fails after deferring")
        session.commit()
        return jsonify(user_id=user.id, job_id=job_id), 201

    app = create_app({"TESTING": True, "PROPAGATE_EXCEPTIONS": False})
    app.register_blueprint(bp)
    return app


def _client_with_csrf_token() -> FlaskClient:
    """Every state-changing request needs the session's CSRF token (web.security)."""
    client = _app_with_signup_route().test_client()
    with client.session_transaction() as session:
        session["csrf"] = "token-for-this-test"
    client.environ_base["HTTP_X_CSRF_TOKEN"] = "token-for-this-test"
    return client


def test_a_request_commits_its_row_and_its_job_together(
    session_factory: sessionmaker[Session],
) -> None:
    response = _client_with_csrf_token().post("/signup/ada@example.com")
    assert response.status_code == 201
    with session_factory() as fresh:
        [job] = jobs(fresh)
        assert job["id"] == response.get_json()["job_id"]
        assert job["args"]["user_id"] == response.get_json()["user_id"]


def test_a_failed_request_leaves_neither_row_nor_job(
    session_factory: sessionmaker[Session],
) -> None:
    response = _client_with_csrf_token().post("/signup/fail@example.com")
    assert response.status_code == 500
    with session_factory() as fresh:
        assert fresh.scalar(select(func.count()).select_from(User)) == 0
        assert jobs(fresh) == []
