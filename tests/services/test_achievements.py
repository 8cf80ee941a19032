"""Achievements against real PostgreSQL: rules, one unlock per user and achievement (even
when checks race), points, notification and email job in the unlock's transaction."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import (
    Achievement,
    AchievementUnlock,
    Application,
    Notification,
    QuizAttempt,
    Resume,
    User,
)
from hiring_jobs.queue.retry import PermanentError
from hiring_jobs.services import achievements
from tests.support.factories import make_posting, make_user
from tests.support.jobs import jobs

NOW = datetime.now(UTC)


def _apply(session: Session, user: User, count: int = 1) -> None:
    for _ in range(count):
        session.add(Application(candidate_id=user.id, job_posting_id=make_posting(session).id))
    session.flush()


def _codes(session: Session, user_id: int) -> list[str]:
    return sorted(
        session.scalars(
            select(Achievement.code)
            .join(AchievementUnlock, AchievementUnlock.achievement_id == Achievement.id)
            .where(AchievementUnlock.user_id == user_id)
        )
    )


def test_the_catalog_is_seeded_once_and_kept_in_step(session: Session) -> None:
    first = achievements.seed_catalog(session)
    session.execute(
        Achievement.__table__.update()
        .where(Achievement.code == "networker")
        .values(name="Renamed by hand")
    )
    second = achievements.seed_catalog(session)

    assert first == second and len(first) == len(achievements.catalog())
    assert session.scalar(select(Achievement.name).where(Achievement.code == "networker")) == (
        "Networker"
    )


def test_a_check_unlocks_once_with_points_notification_and_email_job(session: Session) -> None:
    user = make_user(session, last_active_at=NOW)
    _apply(session, user)
    session.add(Resume(user_id=user.id))
    session.flush()

    unlocked = achievements.check_users(session, NOW, user_ids=[user.id])
    again = achievements.check_users(session, NOW, user_ids=[user.id])

    assert sorted(u.code for u in unlocked) == ["first_application", "resume_uploaded"]
    assert again == []
    session.refresh(user)
    assert user.points == 25 + 20
    titles = session.scalars(select(Notification.message).where(Notification.user_id == user.id))
    assert sorted(titles) == [
        'You earned the "First application" achievement (+25 points).',
        'You earned the "Resume ready" achievement (+20 points).',
    ]
    emails = jobs(session, "email.send_achievement_unlocked")
    assert sorted(job["args"]["unlock_id"] for job in emails) == sorted(
        u.unlock_id for u in unlocked
    )
    assert {job["queue_name"] for job in emails} == {"email"}


def test_points_milestones_cascade_within_one_check(session: Session) -> None:
    user = make_user(session, points=230, last_active_at=NOW)
    _apply(session, user)

    unlocked = achievements.check_users(session, NOW, user_ids=[user.id])

    # 230 + 25 (first application) crosses 100 and 250; +10 and +25 more.
    assert [u.code for u in unlocked] == ["first_application", "points_100", "points_250"]
    session.refresh(user)
    assert user.points == 230 + 25 + 10 + 25


def test_the_check_of_all_users_skips_inactive_and_long_gone_users(session: Session) -> None:
    active = make_user(session, last_active_at=NOW - timedelta(days=1))
    idle = make_user(session, last_active_at=NOW - timedelta(days=90))
    disabled = make_user(session, is_active=False, last_active_at=NOW)
    for user in (active, idle, disabled):
        session.add(QuizAttempt(user_id=user.id, quiz="sql", score=10, max_score=10))
    session.flush()

    achievements.check_users(session, NOW)

    assert _codes(session, active.id) == ["quiz_ace"]
    assert _codes(session, idle.id) == [] and _codes(session, disabled.id) == []


def test_checks_racing_for_one_user_unlock_once(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session, session.begin():
        user = make_user(session, last_active_at=NOW)
        _apply(session, user)
        achievements.seed_catalog(session)
    barrier = threading.Barrier(4)
    results: list[int] = []

    def check() -> None:
        with session_factory() as session, session.begin():
            session.execute(select(1))
            barrier.wait(timeout=10)
            results.append(len(achievements.check_users(session, NOW, user_ids=[user.id])))

    threads = [threading.Thread(target=check) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == [0, 0, 0, 1]
    with session_factory() as session:
        assert _codes(session, user.id) == ["first_application"]
        assert len(jobs(session, "email.send_achievement_unlocked")) == 1
        assert session.scalar(select(User.points).where(User.id == user.id)) == 25


def test_an_explicit_unlock_happens_once(session: Session) -> None:
    user = make_user(session)

    first = achievements.unlock(session, user.id, "early_adopter")
    second = achievements.unlock(session, user.id, "early_adopter")

    assert first is not None and second is None
    assert _codes(session, user.id) == ["early_adopter"]
    with pytest.raises(PermanentError, match="no achievement"):
        achievements.unlock(session, user.id, "does_not_exist")
    with pytest.raises(PermanentError, match="does not exist"):
        achievements.unlock(session, 999_999, "early_adopter")


def test_progress_lists_the_closest_locked_achievements(session: Session) -> None:
    user = make_user(session, points=60)
    _apply(session, user, count=3)
    achievements.unlock(session, user.id, "early_adopter")  # +10 points: 70

    progress = achievements.progress(session, user.id, limit=3)

    assert progress == [
        {"name": "First application", "current": 3, "target": 1},
        {"name": "Century", "current": 70, "target": 100},
        {"name": "Go-getter", "current": 3, "target": 5},
    ]


def test_the_leaderboard_ranks_by_points(session: Session) -> None:
    low, high = make_user(session, points=5), make_user(session, points=50, full_name="Top")
    achievements.unlock(session, high.id, "early_adopter")
    achievements.unlock(session, low.id, "early_adopter")

    board = achievements.leaderboard(session)

    assert [(u["name"], u["points"]) for u in board["top_users"][:2]] == [
        ("Top", 60),
        (
            low.full_name,
            15,
        ),
    ]
    early = next(a for a in board["achievements"] if a["code"] == "early_adopter")
    assert (early["unlocked_by"], early["share"]) == (2, 1.0)
    assert board["total_unlocks"] == 2
