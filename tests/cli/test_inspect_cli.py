"""`hiring-jobs inspect` and `hiring-jobs purge`: Celery's operations, on real PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.cli import main
from hiring_jobs.models import AuditLogEntry
from hiring_jobs.queue.defer import defer
from tests.support.jobs import jobs, run_worker_until_idle
from tests.support.processes import cli_env, start_cli, wait_for
from tests.web.helpers import defer_jobs


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def as_json(*args: str) -> Any:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def hanging_job(
    database_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> Iterator[int]:
    """A job running in a real worker process until the test ends."""
    with session_factory() as session, session.begin():
        # Runs far longer than the test, well within its time limits.
        job_id = defer(
            session, "tests.timed_run", log=str(tmp_path / "runs.log"), key="k", seconds=600
        )
    env = cli_env(
        DATABASE_URL=database_url,
        HIRING_JOBS_TASK_MODULES="tests.support.tasks",
        HIRING_JOBS_WORKER_PROCESSES="1",
    )
    worker = start_cli("worker", env=env, log=tmp_path / "worker.log")
    try:
        wait_for(
            lambda: any(job["job_id"] == job_id for job in as_json("inspect", "active")),
            timeout=60,
            what="the job to start",
            process=worker,
        )
        yield job_id
    finally:
        worker.kill()
        worker.wait()


@pytest.mark.slow
def test_active_shows_each_running_job_with_its_worker_process_and_runtime(
    hanging_job: int,
) -> None:
    # The worker's own cron jobs (the rescue, the rollup) may be running too.
    [running] = [job for job in as_json("inspect", "active") if job["job_id"] == hanging_job]
    assert running["task_name"] == "tests.timed_run"
    assert running["worker_name"] and running["pid"] and running["worker_id"]
    assert running["runtime_seconds"] >= 0

    shown = invoke("inspect", "active").stdout.splitlines()
    assert shown[0].split() == [
        "JOB", "TASK", "QUEUE", "WORKER", "PROCESS", "HOST", "PID", "STARTED", "(UTC)", "RUNTIME"
    ]  # fmt: skip
    assert [str(hanging_job), "tests.timed_run", "default"] in [row.split()[:3] for row in shown]


def test_active_says_so_when_nothing_runs(database_url: str) -> None:
    assert invoke("inspect", "active").stdout == "no job is running\n"


def test_scheduled_lists_jobs_due_later_soonest_first_with_personal_data_masked(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        later = defer(
            session,
            "tests.record",
            options={"schedule_in": {"hours": 2}},
            user_id=1,
            message="write to ada.lovelace@example.com",
        )
        sooner = defer(
            session, "tests.record", options={"schedule_in": {"minutes": 5}}, user_id=2, message=""
        )
        defer(session, "tests.record", user_id=3, message="due now: not scheduled")

    assert [job["id"] for job in as_json("inspect", "scheduled")] == [sooner, later]
    shown = invoke("inspect", "scheduled").stdout
    assert "a***@e***.com" in shown and "ada.lovelace" not in shown
    assert shown.index(f"\n{sooner:>3}") < shown.index(f"\n{later:>3}")


def test_registered_shows_every_tasks_declaration_limits_mode_and_cron(
    database_url: str,
) -> None:
    listed = as_json("inspect", "registered")
    tasks = {task["name"]: task for task in listed}
    assert tasks["resume.parse"] == {
        "name": "resume.parse",
        "queue": "resume",
        "priority": 50,
        "retry": "3 x backoff 60-600 s, jitter",
        "soft_limit": 45,
        "hard_limit": 60,
        "mode": "process",
        "store_result": True,
        "key": "import=group_id (max 4 running)",
        "cron": [],
        "file": tasks["resume.parse"]["file"],
    }
    assert tasks["resume.parse"]["file"].startswith("hiring_jobs/tasks/resume.py:")
    assert tasks["queue.rescue_stalled_jobs"]["mode"] == "async"
    assert as_json("tasks") == listed, "`hiring-jobs tasks` is the same list"
    assert tasks["email.send_welcome"]["retry"].startswith("5 x")
    assert tasks["email.send_welcome"]["key"] is None
    assert tasks["email.send_job_match"]["key"] == "recipient=user_id (6/min, burst 3)"
    assert tasks["queue.rollup_throughput"]["cron"] == ["* * * * *"]
    assert (tasks["analytics.generate_daily_stats"]["hard_limit"]) == 600
    assert "queue.rescue_stalled_jobs" in invoke("inspect", "registered").stdout


def test_stats_gives_per_queue_per_worker_and_last_hour_figures(
    session_factory: sessionmaker[Session],
) -> None:
    defer_jobs(session_factory, "tests.echo", [{"value": 1}, {"value": 2}])
    defer_jobs(session_factory, "tests.fail", [{"message": "boom"}])
    run_worker_until_idle()
    defer_jobs(session_factory, "tests.echo", [{"value": 3}])  # waiting

    found = as_json("inspect", "stats")
    [default] = [queue for queue in found["queues"] if queue["queue"] == "default"]
    counts = {status: count["value"] for status, count in default["counts"].items()}
    assert counts == {
        "todo": 1,
        "doing": 0,
        "succeeded": 2,
        "failed": 1,
        "cancelled": 0,
        "aborted": 0,
    }
    assert default["oldest_waiting_seconds"] is not None
    [process] = found["processes"]
    assert process["attempts"] == 3 and process["queues"] == ["default"]
    assert found["last_hour"]["failed"] == 1

    shown = invoke("inspect", "stats").stdout
    assert "QUEUE" in shown and "OLDEST WAITING" in shown and "failure rate 33.3%" in shown


@pytest.mark.slow
def test_stats_names_each_live_workers_process_and_slots(hanging_job: int) -> None:
    [worker] = [w for w in as_json("inspect", "stats")["workers"] if w["live"]]
    process = worker["process"]
    assert process["worker_name"] and process["pid"] and process["concurrency"] >= 1
    assert "*" in process["slots"] and process["pool"]["processes"] == 1
    shown = invoke("inspect", "stats").stdout
    assert "SLOTS" in shown and f"{process['concurrency']} (" in shown


def _waiting(factory: sessionmaker[Session], queue: str, count: int) -> list[int]:
    with factory() as session, session.begin():
        return [
            defer(session, "tests.record", options={"queue": queue}, user_id=n, message="")
            for n in range(count)
        ]


def _statuses(factory: sessionmaker[Session]) -> dict[int, str]:
    with factory() as session:
        return {job["id"]: job["status"] for job in jobs(session)}


def test_purge_shows_the_count_then_cancels_the_waiting_jobs_of_one_queue(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    doomed = _waiting(session_factory, "email", 3)
    kept = _waiting(session_factory, "resume", 2)
    monkeypatch.setattr("hiring_jobs.inspect_cli.can_ask", lambda: True)  # a person at a terminal

    declined = invoke("purge", "--queue", "email", input="n\n")
    assert "queue email: 3 todo jobs to cancel" in declined.output
    assert declined.exit_code == 1 and "nothing purged" in declined.output
    assert set(_statuses(session_factory).values()) == {"todo"}

    confirmed = invoke("purge", "--queue", "email", "--by", "ana", input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert "cancelled 3 todo jobs of queue email" in confirmed.stdout
    statuses = _statuses(session_factory)
    assert [statuses[job_id] for job_id in doomed] == ["cancelled"] * 3
    assert [statuses[job_id] for job_id in kept] == ["todo"] * 2
    with session_factory() as session:
        [entry] = session.scalars(select(AuditLogEntry))
    assert (entry.actor, entry.action, entry.job_count) == ("ana", "jobs.bulk_cancel", 3)


def test_purge_refuses_without_a_terminal_unless_told_yes(
    session_factory: sessionmaker[Session],
) -> None:
    _waiting(session_factory, "email", 2)
    refused = invoke("purge", "--queue", "email")
    assert refused.exit_code == 1
    assert "no terminal to ask on (pass --yes)" in refused.output
    assert set(_statuses(session_factory).values()) == {"todo"}

    done = invoke("purge", "--queue", "email", "--yes")
    assert done.exit_code == 0 and "cancelled 2 todo jobs" in done.stdout


def test_purge_of_finished_jobs_deletes_them_and_never_touches_running_ones(
    session_factory: sessionmaker[Session],
) -> None:
    finished = _waiting(session_factory, "email", 2)
    [running] = _waiting(session_factory, "email", 1)
    with session_factory() as session, session.begin():
        session.execute(
            text(
                "UPDATE procrastinate_jobs SET status = CASE WHEN id = :running"
                " THEN 'doing' ELSE 'succeeded' END::procrastinate_job_status"
            ),
            {"running": running},
        )
    result = invoke("purge", "--queue", "email", "--status", "succeeded", "--yes")
    assert "queue email: 2 succeeded jobs to delete" in result.stdout
    assert "deleted 2 succeeded jobs of queue email" in result.stdout
    assert set(_statuses(session_factory)) == {running} and running not in finished


def test_purge_with_nothing_to_do_says_so(database_url: str) -> None:
    result = invoke("purge", "--queue", "email", "--yes")
    assert result.exit_code == 0 and result.stdout == "queue email: 0 todo jobs to cancel\n"
