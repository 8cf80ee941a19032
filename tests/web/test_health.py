"""GET /health: 200 while the database answers, 503 with the reason when it does not."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from tests.web.helpers import defer_jobs, failed_job
from web import create_app


def test_health_is_ok_with_a_database(database_url: str) -> None:
    client = create_app({"TESTING": True}).test_client()
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["database_latency_ms"] >= 0


def test_health_is_503_with_a_reason_when_the_database_is_unreachable(database_url: str) -> None:
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    app = create_app({"TESTING": True, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    response = app.test_client().get("/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert "refused" in body["reason"].lower() or "connect" in body["reason"].lower()


def test_landing_page_renders(database_url: str) -> None:
    response = create_app({"TESTING": True}).test_client().get("/")
    assert response.status_code == 200
    assert b"hiring_jobs" in response.data


def test_detailed_health_reports_workers_queues_and_dead_letters(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    failed_job(session_factory, "boom")
    defer_jobs(session_factory, "tests.record", [{"user_id": 1, "message": "x"}] * 2)
    body = operator.get("/health/detailed").get_json()
    assert body["status"] == "degraded"  # jobs wait and no worker runs
    components = body["components"]
    assert components["database"]["latency_ms"] >= 0
    assert components["workers"] == {
        "status": "unhealthy",
        "workers_count": 0,
        "workers": [],
        "stalled_workers": 0,
        "active_tasks": 0,
        "stalled_jobs": 0,
    }
    assert components["queues"]["depths"]["default"]["value"] == 2
    assert components["queues"]["oldest_pending_seconds"] >= 0
    assert components["dead_letters"]["pending"]["value"] == 1


def test_metrics_are_prometheus_text(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    failed_job(session_factory, "boom")
    defer_jobs(session_factory, "tests.record", [{"user_id": 1, "message": "x"}] * 2)
    response = operator.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    lines = response.data.decode().splitlines()
    assert 'hiring_jobs_jobs{queue="default",status="todo"} 2' in lines
    assert (
        'hiring_jobs_attempts_last_hour{queue="default",task="tests.fail",outcome="failed"} 1'
        in lines
    )
    assert (
        'hiring_jobs_attempt_duration_seconds_count{queue="default",task="tests.fail"} 1' in lines
    )
    assert "hiring_jobs_dead_letters_pending 1" in lines
    assert "# TYPE hiring_jobs_attempt_duration_seconds histogram" in lines
    samples = [line for line in lines if line and not line.startswith("#")]
    assert all(len(line.rsplit(" ", 1)) == 2 for line in samples)
