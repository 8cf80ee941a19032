"""Every attempt is recorded by the worker middleware: timing, outcome, error, result."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import AttemptOutcome, JobAttempt
from hiring_jobs.queue.attempts import fingerprint, normalise_message
from hiring_jobs.queue.defer import defer
from tests.support import tasks
from tests.support.factories import make_user
from tests.support.jobs import jobs, run_worker_until_idle


def _attempts(session_factory: sessionmaker[Session]) -> list[JobAttempt]:
    with session_factory() as session:
        return list(session.scalars(select(JobAttempt).order_by(JobAttempt.id)))


def test_a_successful_attempt_records_timing_worker_and_result(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        job_id = defer(session, tasks.echo, value={"parsed": 3})
    run_worker_until_idle()

    [attempt] = _attempts(session_factory)
    assert (attempt.job_id, attempt.attempt, attempt.task_name) == (job_id, 1, "tests.echo")
    assert attempt.outcome == AttemptOutcome.SUCCEEDED
    assert attempt.result == {"parsed": 3}
    assert attempt.finished_at is not None and attempt.finished_at >= attempt.started_at
    assert attempt.duration_ms is not None and attempt.duration_ms >= 0
    assert attempt.hostname and attempt.pid and attempt.worker_name
    assert attempt.exception_type is None


def test_a_failed_attempt_records_the_exception_and_traceback(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        defer(session, tasks.fail, message="SMTP relay 10.0.0.7 refused connection 42")
    run_worker_until_idle()

    [attempt] = _attempts(session_factory)
    assert attempt.outcome == AttemptOutcome.FAILED
    assert attempt.exception_type == "builtins.RuntimeError"
    assert attempt.error_message == "SMTP relay 10.0.0.7 refused connection 42"
    assert attempt.traceback and "raise RuntimeError(message)" in attempt.traceback
    assert attempt.error_fingerprint == fingerprint(
        "builtins.RuntimeError", "SMTP relay 10.0.0.99 refused connection 7"
    )


def test_retries_are_recorded_as_separate_attempts(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session, session.begin():
        user = make_user(session)
        defer(session, tasks.fail_twice_then_succeed, user_id=user.id, marker="m1")
    for _ in range(3):  # each run picks up the retry scheduled by the previous failure
        run_worker_until_idle()

    outcomes = [(a.attempt, a.outcome) for a in _attempts(session_factory)]
    assert outcomes == [
        (1, AttemptOutcome.FAILED),
        (2, AttemptOutcome.FAILED),
        (3, AttemptOutcome.SUCCEEDED),
    ]
    with session_factory() as session:
        assert [job["status"] for job in jobs(session)] == ["succeeded"]


def test_messages_are_normalised_for_grouping() -> None:
    assert normalise_message("user 123 not found in 'acme' (took 0.5s)") == (
        "user <n> not found in <str> (took <n>s)"
    )
    assert fingerprint("E", "job 1 failed") == fingerprint("E", "job 2 failed")
    assert fingerprint("E", "job 1 failed") != fingerprint("F", "job 1 failed")
