"""The `hiring-jobs` command: help, clear one-line errors, migrate, and multi-process workers."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import Notification
from hiring_jobs.queue.defer import batch_defer
from tests.support import tasks
from tests.support.factories import make_user
from tests.support.jobs import jobs
from tests.support.processes import cli_env, run_cli, start_cli, wait_for

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/nothing"


@pytest.mark.parametrize("command", [[], ["up"], ["migrate"], ["worker"], ["web"], ["db-url"]])
def test_every_command_explains_itself(command: list[str]) -> None:
    result = run_cli(*command, "--help", env=cli_env())
    assert result.returncode == 0
    assert "Usage: hiring-jobs" in result.stdout
    assert len(result.stdout.splitlines()) > 4


@pytest.mark.parametrize("command", [["migrate"], ["worker"], ["web"], ["up"]])
def test_an_unreachable_database_is_one_clear_line(command: list[str], tmp_path: Path) -> None:
    env = cli_env(DATABASE_URL=UNREACHABLE, HIRING_JOBS_DATA_DIR=str(tmp_path))
    result = run_cli(*command, env=env)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: cannot reach the database (nobody@127.0.0.1:1/nothing)")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_db_url_prints_the_configured_url() -> None:
    result = run_cli("db-url", env=cli_env(DATABASE_URL="postgres://u:p@db.example:5432/app"))
    assert result.returncode == 0
    assert result.stdout.strip() == "postgresql://u:p@db.example:5432/app"


def test_db_url_says_when_the_embedded_server_is_not_running(tmp_path: Path) -> None:
    result = run_cli("db-url", env=cli_env(HIRING_JOBS_DATA_DIR=str(tmp_path)))
    assert result.returncode == 1
    assert "is not running: start it with `hiring-jobs up`" in result.stderr


def test_a_bad_setting_is_named(tmp_path: Path) -> None:
    result = run_cli("migrate", env=cli_env(HIRING_JOBS_WEB_PORT="eighty"))
    assert result.returncode == 1
    assert "HIRING_JOBS_WEB_PORT must be a whole number, got 'eighty'" in result.stderr


def test_worker_refuses_unknown_queues(database_url: str) -> None:
    result = run_cli("worker", "--queues", "emial", env=cli_env(DATABASE_URL=database_url))
    assert result.returncode == 2
    assert "unknown queue(s) emial" in result.stderr


def test_commands_on_an_unmigrated_database_say_to_migrate(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE alembic_version")
    for command in (["worker"], ["web"]):
        result = run_cli(*command, env=cli_env(DATABASE_URL=database_url))
        assert result.returncode == 1
        assert (
            result.stderr.strip()
            == "Error: the database is not migrated: run `hiring-jobs migrate`"
        )


def test_migrate_is_idempotent(database_url: str) -> None:
    env = cli_env(DATABASE_URL=database_url)
    first, second = run_cli("migrate", env=env), run_cli("migrate", env=env)
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout
    assert "is at revision" in first.stdout


@pytest.mark.slow
def test_worker_processes_share_the_queue_and_stop_on_sigterm(
    database_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_factory() as session, session.begin():
        user = make_user(session)
        batch_defer(
            session,
            tasks.record,
            [{"user_id": user.id, "message": str(n)} for n in range(200)],
        )
    env = cli_env(DATABASE_URL=database_url, HIRING_JOBS_TASK_MODULES="tests.support.tasks")
    log = tmp_path / "worker.log"
    worker = start_cli("worker", "--processes", "2", "--concurrency", "3", env=env, log=log)
    try:
        wait_for(
            lambda: _live_workers(session_factory) == 2,
            timeout=30,
            what="2 live workers",
            process=worker,
        )
        wait_for(
            lambda: _succeeded(session_factory) == 200, timeout=60, what="200 jobs", process=worker
        )
        with session_factory() as session:
            assert session.scalar(select(func.count()).select_from(Notification)) == 200
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, log.read_text()
    assert _live_workers(session_factory) == 0  # both processes unregistered on the way out


def _succeeded(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return sum(job["status"] == "succeeded" for job in jobs(session, "tests.record"))


def _live_workers(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return session.scalar(text("SELECT count(*) FROM procrastinate_workers")) or 0


def test_the_stock_procrastinate_cli_works_on_the_same_app(database_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "procrastinate", "--app=hiring_jobs.app.app", "healthchecks"],
        env=cli_env(DATABASE_URL=database_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Found procrastinate_jobs table: OK" in result.stdout
