"""PostgreSQL restarts under load: the worker waits, reconnects, and loses nothing."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import Notification
from hiring_jobs.queue.defer import batch_defer
from tests.conftest import EMBEDDED_PGDATA
from tests.support import tasks
from tests.support.embedded import restart_server
from tests.support.factories import make_user
from tests.support.jobs import jobs
from tests.support.processes import cli_env, start_cli, wait_for

pytestmark = pytest.mark.slow


def _defer(session_factory: sessionmaker[Session], user_id: int, keys: range) -> None:
    with session_factory() as session, session.begin():
        batch_defer(
            session, tasks.record_once, [{"user_id": user_id, "key": f"k{n}"} for n in keys]
        )


def _count(session_factory: sessionmaker[Session], status: str) -> int:
    with session_factory() as session:
        return sum(job["status"] == status for job in jobs(session, "tests.record_once"))


def test_a_restart_under_load_loses_and_duplicates_nothing(
    database_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    if not EMBEDDED_PGDATA:
        pytest.skip("restarts only the embedded test server, never an external one")
    with session_factory() as session, session.begin():
        user_id = make_user(session).id
    _defer(session_factory, user_id, range(300))
    env = cli_env(
        DATABASE_URL=database_url,
        HIRING_JOBS_TASK_MODULES="tests.support.tasks",
        HIRING_JOBS_WORKER_PROCESSES="1",
        HIRING_JOBS_HEARTBEAT_SECONDS="1",
        HIRING_JOBS_RESCUE_INTERVAL_SECONDS="2",
    )
    log = tmp_path / "worker.log"
    worker = start_cli("worker", "--concurrency", "4", env=env, log=log)
    try:
        wait_for(
            lambda: _count(session_factory, "succeeded") >= 50,
            timeout=60,
            what="work to be under way",
            process=worker,
        )
        restart_server(EMBEDDED_PGDATA[0], "fast")  # every open connection is cut
        session_factory.kw["bind"].dispose()  # our own pooled connections died too
        _defer(session_factory, user_id, range(300, 400))  # new work after the restart
        wait_for(
            lambda: _count(session_factory, "succeeded") == 400,
            timeout=120,
            what="all 400 jobs after the restart",
            process=worker,
        )
        assert worker.poll() is None, "the worker survived the restart"
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == 400
        assert not [job for job in jobs(session) if job["status"] == "doing"]
