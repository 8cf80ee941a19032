"""GET /health: 200 while the database answers, 503 with the reason when it does not."""

from __future__ import annotations

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
