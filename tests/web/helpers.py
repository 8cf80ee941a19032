"""Shared by the web and browser tests: accounts, logins, and jobs in known states."""

from __future__ import annotations

import base64
import threading
from typing import Any

from flask.testing import FlaskClient
from fpdf import FPDF
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import generate_password_hash

from hiring_jobs.queue.defer import batch_defer, defer
from tests.support.jobs import run_worker_until_idle

ADMIN = ("admin", "operator-password-1")
VIEWER = ("viewer", "viewer-password-1")
# Given already hashed, with a cheap method: fast tests, and the hashed form is exercised.
ADMIN_HASH = generate_password_hash(ADMIN[1], method="pbkdf2:sha256:1000")
VIEWER_HASH = generate_password_hash(VIEWER[1], method="pbkdf2:sha256:1000")


def basic(username: str, password: str) -> dict[str, str]:
    """HTTP Basic credentials, as a script sends them."""
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def pdf_bytes() -> bytes:
    """A small real PDF, as an application uploads it."""
    document = FPDF()
    document.add_page()
    document.set_font("helvetica", size=12)
    document.cell(text="Ada Lovelace, Python, PostgreSQL")
    return bytes(document.output())


def csrf_of(client: FlaskClient) -> str:
    with client.session_transaction() as session:
        if "csrf" not in session:
            client.get("/login")
    with client.session_transaction() as session:
        token: str = session["csrf"]
    return token


def log_in(client: FlaskClient, username: str, password: str) -> None:
    client.get("/login")
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(client)},
    )
    assert response.status_code == 302, response.data


def post(client: FlaskClient, url: str, data: dict[str, Any] | None = None) -> Any:
    """A form POST carrying the session's CSRF token, as the pages send it."""
    return client.post(url, data={**(data or {}), "csrf_token": csrf_of(client)})


def post_json(client: FlaskClient, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, json=body or {}, headers={"X-CSRF-Token": csrf_of(client)})


def defer_jobs(
    factory: sessionmaker[Session], task: str, kwargs_list: list[dict[str, Any]]
) -> list[int]:
    with factory() as session:
        ids = batch_defer(session, task, kwargs_list)
        session.commit()
    return ids


def failed_job(factory: sessionmaker[Session], message: str) -> int:
    """A job of the test task `tests.fail`, run by a real worker until it failed."""
    with factory() as session:
        job_id = defer(session, "tests.fail", message=message)
        session.commit()
    run_worker_in_thread()
    return job_id


def run_worker_in_thread(queues: list[str] | None = None) -> None:
    """run_worker_until_idle in its own thread: callable while an event loop runs here."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_worker_until_idle(queues=queues)
        except BaseException as exc:  # reported in the calling thread
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the worker did not become idle"
    if errors:
        raise errors[0]
