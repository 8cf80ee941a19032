"""Progress reported by a task running in a real worker's child process: the status API's
PROGRESS state, the bar on the jobs list and the job page, the last value kept."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.queue.defer import defer
from hiring_jobs.queue.status import job_status
from tests.support.processes import cli_env, start_cli, wait_for


@pytest.mark.slow
def test_progress_reported_in_a_task_child_shows_as_progress_in_the_status_api(
    database_url: str,
    session_factory: sessionmaker[Session],
    operator: FlaskClient,
    tmp_path: Path,
) -> None:
    with session_factory() as session:
        job_id = defer(session, "tests.progress_steps", steps=6, seconds=0.7)
        session.commit()
    env = cli_env(
        DATABASE_URL=database_url,
        HIRING_JOBS_TASK_MODULES="tests.support.tasks",
        HIRING_JOBS_WORKER_PROCESSES="1",
    )
    worker = start_cli("worker", "--queues", "default=1", env=env, log=tmp_path / "worker.log")
    try:
        seen: list[dict] = []

        def reporting() -> bool:
            body = operator.get(f"/api/jobs/{job_id}/status").get_json()
            if body["state"] == "PROGRESS":
                seen.append(body["progress"])
            return bool(seen) and 0 < seen[-1]["done"] < 6

        wait_for(reporting, timeout=60, what="the job to report progress", process=worker)
        assert seen[-1]["total"] == 6
        assert seen[-1]["message"] == f"step {seen[-1]['done']} of 6"
        page = operator.get("/admin/jobs?status=doing").data.decode()
        assert "data-progress" in page and "/ 6" in page, "the jobs list shows the bar"
        assert "<progress" in operator.get(f"/admin/jobs/{job_id}").data.decode()
        wait_for(
            lambda: operator.get(f"/api/jobs/{job_id}/status").get_json()["state"] == "SUCCESS",
            timeout=60,
            what="the job to succeed",
            process=worker,
        )
        with session_factory() as session:
            final = job_status(session, job_id)
        assert final is not None and final.progress is not None
        assert (final.progress["done"], final.progress["message"]) == (6, "step 6 of 6")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
