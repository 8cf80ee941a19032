"""Maintenance against real PostgreSQL: tokens, job retention in batches, health readings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from hiring_jobs.models import (
    AuthToken,
    DeadLetterReview,
    HealthCheck,
    JobAttempt,
    ReviewAction,
    TokenPurpose,
)
from hiring_jobs.services import maintenance
from tests.support.factories import make_user

NOW = datetime.now(UTC)


def _job(session: Session, status: str, *, finished: datetime, queue: str = "default") -> int:
    """A job as Procrastinate leaves it: a deferred event, then one per status change."""
    job_id = session.scalar(
        text(
            "INSERT INTO procrastinate_jobs (queue_name, task_name) VALUES (:queue, 't')"
            " RETURNING id"
        ),
        {"queue": queue},
    )
    if status != "todo":
        session.execute(
            text("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = :id"), {"id": job_id}
        )
    if status not in ("todo", "doing"):
        session.execute(
            text(
                "UPDATE procrastinate_jobs SET status = CAST(:s AS procrastinate_job_status)"
                " WHERE id = :id"
            ),
            {"id": job_id, "s": status},
        )
    session.execute(
        text("UPDATE procrastinate_events SET at = :at WHERE job_id = :id"),
        {"id": job_id, "at": finished},
    )
    return int(job_id)


def _count(session: Session, table: str) -> int:
    return int(session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


def _ids(session: Session) -> set[int]:
    return set(session.scalars(text("SELECT id FROM procrastinate_jobs")))


def test_expired_tokens_are_deleted(session: Session) -> None:
    user = make_user(session)
    for n, expires in enumerate((NOW - timedelta(minutes=1), NOW + timedelta(hours=1))):
        session.add(
            AuthToken(
                user_id=user.id,
                purpose=TokenPurpose.PASSWORD_RESET,
                token_hash=f"{n:064d}",
                expires_at=expires,
            )
        )
    session.flush()

    assert maintenance.delete_expired_tokens(session, NOW) == 1
    assert maintenance.delete_expired_tokens(session, NOW) == 0
    assert session.scalar(select(func.count()).select_from(AuthToken)) == 1


def test_finished_jobs_past_retention_go_with_their_history(session: Session) -> None:
    old = NOW - timedelta(days=40)
    doomed = [_job(session, s, finished=old) for s in ("succeeded", "failed", "aborted")]
    doomed.append(_job(session, "cancelled", finished=old))
    kept = [
        _job(session, "succeeded", finished=NOW - timedelta(days=5)),
        _job(session, "todo", finished=old),
        _job(session, "doing", finished=old),
    ]
    for job_id in (doomed[1], kept[0]):
        session.add(
            JobAttempt(
                job_id=job_id, attempt=1, task_name="t", queue="default", outcome="succeeded"
            )
        )
        session.add(DeadLetterReview(job_id=job_id, action=ReviewAction.RESOLVED, reviewed_by="a"))
    session.execute(
        text(
            "INSERT INTO procrastinate_periodic_defers (task_name, defer_timestamp, job_id)"
            " VALUES ('t', 1, :id)"
        ),
        {"id": doomed[0]},
    )
    session.flush()
    cutoff = NOW - timedelta(days=30)

    batches = [maintenance.purge_finished_jobs(session, cutoff, limit=3) for _ in range(3)]

    assert batches == [3, 1, 0]
    assert _ids(session) == set(kept)
    assert set(session.scalars(select(JobAttempt.job_id))) == {kept[0]}
    assert set(session.scalars(select(DeadLetterReview.job_id))) == {kept[0]}
    events = set(session.scalars(text("SELECT DISTINCT job_id FROM procrastinate_events")))
    assert events == set(kept)
    # The tick record stays (it is what stops a second defer of that tick), unlinked.
    assert session.execute(text("SELECT job_id FROM procrastinate_periodic_defers")).all() == [
        (None,)
    ]


def _worker(session: Session, heartbeat: datetime) -> int:
    return int(
        session.scalar(
            text("INSERT INTO procrastinate_workers (last_heartbeat) VALUES (:at) RETURNING id"),
            {"at": heartbeat},
        )
    )


def _set(session: Session, job_id: int, **values: Any) -> None:
    assignments = ", ".join(f"{name} = :{name}" for name in values)
    session.execute(
        text(f"UPDATE procrastinate_jobs SET {assignments} WHERE id = :id"),
        {"id": job_id, **values},
    )


def test_a_health_reading(session: Session) -> None:
    now = datetime.now(UTC)  # heartbeats are compared with the database's clock
    live, dead = _worker(session, now), _worker(session, now - timedelta(minutes=5))
    for queue in ("email", "email", "resume"):
        _job(session, "todo", finished=now - timedelta(minutes=10), queue=queue)
    later = _job(session, "todo", finished=now)
    _set(session, later, scheduled_at=now + timedelta(hours=1))  # not due: not pending
    healthy, stale, _no_worker = (_job(session, "doing", finished=now) for _ in range(3))
    _set(session, healthy, worker_id=live)
    _set(session, stale, worker_id=dead)

    health = maintenance.read_health(session)

    assert health.queue_depths["email"] == 2 and health.queue_depths["resume"] == 1
    assert health.queue_depths["default"] == 1 and health.queue_depths["analytics"] == 0
    assert (health.live_workers, health.stalled_jobs) == (1, 2)  # stale and orphan
    assert health.oldest_pending_seconds is not None
    assert 590 < health.oldest_pending_seconds < 700
    assert health.database_latency_ms > 0


def test_an_empty_queue_has_no_oldest_pending_job(session: Session) -> None:
    health = maintenance.read_health(session)
    assert health.oldest_pending_seconds is None and health.live_workers == 0


def test_one_reading_per_tick(session: Session) -> None:
    tick = NOW - timedelta(minutes=1)
    first, created = maintenance.record_health(session, tick)
    again, created_again = maintenance.record_health(session, tick)
    manual, created_manual = maintenance.record_health(session, None)

    assert (created, created_again, created_manual) == (True, False, True)
    assert again.id == first.id and manual.id != first.id
    assert session.scalar(select(func.count()).select_from(HealthCheck)) == 2
