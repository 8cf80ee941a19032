"""1,000 mixed jobs through two worker processes, with random transient failures and
permanent ones: every job ends succeeded or failed-and-in-the-DLQ, none stays `doing` or
`todo`, and every succeeded job's side effect happened exactly once."""

from __future__ import annotations

import random
import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import Notification
from hiring_jobs.queue import operations
from hiring_jobs.queue.defer import batch_defer
from tests.support import tasks
from tests.support.factories import make_user
from tests.support.jobs import jobs
from tests.support.processes import cli_env, start_cli, wait_for

pytestmark = pytest.mark.slow

FINAL = {"succeeded", "failed", "cancelled"}


def _statuses(session_factory: sessionmaker[Session]) -> dict[int, tuple[str, str]]:
    with session_factory() as session:
        return {
            job["id"]: (job["task_name"], job["status"])
            for job in jobs(session)
            if job["task_name"].startswith("tests.")
        }


def test_a_thousand_mixed_jobs_all_end_and_succeed_once(
    database_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    rng = random.Random(1234)
    with session_factory() as session, session.begin():
        user_id = make_user(session).id
        flaky = [
            {"user_id": user_id, "key": f"f{n}", "fail_percent": rng.choice([0, 20, 50])}
            for n in range(900)
        ]
        batch_defer(session, tasks.flaky, flaky)
        batch_defer(session, tasks.fail, [{"message": f"bad input {n}"} for n in range(100)])

    env = cli_env(DATABASE_URL=database_url, HIRING_JOBS_TASK_MODULES="tests.support.tasks")
    log = tmp_path / "worker.log"
    worker = start_cli("worker", "--processes", "2", "--concurrency", "4", env=env, log=log)
    try:
        wait_for(
            lambda: all(status in FINAL for _, status in _statuses(session_factory).values()),
            timeout=180,
            what="all 1,000 jobs to end",
            process=worker,
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0, log.read_text()[-3000:]

    statuses = _statuses(session_factory)
    assert len(statuses) == 1000
    succeeded = [job_id for job_id, (_, status) in statuses.items() if status == "succeeded"]
    failed = [job_id for job_id, (_, status) in statuses.items() if status == "failed"]
    assert len(succeeded) + len(failed) == 1000
    assert len(failed) >= 100  # every tests.fail job, plus flaky ones that ran out of retries
    with session_factory() as session:
        assert operations.dead_letter_stats(session).pending == len(failed)
        rows = session.execute(
            select(Notification.message, func.count()).group_by(Notification.message)
        ).all()
    assert len(rows) == len(succeeded), "one side effect per succeeded job"
    assert all(count == 1 for _, count in rows), "no side effect happened twice"
