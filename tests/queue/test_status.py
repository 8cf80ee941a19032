"""job_status(id): the state in Celery's words, with the result or the error."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.queue import retry
from hiring_jobs.queue.defer import defer
from hiring_jobs.queue.status import job_status
from tests.support import tasks
from tests.support.jobs import run_worker_until_idle


def _status(session_factory: sessionmaker[Session], job_id: int) -> dict[str, object]:
    with session_factory() as session:
        status = job_status(session, job_id)
        assert status is not None
        return status.as_dict()


def test_pending_then_success_with_the_result(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session, session.begin():
        job_id = defer(session, tasks.echo, value=[1, 2])
    assert _status(session_factory, job_id)["state"] == "PENDING"
    run_worker_until_idle()
    status = _status(session_factory, job_id)
    assert (status["state"], status["result"], status["error"]) == ("SUCCESS", [1, 2], None)


def test_failure_carries_the_error(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session, session.begin():
        job_id = defer(session, tasks.fail, message="no such resume")
    run_worker_until_idle()
    status = _status(session_factory, job_id)
    assert status["state"] == "FAILURE"
    assert status["error"] == {"type": "builtins.RuntimeError", "message": "no such resume"}


def test_a_job_waiting_for_its_retry_is_retry(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retry.random, "uniform", lambda low, high: high)  # no lucky 0 s jitter
    with session_factory() as session, session.begin():
        job_id = defer(session, tasks.always_transient)
    run_worker_until_idle()  # the first attempt fails; the retry waits an hour
    with session_factory() as session:
        status = job_status(session, job_id)
    assert status is not None and status.state == "RETRY"
    assert status.error is not None and status.error["type"] == "builtins.ConnectionError"


def test_unknown_ids_have_no_status(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        assert job_status(session, 987654) is None
