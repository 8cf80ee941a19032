"""Dead-letter pages and API over hiring_jobs.queue.operations."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import AuditLogEntry, DeadLetterReview
from tests.support.jobs import jobs
from tests.web.helpers import defer_jobs, post, post_json, run_worker_in_thread


def fail_many(factory: sessionmaker[Session], *messages: str) -> list[int]:
    ids = defer_jobs(factory, "tests.fail", [{"message": message} for message in messages])
    run_worker_in_thread()
    return ids


def test_failures_are_grouped_by_task_and_error(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    fail_many(session_factory, "user 1 not found", "user 2 not found", "disk full")
    html = operator.get("/admin/dead-letters").data.decode()
    assert "3 pending" in html and "RuntimeError" in html
    groups = operator.get("/api/dead-letters/groups").get_json()["groups"]
    assert sorted(group["count"] for group in groups) == [1, 2]
    big = max(groups, key=lambda group: group["count"])
    assert big["first_seen"] <= big["last_seen"]
    listing = operator.get(
        "/admin/dead-letters/jobs",
        query_string={"task": "tests.fail", "fingerprint": big["error_fingerprint"]},
    ).data.decode()
    assert listing.count('href="/admin/dead-letters/') == 2


def test_retry_a_whole_group_requeues_each_job_once(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    originals = fail_many(session_factory, "user 1 not found", "user 2 not found")
    [group] = operator.get("/api/dead-letters/groups").get_json()["groups"]
    response = post(
        operator,
        "/admin/dead-letters/group/retry",
        {"task": "tests.fail", "fingerprint": group["error_fingerprint"], "notes": "fixed"},
    )
    assert response.status_code == 302
    assert b"Re-queued 2 failed jobs." in operator.get(response.headers["Location"]).data
    with session_factory() as session:
        todo = [job for job in jobs(session, "tests.fail") if job["status"] == "todo"]
        reviews = session.scalars(select(DeadLetterReview).order_by(DeadLetterReview.job_id)).all()
        audit = session.scalars(
            select(AuditLogEntry).where(AuditLogEntry.action == "dlq.retry_group")
        ).one()
    assert len(todo) == 2
    assert [review.job_id for review in reviews] == originals
    assert {review.retry_job_id for review in reviews} == {job["id"] for job in todo}
    assert (audit.actor, audit.job_count) == ("admin", 2)
    assert operator.get("/api/dead-letters/groups").get_json()["groups"] == []


def test_review_one_failure_with_notes_and_see_the_history(
    operator: FlaskClient, viewer: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    [job_id] = fail_many(session_factory, "bad input")
    assert post(viewer, f"/admin/dead-letters/{job_id}/discard").status_code == 403
    response = post(operator, f"/admin/dead-letters/{job_id}/discard", {"notes": "<b>spam</b>"})
    assert response.status_code == 302
    history = operator.get("/admin/dead-letters/history").data.decode()
    assert "discarded" in history and "&lt;b&gt;spam&lt;/b&gt;" in history
    body = operator.get(f"/api/dead-letters/{job_id}").get_json()
    assert [r["action"] for r in body["reviews"]] == ["discarded"]
    assert operator.get("/api/dead-letters/stats").get_json()["pending"] == 0


def test_the_dead_letter_api_retries_and_refuses_a_second_retry(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    [job_id] = fail_many(session_factory, "flaky")
    first = post_json(operator, f"/api/dead-letters/{job_id}/retry", {"notes": "again"})
    assert first.status_code == 200 and first.get_json()["retry_job_id"] > job_id
    second = post_json(operator, f"/api/dead-letters/{job_id}/retry")
    assert second.status_code == 409
    assert "already retried" in second.get_json()["error"]
    assert operator.get("/api/dead-letters/424242").status_code == 404


def test_discarding_a_group_by_api(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    fail_many(session_factory, "a", "b")
    response = post_json(operator, "/api/dead-letters/groups/discard", {"task": "tests.fail"})
    assert response.get_json()["count"] == 2
    assert post_json(operator, "/api/dead-letters/groups/discard", {}).status_code == 400
