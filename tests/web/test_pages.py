"""Overview, workers, cron tasks, mail outbox and audit log pages (and their API twins)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from flask.testing import FlaskClient
from procrastinate.periodic import PeriodicTask
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs import settings
from hiring_jobs.app import app as procrastinate_app
from hiring_jobs.models import AuditLogEntry, DeliveryStatus, EmailDelivery, JobAttempt
from tests.support.jobs import jobs
from tests.web.helpers import defer_jobs, failed_job, post, post_json

XSS = "<script>alert(1)</script>"


@procrastinate_app.task(name="tests.web.nightly", queue="maintenance")
def nightly(timestamp: int) -> None:
    """A cron task for these tests; registered as periodic only while a test runs."""


@pytest.fixture
def cron_task() -> Iterator[PeriodicTask]:
    periodic = PeriodicTask(task=nightly, cron="0 3 * * *", periodic_id="", configure_kwargs={})
    registry = procrastinate_app.periodic_registry.periodic_tasks
    registry[(nightly.name, "")] = periodic
    yield periodic
    del registry[(nightly.name, "")]


def add_worker(factory: sessionmaker[Session], heartbeat_age_seconds: float) -> int:
    with factory() as session:
        worker_id = session.scalar(
            text(
                "INSERT INTO procrastinate_workers (last_heartbeat)"
                " VALUES (now() - make_interval(secs => :age)) RETURNING id"
            ),
            {"age": heartbeat_age_seconds},
        )
        session.commit()
    assert worker_id is not None
    return worker_id


def run_on(factory: sessionmaker[Session], job_id: int, worker_id: int) -> None:
    with factory() as session:
        session.execute(
            text("UPDATE procrastinate_jobs SET status = 'doing', worker_id = :w WHERE id = :id"),
            {"w": worker_id, "id": job_id},
        )
        session.commit()


def test_the_overview_shows_queues_throughput_and_warnings(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    failed_job(session_factory, "boom")
    defer_jobs(session_factory, "tests.record", [{"user_id": 1, "message": "x"}] * 3)
    page = operator.get("/admin/")
    assert page.status_code == 200
    html = page.data.decode()
    assert 'href="/admin/jobs?queue=default&amp;status=todo">3</a>' in html
    assert "<svg" in html and "1 failed" in html
    assert "Queue default has 3 waiting jobs and no live worker." in html
    stats = operator.get("/api/stats").get_json()
    [default] = stats["queues"]
    assert default["counts"]["todo"]["value"] == 3 and default["counts"]["failed"]["value"] == 1
    assert stats["last_hour"] == {"succeeded": 0, "failed": 1, "finished": 1, "failure_rate": 1.0}
    assert default["oldest_waiting_seconds"] >= 0


def test_a_queue_with_a_live_worker_raises_no_warning(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    defer_jobs(session_factory, "tests.record", [{"user_id": 1, "message": "x"}])
    add_worker(session_factory, 1)
    warnings = operator.get("/api/stats").get_json()["warnings"]
    assert not [warning for warning in warnings if "Queue default" in warning]


@pytest.mark.parametrize(("heartbeat", "stalled"), [("10", False), ("2", True)])
def test_what_is_stalled_follows_the_heartbeat_setting_on_pages_and_in_retry(
    operator: FlaskClient,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    heartbeat: str,
    stalled: bool,
) -> None:
    """Silent for 20 s: live with 10 s heartbeats (stalled after 30 s), stalled with 2 s
    ones (after 6 s), for the pages and for retry alike, as for the rescue."""
    monkeypatch.setenv("HIRING_JOBS_HEARTBEAT_SECONDS", heartbeat)
    settings.get_settings.cache_clear()
    worker = add_worker(session_factory, 20)
    [job_id] = defer_jobs(session_factory, "tests.record", [{"user_id": 1, "message": "a"}])
    run_on(session_factory, job_id, worker)

    body = operator.get("/api/workers").get_json()
    assert [w["live"] for w in body["workers"]] == [not stalled]
    assert [job["id"] for job in body["stalled_jobs"]] == ([job_id] if stalled else [])
    retried = post_json(operator, f"/api/jobs/{job_id}/retry")
    assert retried.status_code == (200 if stalled else 409)


def test_workers_show_heartbeats_running_and_stalled_jobs(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    live = add_worker(session_factory, 2)
    silent = add_worker(session_factory, 120)
    first, second = defer_jobs(
        session_factory,
        "tests.record",
        [{"user_id": 1, "message": "a"}, {"user_id": 1, "message": "b"}],
    )
    run_on(session_factory, first, live)
    run_on(session_factory, second, silent)
    html = operator.get("/admin/workers").data.decode()
    assert f'id="worker-{live}"' in html and "live" in html and "stalled" in html
    assert f'href="/admin/jobs/{second}"' in html
    body = operator.get("/api/workers").get_json()
    by_id = {worker["id"]: worker for worker in body["workers"]}
    assert by_id[live]["live"] and not by_id[silent]["live"]
    assert [job["job_id"] for job in by_id[live]["running_jobs"]] == [first]
    assert [job["id"] for job in body["stalled_jobs"]] == [second]
    warnings = operator.get("/api/stats").get_json()["warnings"]
    assert "1 running jobs belong to workers that stopped heartbeating." in warnings


def test_worker_processes_come_from_recorded_attempts(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    failed_job(session_factory, "boom")
    [process] = operator.get("/api/workers").get_json()["processes_last_hour"]
    assert process["queues"] == ["default"] and process["pid"] > 0 and process["attempts"] == 1


def test_cron_tasks_show_schedule_next_runs_and_missed_ticks(
    operator: FlaskClient, session_factory: sessionmaker[Session], cron_task: PeriodicTask
) -> None:
    two_days_ago = int((datetime.now(UTC) - timedelta(days=2)).timestamp())
    with session_factory() as session:
        session.execute(
            text(
                "INSERT INTO procrastinate_periodic_defers"
                " (task_name, periodic_id, defer_timestamp)"
                " VALUES ('tests.web.nightly', '', :ts)"
            ),
            {"ts": two_days_ago},
        )
        session.commit()
    html = operator.get("/admin/periodic").data.decode()
    assert "tests.web.nightly" in html and "0 3 * * *" in html and "missed" in html
    [schedule] = [
        found
        for found in operator.get("/api/periodic").get_json()["periodic"]
        if found["task_name"] == "tests.web.nightly"
    ]
    assert len(schedule["next_runs"]) == 3
    assert all(run.endswith("T03:00:00+00:00") for run in schedule["next_runs"])
    assert schedule["missed_tick"] is not None
    warnings = operator.get("/api/stats").get_json()["warnings"]
    assert any("cron tasks missed their last tick" in warning for warning in warnings), warnings


def _nightly_schedule(client: FlaskClient) -> dict[str, object]:
    [found] = [
        schedule
        for schedule in client.get("/api/periodic").get_json()["periodic"]
        if schedule["task_name"] == "tests.web.nightly"
    ]
    return found


def _system_ran_since(factory: sessionmaker[Session], moment: datetime) -> None:
    """A job attempt that old: the system (and its scheduler) has run since then."""
    with factory() as session, session.begin():
        session.add(
            JobAttempt(
                job_id=1,
                attempt=1,
                task_name="tests.echo",
                queue="q",
                outcome="succeeded",
                started_at=moment,
            )
        )


def test_a_fresh_install_has_missed_no_tick_its_cron_tasks_are_not_due_yet(
    operator: FlaskClient, cron_task: PeriodicTask
) -> None:
    schedule = _nightly_schedule(operator)
    assert schedule["not_due_yet"] is True and schedule["missed_tick"] is None
    html = operator.get("/admin/periodic").data.decode()
    assert "not due yet" in html and "missed" not in html
    warnings = operator.get("/api/stats").get_json()["warnings"]
    assert not any("missed" in warning for warning in warnings), warnings


def test_a_cron_task_that_never_ran_while_the_system_did_is_missed(
    operator: FlaskClient, session_factory: sessionmaker[Session], cron_task: PeriodicTask
) -> None:
    _system_ran_since(session_factory, datetime.now(UTC) - timedelta(days=2))
    schedule = _nightly_schedule(operator)
    assert schedule["not_due_yet"] is False and schedule["missed_tick"] is not None


def test_run_now_records_a_last_run_and_the_task_is_no_longer_missed(
    operator: FlaskClient, session_factory: sessionmaker[Session], cron_task: PeriodicTask
) -> None:
    _system_ran_since(session_factory, datetime.now(UTC) - timedelta(days=2))
    assert _nightly_schedule(operator)["missed_tick"] is not None

    post(operator, "/admin/periodic/tests.web.nightly:/run")
    with session_factory() as session:
        [job] = jobs(session, "tests.web.nightly")
    schedule = _nightly_schedule(operator)
    assert schedule["last_job_id"] == job["id"] and schedule["last_run_at"] is not None
    assert schedule["missed_tick"] is None and schedule["not_due_yet"] is False


def test_run_now_defers_the_cron_task_and_is_audited(
    operator: FlaskClient, session_factory: sessionmaker[Session], cron_task: PeriodicTask
) -> None:
    assert post(operator, "/admin/periodic/tests.web.nightly:/run").status_code == 302
    with session_factory() as session:
        [job] = jobs(session, "tests.web.nightly")
        entry = session.scalars(
            select(AuditLogEntry).where(AuditLogEntry.action == "periodic.run_now")
        ).one()
    assert job["queue_name"] == "maintenance" and "timestamp" in job["args"]
    assert entry.details == {"job_id": job["id"]}
    assert post(operator, "/admin/periodic/nothing:/run").status_code == 404


def outbox_email(factory: sessionmaker[Session], html: str) -> int:
    message = EmailMessage()
    message["From"] = "Hiring Jobs <noreply@example.com>"
    message["To"] = "ada@example.com"
    message["Subject"] = "Your application"
    message.set_content("Plain text <b>body</b>")
    message.add_alternative(html, subtype="html")
    with factory() as session:
        delivery = EmailDelivery(
            idempotency_key="k1",
            recipient="ada@example.com",
            subject="Your application",
            template="application_status",
            status=DeliveryStatus.OUTBOX,
            raw_message=message.as_string(),
        )
        session.add(delivery)
        session.commit()
        return delivery.id


def test_the_outbox_renders_html_mail_only_inside_a_sandboxed_iframe(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    delivery_id = outbox_email(session_factory, f"<p>Hello</p>{XSS}")
    listing = operator.get("/admin/outbox").data.decode()
    assert f'href="/admin/outbox/{delivery_id}"' in listing and "Your application" in listing
    html = operator.get(f"/admin/outbox/{delivery_id}").data.decode()
    assert XSS not in html
    assert '<iframe class="mail" sandbox=""' in html
    assert 'srcdoc="&lt;p&gt;Hello&lt;/p&gt;&lt;script&gt;' in html
    assert "Plain text &lt;b&gt;body&lt;/b&gt;" in html
    assert operator.get("/api/outbox").get_json()["emails"][0]["id"] == delivery_id
    assert operator.get("/admin/outbox/999").status_code == 404


def test_the_audit_log_page_lists_actions(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    [job_id] = defer_jobs(session_factory, "tests.record", [{"user_id": 1, "message": "x"}])
    post(operator, f"/admin/jobs/{job_id}/cancel")
    html = operator.get("/admin/audit").data.decode()
    assert "job.cancel" in html and f"job {job_id}" in html and "auth.login" in html
    entries = operator.get("/api/audit").get_json()["entries"]
    assert [e["action"] for e in entries][:2] == ["job.cancel", "auth.login"]
    assert entries[0]["actor"] == "admin" and entries[0]["job_count"] == 1


def test_pages_refresh_themselves_keeping_the_query_string(operator: FlaskClient) -> None:
    html = operator.get("/admin/jobs?status=failed&queue=email").data.decode()
    assert 'data-refresh="10"' in html and "data-live" in html
    assert '<script src="/static/app.js" defer></script>' in html
    script = operator.get("/static/app.js").data.decode()
    assert "fetch(window.location.href" in script
