"""Maintenance tasks run by a real worker, twice per tick, leaving the state of one run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

import hiring_jobs.tasks.maintenance as maintenance_tasks
from hiring_jobs.models import AuthToken, HealthCheck, TokenPurpose
from hiring_jobs.queue.defer import defer
from tests.support import tasks as test_tasks
from tests.support.factories import make_user
from tests.support.jobs import jobs, run_worker_until_idle


def _defer_twice(session_factory: sessionmaker[Session], task: Any, **kwargs: Any) -> None:
    for _ in range(2):
        with session_factory() as session, session.begin():
            defer(session, task, **kwargs)


def _tick(moment: datetime) -> int:
    return int(moment.replace(minute=0, second=0, microsecond=0).timestamp())


def test_expired_tokens_are_cleaned_up(session_factory: sessionmaker[Session]) -> None:
    now = datetime.now(UTC)
    with session_factory() as session, session.begin():
        user = make_user(session)
        for n, hours in enumerate((-2, 5)):
            session.add(
                AuthToken(
                    user_id=user.id,
                    purpose=TokenPurpose.EMAIL_VERIFICATION,
                    token_hash=f"{n:064d}",
                    expires_at=now + timedelta(hours=hours),
                )
            )
    _defer_twice(session_factory, maintenance_tasks.cleanup_expired_tokens, timestamp=_tick(now))

    run_worker_until_idle(queues=["maintenance"])

    with session_factory() as session:
        [left] = session.scalars(select(AuthToken.expires_at)).all()
    assert left > now


def test_job_history_retention_keeps_recent_and_unfinished_jobs(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        user_id = make_user(session).id
        old = defer(session, test_tasks.record, user_id=user_id, message="old")
        recent = defer(session, test_tasks.record, user_id=user_id, message="recent")
    run_worker_until_idle(queues=["default"])
    with session_factory() as session, session.begin():
        waiting = defer(session, test_tasks.record, user_id=user_id, message="waiting")
        session.execute(
            text("UPDATE procrastinate_events SET at = at - interval '40 days' WHERE job_id = :id"),
            {"id": old},
        )
    tick = _tick(datetime.now(UTC))
    _defer_twice(session_factory, maintenance_tasks.purge_job_history, timestamp=tick, days=30)

    run_worker_until_idle(queues=["maintenance"])

    with session_factory() as session:
        remaining = {job["id"] for job in jobs(session)}
    assert old not in remaining
    assert {recent, waiting} <= remaining


def test_the_health_check_records_one_reading_per_tick(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        user_id = make_user(session).id
        defer(session, test_tasks.record, user_id=user_id, message="waiting in default")
    _defer_twice(
        session_factory, maintenance_tasks.record_health_check, timestamp=_tick(datetime.now(UTC))
    )

    run_worker_until_idle(queues=["maintenance"])

    with session_factory() as session:
        [check] = session.scalars(select(HealthCheck)).all()
        assert session.scalar(select(func.count()).select_from(HealthCheck)) == 1
    assert check.queue_depths["default"] == 1
    assert check.live_workers == 1  # the worker that ran the check
    assert check.stalled_jobs == 0
    assert check.oldest_pending_seconds is not None and check.oldest_pending_seconds >= 0
