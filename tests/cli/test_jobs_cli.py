"""`hiring-jobs jobs`: the admin UI's jobs list, detail and actions from a terminal."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.cli import main
from hiring_jobs.models import AuditLogEntry
from tests.support.jobs import jobs
from tests.support.processes import cli_env, run_cli
from tests.web.helpers import defer_jobs, failed_job


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def listed(*args: str) -> list[dict[str, Any]]:
    result = invoke("jobs", "list", *args, "--json")
    assert result.exit_code == 0, result.output
    found: list[dict[str, Any]] = json.loads(result.stdout)["jobs"]
    return found


def ids(*args: str) -> list[int]:
    return [job["id"] for job in listed(*args)]


def test_list_filters_like_the_admin_page(session_factory: sessionmaker[Session]) -> None:
    refused = failed_job(session_factory, "SMTP 550: mailbox unavailable")
    unreadable = failed_job(session_factory, "the upload is not a PDF")
    [waiting] = defer_jobs(session_factory, "tests.echo", [{"value": 1}])
    [rollup] = defer_jobs(session_factory, "queue.rollup_throughput", [{"timestamp": 0}])

    assert ids() == [waiting, unreadable, refused]  # housekeeping hidden by default
    assert ids("--housekeeping")[0] == rollup
    assert ids("--task", "ROLLUP") == [rollup]  # part of a name, any case
    assert ids("--task", "fai") == [unreadable, refused]
    assert ids("--search", "smtp 550") == [refused]  # in the error message
    assert ids("--search", "RuntimeError") == [unreadable, refused]  # or its type
    assert ids("--status", "todo") == [waiting]
    assert ids("--args", "value=1") == [waiting]
    assert ids("--limit", "1", "--before", str(unreadable)) == [refused]


def test_list_is_an_aligned_table_with_the_latest_attempt_and_a_capped_count(
    session_factory: sessionmaker[Session],
) -> None:
    failed = failed_job(session_factory, "relay down")
    header, row, footer = invoke("jobs", "list").stdout.splitlines()
    assert header.split() == [
        "ID", "TASK", "QUEUE", "STATUS", "ATT", "DEFERRED", "(UTC)", "STARTED", "(UTC)",
        "RUNTIME", "WORKER", "LAST", "ERROR",
    ]  # fmt: skip
    assert row.split()[:5] == [str(failed), "tests.fail", "default", "failed", "1"]
    assert row.endswith("relay down") and " ms " in row
    assert row.index("tests.fail") == header.index("TASK")
    assert footer == "1 jobs match"
    [job] = listed()
    assert job["worker_name"] and job["started_at"] and job["runtime_ms"] is not None


def test_a_bad_filter_is_a_usage_error(database_url: str) -> None:
    result = invoke("jobs", "list", "--args", "not a search")
    assert result.exit_code == 2
    assert "arguments search looks like application_id=123" in result.output


def test_show_tells_the_whole_story_with_personal_data_masked(
    session_factory: sessionmaker[Session],
) -> None:
    job_id = failed_job(session_factory, "Ada Lovelace <ada@example.com> refused the message")

    shown = invoke("jobs", "show", str(job_id)).stdout
    assert f"job {job_id}: tests.fail on queue default, failed" in shown
    assert "deferred" in shown and "attempt 1: failed" in shown
    assert "raise RuntimeError(message)" in shown  # the traceback
    for output in (shown, invoke("jobs", "show", str(job_id), "--json").stdout):
        assert "ada@example.com" not in output and "Ada Lovelace" not in output
        assert "a***@e***.com" in output


def test_show_of_an_unknown_job_fails_clearly(database_url: str) -> None:
    result = invoke("jobs", "show", "424242")
    assert result.exit_code == 1 and "no job 424242" in result.output


def test_retry_and_cancel_use_the_pages_actions_and_are_audited(
    session_factory: sessionmaker[Session],
) -> None:
    failed = failed_job(session_factory, "relay down")
    [waiting] = defer_jobs(session_factory, "tests.echo", [{"value": 1}])

    assert invoke("jobs", "retry", str(failed), "--by", "ana").exit_code == 0
    cancelled = invoke("jobs", "cancel", str(waiting), "--by", "ana")
    assert cancelled.stdout == f"job {waiting} is cancelled\n"
    with session_factory() as session:
        statuses = {job["id"]: job["status"] for job in jobs(session)}
        entries = session.scalars(select(AuditLogEntry).order_by(AuditLogEntry.id)).all()
    assert statuses == {failed: "todo", waiting: "cancelled"}
    assert [(e.actor, e.action, e.target) for e in entries] == [
        ("ana", "job.retry", f"job {failed}"),
        ("ana", "job.cancel", f"job {waiting}"),
    ]


def test_an_action_on_a_job_in_the_wrong_state_fails_with_the_reason(
    database_url: str, session_factory: sessionmaker[Session]
) -> None:
    [waiting] = defer_jobs(session_factory, "tests.echo", [{"value": 1}])
    result = run_cli("jobs", "retry", str(waiting), env=cli_env(DATABASE_URL=database_url))
    assert result.returncode == 1
    assert f"job {waiting} cannot be retried: only failed jobs" in result.stderr
