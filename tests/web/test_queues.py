"""The Queues pages and /api/queues: state, pause, resume and slots, behind login and CSRF,
audited."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import AuditLogEntry, QueueSetting
from tests.web.helpers import defer_jobs, post, post_json


def _setting(factory: sessionmaker[Session], queue: str) -> tuple[bool, int | None] | None:
    with factory() as session:
        found = session.scalars(
            select(QueueSetting).where(QueueSetting.queue_name == queue)
        ).one_or_none()
        return (found.paused, found.concurrency) if found else None


def test_an_operator_pauses_limits_and_resumes_a_queue_from_its_page(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    defer_jobs(session_factory, "tests.echo", [{"value": 1}])
    page = operator.get("/admin/queues/default")
    assert page.status_code == 200
    assert b"No live worker serves default: its 1 waiting jobs will not start" in page.data

    response = post(operator, "/admin/queues/default/pause")
    assert response.status_code == 302 and response.location.endswith("/admin/queues/default")
    assert _setting(session_factory, "default") == (True, None)
    assert b"paused" in operator.get("/admin/queues/default").data
    assert b"Queue default is paused" in operator.get("/admin/").data, "the overview warns"

    assert post(operator, "/admin/queues/default/limit", {"slots": "2"}).status_code == 302
    assert _setting(session_factory, "default") == (True, 2)
    assert post(operator, "/admin/queues/default/resume").status_code == 302
    assert post(operator, "/admin/queues/default/limit", {"slots": ""}).status_code == 302
    assert _setting(session_factory, "default") == (False, None)
    with session_factory() as session:
        audited = session.execute(
            select(AuditLogEntry.actor, AuditLogEntry.action)
            .where(AuditLogEntry.action.like("queue.%"))
            .order_by(AuditLogEntry.id)
        ).all()
    assert [tuple(row) for row in audited] == [
        ("admin", "queue.pause"), ("admin", "queue.limit"),
        ("admin", "queue.resume"), ("admin", "queue.limit"),
    ]  # fmt: skip


def test_the_list_shows_every_queue_and_flags_waiting_jobs_no_worker_serves(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    defer_jobs(session_factory, "tests.echo", [{"value": 1}])
    page = operator.get("/admin/queues").data.decode()
    for queue in ("email", "resume", "default"):
        assert f'data-queue="{queue}"' in page
    assert 'class="warn-row" data-queue="default"' in page
    assert 'class="warn-row" data-queue="email"' not in page, "nothing waits in email"


def test_a_viewer_reads_but_cannot_act_and_forms_need_their_csrf_token(
    viewer: FlaskClient, operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    assert viewer.get("/admin/queues").status_code == 200
    assert b"Pause" not in viewer.get("/admin/queues").data
    assert post(viewer, "/admin/queues/email/pause").status_code == 403
    assert operator.post("/admin/queues/email/pause").status_code == 400, "no CSRF token"
    assert viewer.post("/api/queues/email/pause", json={}).status_code in (400, 403)
    assert _setting(session_factory, "email") is None


def test_bad_input_is_a_4xx_never_a_500(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    assert operator.get("/admin/queues/no-such-queue").status_code == 404
    assert operator.get("/api/queues/no-such-queue").status_code == 404
    assert post(operator, "/admin/queues/email/limit", {"slots": "-3"}).status_code == 400
    assert post(operator, "/admin/queues/email/limit", {"slots": "99999"}).status_code == 400
    flashed = post(operator, "/admin/queues/no-such-queue/pause")
    assert flashed.status_code == 302
    assert post_json(operator, "/api/queues/email/limit", {"slots": "3"}).status_code == 400
    assert post_json(operator, "/api/queues/email/limit", {"slots": 5000}).status_code == 400
    assert post_json(operator, "/api/queues/email/limit", {}).status_code == 400
    gone = post_json(operator, "/api/queues/email/pause", {"worker": "host-1-0"})
    assert gone.status_code == 400 and "no live worker" in gone.get_json()["error"]
    with session_factory() as session:
        assert session.scalar(text("SELECT count(*) FROM queue_settings")) == 0
        assert (
            session.scalar(text("SELECT count(*) FROM audit_log WHERE action LIKE 'queue.%'")) == 0
        )


def test_the_api_lists_queues_and_changes_them(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    listed = operator.get("/api/queues").get_json()["queues"]
    assert {q["name"] for q in listed} >= {"email", "resume", "default"}
    paused = post_json(operator, "/api/queues/email/pause")
    assert paused.status_code == 200
    assert paused.get_json()["paused"] is True and paused.get_json()["name"] == "email"
    limited = post_json(operator, "/api/queues/email/limit", {"slots": 0})
    assert limited.get_json()["limit"] == 0
    assert operator.get("/api/queues/email").get_json()["limit"] == 0
    resumed = post_json(operator, "/api/queues/email/resume")
    assert resumed.get_json()["paused"] is False
    assert _setting(session_factory, "email") == (False, 0)
