"""Achievement tasks run by a real worker: checking twice never unlocks (or emails) twice."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import hiring_jobs.tasks.achievements as achievement_tasks
from hiring_jobs.models import (
    AchievementUnlock,
    AnalyticsSnapshot,
    Application,
    Notification,
    ParseStatus,
    Resume,
    User,
)
from hiring_jobs.queue.defer import defer
from tests.support.factories import make_posting, make_user
from tests.support.jobs import jobs, run_worker_until_idle


def _defer_twice(session_factory: sessionmaker[Session], task: Any, **kwargs: Any) -> None:
    for _ in range(2):
        with session_factory() as session, session.begin():
            defer(session, task, **kwargs)


def _applicant(session_factory: sessionmaker[Session], **values: Any) -> int:
    with session_factory() as session, session.begin():
        user = make_user(session, last_active_at=datetime.now(UTC), **values)
        session.add(Application(candidate_id=user.id, job_posting_id=make_posting(session).id))
        return user.id


def _unlocks(session_factory: sessionmaker[Session]) -> list[AchievementUnlock]:
    with session_factory() as session:
        return list(session.scalars(select(AchievementUnlock).order_by(AchievementUnlock.id)))


def _statuses(session_factory: sessionmaker[Session]) -> dict[str, list[str]]:
    with session_factory() as session:
        found: dict[str, list[str]] = {}
        for job in jobs(session):
            found.setdefault(job["task_name"], []).append(job["status"])
        return found


def test_check_user_twice_unlocks_and_emails_once(session_factory: sessionmaker[Session]) -> None:
    user_id = _applicant(session_factory)
    _defer_twice(session_factory, achievement_tasks.check_user, user_id=user_id)

    run_worker_until_idle(queues=["default"])

    [unlock] = _unlocks(session_factory)
    assert unlock.user_id == user_id
    statuses = _statuses(session_factory)
    assert statuses["achievements.check_user"] == ["succeeded"] * 2
    assert statuses["email.send_achievement_unlocked"] == ["todo"]
    with session_factory() as session:
        assert session.scalar(select(User.points).where(User.id == user_id)) == 25
        [notification] = session.scalars(select(Notification)).all()
    assert notification.data["unlock_id"] == unlock.id


def test_after_a_resume_the_check_notifies_and_refreshes_recommendations(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        user = make_user(session)
        resume = Resume(user_id=user.id, parse_status=ParseStatus.PARSED, skills=["Python", "Go"])
        session.add(resume)
        session.flush()
        user_id, resume_id = user.id, resume.id
    _defer_twice(
        session_factory, achievement_tasks.check_user, user_id=user_id, resume_id=resume_id
    )

    run_worker_until_idle(queues=["default"])
    statuses = _statuses(session_factory)
    assert statuses["notifications.send"] == ["todo"]  # one waiting job for two requests
    assert statuses["recommendations.generate_for_user"] == ["todo"]
    run_worker_until_idle(queues=["notifications"])

    with session_factory() as session:
        messages = sorted(
            session.scalars(select(Notification.message).where(Notification.user_id == user_id))
        )
    assert messages == [
        "We found 2 skills in your resume.",
        'You earned the "Resume ready" achievement (+20 points).',
    ]


def test_the_hourly_check_is_idempotent_per_tick(session_factory: sessionmaker[Session]) -> None:
    first, second = _applicant(session_factory), _applicant(session_factory)
    tick = int(datetime.now(UTC).replace(minute=0, second=0, microsecond=0).timestamp())
    _defer_twice(session_factory, achievement_tasks.check_all, timestamp=tick)

    run_worker_until_idle(queues=["default"])

    assert sorted(u.user_id for u in _unlocks(session_factory)) == sorted([first, second])
    assert _statuses(session_factory)["email.send_achievement_unlocked"] == ["todo"] * 2


def test_unlock_and_milestones(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session, session.begin():
        user_id = make_user(session, points=95, last_active_at=datetime.now(UTC)).id
    with session_factory() as session, session.begin():
        bad = defer(session, achievement_tasks.unlock, user_id=user_id, code="no_such_code")
    _defer_twice(session_factory, achievement_tasks.unlock, user_id=user_id, code="early_adopter")
    _defer_twice(session_factory, achievement_tasks.detect_milestones)

    run_worker_until_idle(queues=["default"])

    codes = []
    with session_factory() as session:
        for unlock in session.scalars(select(AchievementUnlock).order_by(AchievementUnlock.id)):
            codes.append(unlock.achievement.code)
        [failed] = [job for job in jobs(session) if job["id"] == bad]
    assert codes == ["early_adopter", "points_100"]  # 95 + 10 crosses 100
    assert failed["status"] == "failed"


def test_the_leaderboard_is_one_snapshot_per_day(session_factory: sessionmaker[Session]) -> None:
    _applicant(session_factory, points=40)
    _defer_twice(session_factory, achievement_tasks.generate_stats)

    run_worker_until_idle(queues=["analytics"])

    with session_factory() as session:
        [snapshot] = session.scalars(select(AnalyticsSnapshot)).all()
    assert snapshot.kind == "achievement_leaderboard"
    assert snapshot.data["top_users"][0]["points"] == 40
