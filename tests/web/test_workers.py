"""The workers page names every live worker process, idle or busy, with its slots; a job
links to the worker process that ran it."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import WorkerProcess
from hiring_jobs.settings import get_settings
from tests.support.factories import make_user
from tests.support.processes import cli_env, start_cli, wait_for
from tests.web.helpers import defer_jobs


@pytest.fixture
def worker_process(
    database_url: str, tmp_path: Path, session_factory: sessionmaker[Session]
) -> Iterator[subprocess.Popen[bytes]]:
    """A real `hiring-jobs worker` serving `default` with 2 slots and `email` with 1."""
    env = cli_env(DATABASE_URL=database_url, HIRING_JOBS_TASK_MODULES="tests.support.tasks")
    process = start_cli(
        "worker",
        "--queues",
        "default=2,email=1",
        "--processes",
        "1",
        env=env,
        log=tmp_path / "worker.log",
    )
    try:
        wait_for(
            lambda: _recorded(session_factory) == 1,
            timeout=60,
            what="the worker process recorded",
            process=process,
        )
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def _recorded(factory: sessionmaker[Session]) -> int:
    """Worker processes recorded in full: queue control's report may create the row
    before the process's own record fills in its pool (queue/registration.py)."""
    with factory() as session:
        return session.scalar(
            text(
                "SELECT count(*) FROM worker_processes p"
                " JOIN procrastinate_workers w ON w.id = p.worker_id"
                " WHERE p.pool ? 'processes'"
            )
        )


def test_an_idle_worker_shows_its_process_concurrency_and_slots_per_queue(
    operator: FlaskClient,
    session_factory: sessionmaker[Session],
    worker_process: subprocess.Popen[bytes],
) -> None:
    with session_factory() as session:
        recorded = session.scalars(select(WorkerProcess)).one()
    assert recorded.hostname == socket.gethostname() and recorded.pid > 0
    assert recorded.concurrency == 3
    assert recorded.slots == {"default": 2, "email": 1}
    assert recorded.pool["processes"] == 1 and recorded.pool["batch_size"] >= 1
    assert recorded.pool["max_tasks_per_child"] == get_settings().max_tasks_per_child
    page = operator.get("/admin/workers").data.decode()
    assert "unknown while idle" not in page
    row = page[page.index(f'id="worker-{recorded.worker_id}"') :]
    row = row[: row.index("</tr>")]
    assert recorded.worker_name in row and f"pid {recorded.pid}" in row
    # Busy slots over all of them; a cron tick the worker deferred at its start may be
    # running, so the busy counts are not pinned to 0.
    assert re.search(r"\b[0-3] / 3\b", row)
    assert re.search(r"default [0-2]/2</span>", row) and re.search(r"email [01]/1</span>", row)
    assert "1 process · batch" in row and "child recycled after" in row
    [worker] = [w for w in operator.get("/api/workers").get_json()["workers"] if w["live"]]
    assert worker["process"]["worker_name"] == recorded.worker_name
    assert worker["process"]["slots"] == {"default": 2, "email": 1}


def test_a_finished_job_names_the_worker_process_that_ran_it(
    operator: FlaskClient,
    session_factory: sessionmaker[Session],
    worker_process: subprocess.Popen[bytes],
) -> None:
    with session_factory() as session:
        user_id = make_user(session).id
        session.commit()
    [job_id] = defer_jobs(session_factory, "tests.record", [{"user_id": user_id, "message": "x"}])

    def succeeded() -> bool:
        with session_factory() as session:
            return (
                session.scalar(
                    text("SELECT status FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}
                )
                == "succeeded"
            )

    wait_for(succeeded, timeout=60, what="the job to succeed", process=worker_process)
    with session_factory() as session:
        recorded = session.scalars(select(WorkerProcess)).one()
        assert session.scalar(select(func.count()).select_from(WorkerProcess)) == 1
    page = operator.get(f"/admin/jobs/{job_id}").data.decode()
    # A finished job lets go of its worker (worker_id NULL): its last attempt names it.
    assert f"<dt>Worker</dt><dd>{recorded.worker_name} <span" in page
    assert f"(ran attempt 1, {recorded.hostname} pid {recorded.pid})" in page
