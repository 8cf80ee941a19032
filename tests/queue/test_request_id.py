"""A request id follows the work: from the code that defers, into the job, its attempt
row and its log lines (JSON when HIRING_JOBS_LOG_FORMAT=json)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.logs import log_context
from hiring_jobs.models import JobAttempt
from hiring_jobs.queue.defer import defer
from tests.support import tasks
from tests.support.jobs import jobs, run_worker_until_idle
from tests.support.processes import cli_env, start_cli, wait_for


def test_the_request_id_reaches_the_attempt_but_not_the_task(
    session_factory: sessionmaker[Session],
) -> None:
    with log_context(request_id="req-42"), session_factory() as session, session.begin():
        defer(session, tasks.echo, value="hi")
    run_worker_until_idle()

    with session_factory() as session:
        [job] = jobs(session)
        attempt = session.scalars(select(JobAttempt)).one()
    assert job["args"] == {"value": "hi", "_request_id": "req-42"}
    # tests.echo takes only `value`: it would have failed with the extra argument.
    assert (job["status"], attempt.result, attempt.request_id) == ("succeeded", "hi", "req-42")


def test_worker_logs_are_json_lines_with_job_and_request(
    database_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with log_context(request_id="req-json"), session_factory() as session, session.begin():
        job_id = defer(session, tasks.echo, value=1)
    env = cli_env(
        DATABASE_URL=database_url,
        HIRING_JOBS_TASK_MODULES="tests.support.tasks",
        HIRING_JOBS_LOG_FORMAT="json",
        HIRING_JOBS_WORKER_PROCESSES="1",
    )
    log = tmp_path / "worker.log"
    worker = start_cli("worker", env=env, log=log)
    try:
        wait_for(
            lambda: _succeeded(session_factory, job_id), timeout=30, what="the job", process=worker
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert lines, "the worker logged JSON"
    [started] = [
        line for line in lines if line["message"].startswith(f"attempt 1 of job {job_id} ")
    ]
    assert started["job_id"] == job_id
    assert started["request_id"] == "req-json"
    assert (started["task"], started["queue"], started["attempt"]) == ("tests.echo", "default", 1)
    assert {"timestamp", "level", "logger"} <= set(started)


def _succeeded(session_factory: sessionmaker[Session], job_id: int) -> bool:
    with session_factory() as session:
        return any(job["id"] == job_id and job["status"] == "succeeded" for job in jobs(session))
