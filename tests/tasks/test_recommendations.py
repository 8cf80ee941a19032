"""Recommendation tasks run by a real worker: cached once per (user, kind), one pending
recomputation per user, the daily run once per tick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import hiring_jobs.tasks.recommendations as recommendation_tasks
from hiring_jobs.models import RecommendationCache, UserSkill
from hiring_jobs.queue.defer import defer
from tests.support.factories import make_posting, make_user
from tests.support.jobs import jobs, run_worker_until_idle


def _defer_twice(session_factory: sessionmaker[Session], task: Any, **kwargs: Any) -> None:
    for _ in range(2):
        with session_factory() as session, session.begin():
            defer(session, task, **kwargs)


def _cache(session_factory: sessionmaker[Session]) -> list[tuple[int, str, int]]:
    with session_factory() as session:
        rows = session.scalars(select(RecommendationCache).order_by(RecommendationCache.id))
        return [(row.user_id, row.kind.value, len(row.items)) for row in rows]


def _seeker(session_factory: sessionmaker[Session], **values: Any) -> int:
    with session_factory() as session, session.begin():
        user = make_user(session, **values)
        session.add(UserSkill(user_id=user.id, skill="Python"))
        make_posting(session, required_skills=["Python", "Docker"])
        return user.id


def test_generate_for_user_twice_keeps_one_row_per_kind(
    session_factory: sessionmaker[Session],
) -> None:
    user_id = _seeker(session_factory)
    _defer_twice(session_factory, recommendation_tasks.generate_for_user, user_id=user_id)

    run_worker_until_idle(queues=["recommendations"])

    assert sorted(_cache(session_factory)) == [
        (user_id, "connections", 0),
        (user_id, "courses", 0),
        (user_id, "jobs", 1),
        (user_id, "mentors", 0),
        (user_id, "skills", 1),
    ]


@pytest.mark.parametrize(
    ("task", "kind"),
    [
        (recommendation_tasks.recommend_jobs, "jobs"),
        (recommendation_tasks.recommend_courses, "courses"),
        (recommendation_tasks.recommend_mentors, "mentors"),
        (recommendation_tasks.recommend_skills, "skills"),
        (recommendation_tasks.recommend_connections, "connections"),
    ],
)
def test_each_kind_has_its_task(
    session_factory: sessionmaker[Session], task: Any, kind: str
) -> None:
    user_id = _seeker(session_factory)
    _defer_twice(session_factory, task, user_id=user_id, limit=3)

    run_worker_until_idle(queues=["recommendations"])

    assert [(uid, k) for uid, k, _ in _cache(session_factory)] == [(user_id, kind)]


def test_the_daily_run_defers_one_job_per_active_user_once_per_tick(
    session_factory: sessionmaker[Session],
) -> None:
    tick = datetime.now(UTC).replace(hour=4, minute=0, second=0, microsecond=0)
    active = _seeker(session_factory, last_active_at=tick - timedelta(days=1))
    _seeker(session_factory, last_active_at=tick - timedelta(days=45))
    _defer_twice(
        session_factory, recommendation_tasks.generate_daily, timestamp=int(tick.timestamp())
    )

    run_worker_until_idle(queues=["recommendations"])

    with session_factory() as session:
        per_user = jobs(session, "recommendations.generate_for_user")
    assert [(job["args"], job["status"]) for job in per_user] == [
        ({"user_id": active}, "succeeded")
    ]
    assert {user_id for user_id, _, _ in _cache(session_factory)} == {active}
