"""The explanation of a waiting job on its page, in /api/jobs/<id>/why and from the CLI,
and the overview's list of queues with waiting jobs and no worker."""

from __future__ import annotations

from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.cli import main
from hiring_jobs.models import AttemptOutcome, JobAttempt
from hiring_jobs.queue import control
from tests.support.jobs import live_worker
from tests.web.helpers import defer_jobs


def _in_backoff(factory: sessionmaker[Session], error_message: str) -> int:
    [job_id] = defer_jobs(factory, "tests.echo", [{"value": 1}])
    with factory() as session:
        session.add(
            JobAttempt(
                job_id=job_id, attempt=1, task_name="tests.echo", queue="default",
                outcome=AttemptOutcome.FAILED, exception_type="SMTPRecipientsRefused",
                error_message=error_message,
            )
        )  # fmt: skip
        session.execute(
            text("UPDATE procrastinate_jobs SET attempts = 1,"
                 " scheduled_at = now() + interval '1 hour' WHERE id = :id"),
            {"id": job_id},
        )  # fmt: skip
        session.commit()
    return job_id


def test_the_page_of_a_waiting_job_says_what_holds_it(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    [job_id] = defer_jobs(session_factory, "tests.echo", [{"value": 1}])
    with session_factory() as session:
        control.pause(session, "default", by="alice")
        session.commit()
    page = operator.get(f"/admin/jobs/{job_id}").data.decode()
    assert "Why is this job not running?" in page
    assert 'data-reason="queue_paused">its queue default is paused by alice' in page


def test_the_api_explains_and_masks_the_error_text(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    job_id = _in_backoff(session_factory, "mailbox jane.doe@example.com refused")
    body = operator.get(f"/api/jobs/{job_id}/why").get_json()
    assert body["waiting"] is True and body["status"] == "todo"
    reason, no_worker = body["reasons"]
    assert no_worker["code"] == "no_worker", "and no worker runs in this test"
    assert reason["code"] == "retry_backoff" and reason["until"]
    assert reason["message"].endswith("after SMTPRecipientsRefused")
    assert "jane.doe@example.com" not in str(body), "masked"
    assert operator.get("/api/jobs/999999999/why").status_code == 404


def test_the_cli_explains_a_waiting_job(session_factory: sessionmaker[Session]) -> None:
    job_id = _in_backoff(session_factory, "server busy")
    result = CliRunner().invoke(main, ["jobs", "why", str(job_id)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"job {job_id} on queue default is todo:\n  - waiting to retry")
    lines = result.output.splitlines()
    assert lines[1].endswith("after SMTPRecipientsRefused: server busy")
    assert lines[2] == "  - no live worker serves queue default"
    missing = CliRunner().invoke(main, ["jobs", "why", "999999999"])
    assert missing.exit_code == 1 and "no job 999999999" in missing.output


def test_the_overview_lists_queues_with_waiting_jobs_and_no_worker(
    operator: FlaskClient, session_factory: sessionmaker[Session], database_url: str
) -> None:
    defer_jobs(session_factory, "tests.echo", [{"value": 1}])  # queue default
    live_worker(database_url, "email=2", "host-1-0")
    warnings = operator.get("/api/stats").get_json()["warnings"]
    assert "Queue default has 1 waiting jobs and no live worker serving it." in warnings
    assert not [w for w in warnings if "Queue email" in w]
    live_worker(database_url, "default=2", "host-2-0")
    warnings = operator.get("/api/stats").get_json()["warnings"]
    assert not [w for w in warnings if "Queue default" in w]
