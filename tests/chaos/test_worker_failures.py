"""Real worker processes killed, stopped and timed out: every job ends succeeded, failed
(and in the dead-letter queue) or cancelled; none stays `doing`; side effects happen once
for every succeeded job."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import AttemptOutcome, JobAttempt, Notification
from hiring_jobs.queue import operations
from hiring_jobs.queue.defer import defer
from tests.support import tasks
from tests.support.factories import make_user
from tests.support.jobs import run_worker_until_idle
from tests.support.processes import cli_env, start_cli, wait_for

pytestmark = pytest.mark.slow

FAST_HEARTBEAT = {
    "HIRING_JOBS_TASK_MODULES": "tests.support.tasks",
    "HIRING_JOBS_HEARTBEAT_SECONDS": "0.5",  # dead after 1.5 s of silence
    "HIRING_JOBS_RESCUE_INTERVAL_SECONDS": "1",
    "HIRING_JOBS_WORKER_PROCESSES": "1",
}


@pytest.fixture
def worker_env(database_url: str) -> dict[str, str]:
    return cli_env(DATABASE_URL=database_url, **FAST_HEARTBEAT)


@pytest.fixture
def user_id(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session, session.begin():
        return make_user(session).id


class Workers:
    """Worker processes started by a test, all stopped at its end."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs, self.started = env, logs, []  # type: list[subprocess.Popen[bytes]]

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = self.logs / f"worker-{len(self.started)}.log"
        process = start_cli("worker", *args, env=self.env, log=log)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def workers(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    started = Workers(worker_env, tmp_path)
    yield started
    started.stop_all()


def _status(session_factory: sessionmaker[Session], job_id: int) -> str:
    with session_factory() as session:
        return str(
            session.scalar(
                text("SELECT status FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}
            )
        )


def _running(session_factory: sessionmaker[Session], job_id: int) -> bool:
    return _status(session_factory, job_id) == "doing"


def _done_rows(session_factory: sessionmaker[Session], marker: str) -> int:
    with session_factory() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.message == f"done {marker}")
            )
            or 0
        )


def _outcomes(session_factory: sessionmaker[Session], job_id: int) -> list[AttemptOutcome]:
    with session_factory() as session:
        return list(
            session.scalars(
                select(JobAttempt.outcome)
                .where(JobAttempt.job_id == job_id)
                .order_by(JobAttempt.id)
            )
        )


def test_a_job_of_a_killed_worker_is_rescued_and_runs_once_more(
    session_factory: sessionmaker[Session], workers: Workers, user_id: int
) -> None:
    with session_factory() as session, session.begin():
        job_id = defer(session, tasks.slow, user_id=user_id, marker="k", seconds=60)
    doomed = workers.start()
    wait_for(
        lambda: _running(session_factory, job_id),
        timeout=30,
        what="the job to start",
        process=doomed,
    )
    doomed.send_signal(signal.SIGKILL)  # no shutdown, no goodbye: the job stays `doing`
    doomed.wait()
    assert _status(session_factory, job_id) == "doing"

    killed_at = time.monotonic()
    survivor = workers.start()
    wait_for(
        lambda: _status(session_factory, job_id) == "succeeded",
        timeout=30,
        what="the rescue",
        process=survivor,
    )
    rescue_seconds = time.monotonic() - killed_at

    assert _outcomes(session_factory, job_id) == [
        AttemptOutcome.INTERRUPTED,
        AttemptOutcome.SUCCEEDED,
    ]
    assert _done_rows(session_factory, "k") == 1
    assert rescue_seconds < 15, f"rescued after {rescue_seconds:.1f} s"


def test_the_rescue_never_touches_jobs_of_live_workers(
    session_factory: sessionmaker[Session], workers: Workers, user_id: int
) -> None:
    with session_factory() as session, session.begin():
        job_id = defer(session, tasks.slow, user_id=user_id, marker="live", seconds=5)
    first = workers.start()
    wait_for(
        lambda: _running(session_factory, job_id),
        timeout=30,
        what="the job to start",
        process=first,
    )
    workers.start()  # its rescue runs every second while the first worker is busy and alive
    wait_for(
        lambda: _status(session_factory, job_id) == "succeeded",
        timeout=30,
        what="the job",
        process=first,
    )
    assert _outcomes(session_factory, job_id) == [AttemptOutcome.SUCCEEDED]
    assert _done_rows(session_factory, "live") == 1


def test_sigterm_lets_a_running_job_finish(
    session_factory: sessionmaker[Session], workers: Workers, user_id: int
) -> None:
    with session_factory() as session, session.begin():
        job_id = defer(session, tasks.slow, user_id=user_id, marker="t", seconds=2)
    worker = workers.start()
    wait_for(
        lambda: _running(session_factory, job_id),
        timeout=30,
        what="the job to start",
        process=worker,
    )
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    assert _status(session_factory, job_id) == "succeeded"
    assert _done_rows(session_factory, "t") == 1


def test_sigterm_past_the_graceful_timeout_aborts_and_requeues(
    session_factory: sessionmaker[Session], worker_env: dict[str, str], tmp_path: Path, user_id: int
) -> None:
    with session_factory() as session, session.begin():
        job_id = defer(session, tasks.slow, user_id=user_id, marker="g", seconds=120)
    stopping = Workers({**worker_env, "HIRING_JOBS_SHUTDOWN_TIMEOUT": "1"}, tmp_path)
    try:
        worker = stopping.start()
        wait_for(
            lambda: _running(session_factory, job_id),
            timeout=30,
            what="the job to start",
            process=worker,
        )
        stopped_at = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
        assert time.monotonic() - stopped_at < 10, "the worker did not wait for the 120 s job"
    finally:
        stopping.stop_all()
    assert _status(session_factory, job_id) == "todo"  # aborted by the shutdown, re-queued
    assert _outcomes(session_factory, job_id) == [AttemptOutcome.ABORTED]

    run_worker_until_idle()  # the next worker (a deploy's new version) runs it
    assert _status(session_factory, job_id) == "succeeded"
    assert _done_rows(session_factory, "g") == 1


def test_a_task_past_its_hard_limit_is_stopped_and_the_worker_goes_on(
    session_factory: sessionmaker[Session], user_id: int
) -> None:
    with session_factory() as session, session.begin():
        hung = defer(session, tasks.hang)
        other = defer(session, tasks.slow, user_id=user_id, marker="o", seconds=0)
    run_worker_until_idle(concurrency=2)  # the first attempt times out; its retry is due now
    run_worker_until_idle(concurrency=2)

    assert _status(session_factory, hung) == "failed"  # one retry, then the DLQ
    assert _outcomes(session_factory, hung) == [AttemptOutcome.TIMED_OUT, AttemptOutcome.TIMED_OUT]
    assert _status(session_factory, other) == "succeeded"
    with session_factory() as session:
        letter = operations.dead_letter(session, hung)
    assert letter.exception_type == "hiring_jobs.queue.time_limits.SoftTimeLimitExceeded"
    assert "soft time limit of 0.5 s" in (letter.error_message or "")
