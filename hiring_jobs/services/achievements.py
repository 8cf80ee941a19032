"""Achievements: the catalog, rule checks, unlocking, progress and the leaderboard.

A rule is "metric >= threshold", the metric a per-user SQL count (applications, resumes,
connections, points, ...). A check is one INSERT ... SELECT per rule over every eligible
user at once, with ON CONFLICT DO NOTHING on the (user, achievement) unique constraint:
checking twice, or two checks racing, never unlocks twice, and RETURNING yields exactly the
new unlocks. For those, in the same transaction: points, a notification and the email job
(`email.send_achievement_unlocked`). Unlocks add points, which can cross a points milestone,
so a check repeats its rules until a pass unlocks nothing.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, func, literal, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from hiring_jobs.models import (
    Achievement,
    AchievementUnlock,
    Application,
    Connection,
    CourseEnrollment,
    MentoringSession,
    MentoringStatus,
    QuizAttempt,
    Resume,
    User,
    UserSkill,
)
from hiring_jobs.queue.defer import batch_defer
from hiring_jobs.queue.retry import PermanentError
from hiring_jobs.services import notifications
from hiring_jobs.services.analytics import active_filter

CATALOG_PATH = Path(__file__).resolve().parent.parent / "data" / "achievements.json"
EMAIL_TASK = "email.send_achievement_unlocked"


def _count(model: Any, *where: ColumnElement[bool]) -> ColumnElement[int]:
    query = select(func.count()).select_from(model).where(*where)
    return query.correlate(User).scalar_subquery()


# Each metric: a count for the user of the enclosing query (correlated to `users`).
METRICS: dict[str, Callable[[], ColumnElement[int]]] = {
    "applications": lambda: _count(Application, Application.candidate_id == User.id),
    "resumes": lambda: _count(Resume, Resume.user_id == User.id, Resume.deleted_at.is_(None)),
    "skills": lambda: _count(UserSkill, UserSkill.user_id == User.id),
    "connections": lambda: _count(Connection, Connection.user_id == User.id),
    "courses_completed": lambda: _count(
        CourseEnrollment,
        CourseEnrollment.user_id == User.id,
        CourseEnrollment.completed_at.is_not(None),
    ),
    "perfect_quizzes": lambda: _count(
        QuizAttempt, QuizAttempt.user_id == User.id, QuizAttempt.score == QuizAttempt.max_score
    ),
    "mentoring_sessions": lambda: _count(
        MentoringSession,
        MentoringSession.mentee_id == User.id,
        MentoringSession.status == MentoringStatus.COMPLETED,
    ),
    "points": lambda: User.points,
}


@dataclasses.dataclass(frozen=True)
class Rule:
    code: str
    name: str
    description: str
    points: int
    metric: str | None = None
    threshold: int | None = None


@dataclasses.dataclass(frozen=True)
class Unlocked:
    unlock_id: int
    user_id: int
    code: str


@cache
def catalog() -> tuple[Rule, ...]:
    entries = json.loads(CATALOG_PATH.read_text())["achievements"]
    rules = tuple(Rule(**entry) for entry in entries)
    unknown = {rule.metric for rule in rules if rule.metric} - METRICS.keys()
    if unknown:
        raise ValueError(f"achievements.json names unknown metrics: {sorted(unknown)}")
    return rules


def seed_catalog(session: Session) -> dict[str, int]:
    """Upsert the catalog by code (rows already equal are not rewritten); code -> id."""
    rows = [
        {"code": r.code, "name": r.name, "description": r.description, "points": r.points}
        for r in catalog()
    ]
    statement = insert(Achievement).values(rows)
    excluded = statement.excluded
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[Achievement.code],
            set_={
                "name": excluded.name,
                "description": excluded.description,
                "points": excluded.points,
            },
            where=tuple_(
                Achievement.name, Achievement.description, Achievement.points
            ).is_distinct_from(tuple_(excluded.name, excluded.description, excluded.points)),
        )
    )
    return {code: id_ for code, id_ in session.execute(select(Achievement.code, Achievement.id))}


# --- checking and unlocking ---------------------------------------------------------------


def check_users(
    session: Session,
    now: datetime,
    *,
    user_ids: Sequence[int] | None = None,
    metrics: set[str] | None = None,
) -> list[Unlocked]:
    """Unlock what the given users (default: every active user) have earned.

    `metrics` limits the rules checked (the milestone detector checks points only).
    """
    ids = seed_catalog(session)
    scope = User.id.in_(user_ids) if user_ids is not None else active_filter(now)
    rules = [r for r in catalog() if r.metric and (metrics is None or r.metric in metrics)]
    unlocked: list[Unlocked] = []
    for _ in range(len(rules)):
        new = [
            found
            for rule in rules
            for found in _unlock_eligible(session, rule, ids[rule.code], scope)
        ]
        if not new:
            break
        _reward(session, new)
        unlocked += new
    return unlocked


def _unlock_eligible(
    session: Session, rule: Rule, achievement_id: int, scope: ColumnElement[bool]
) -> list[Unlocked]:
    assert rule.metric is not None and rule.threshold is not None
    eligible = select(User.id, literal(achievement_id, BigInteger)).where(
        scope, User.is_active.is_(True), METRICS[rule.metric]() >= rule.threshold
    )
    statement = (
        insert(AchievementUnlock)
        .from_select(["user_id", "achievement_id"], eligible)
        .on_conflict_do_nothing(index_elements=["user_id", "achievement_id"])
        .returning(AchievementUnlock.id, AchievementUnlock.user_id)
    )
    return [Unlocked(uid, user, rule.code) for uid, user in session.execute(statement)]


def unlock(session: Session, user_id: int, code: str) -> Unlocked | None:
    """Award one achievement explicitly; None if the user already has it."""
    ids = seed_catalog(session)
    if code not in ids:
        raise PermanentError(f"no achievement with code {code!r}")
    if session.get(User, user_id) is None:
        raise PermanentError(f"user {user_id} does not exist")
    unlock_id = session.scalar(
        insert(AchievementUnlock)
        .values(user_id=user_id, achievement_id=ids[code])
        .on_conflict_do_nothing(index_elements=["user_id", "achievement_id"])
        .returning(AchievementUnlock.id)
    )
    if unlock_id is None:
        return None
    unlocked = Unlocked(unlock_id, user_id, code)
    _reward(session, [unlocked])
    return unlocked


def _reward(session: Session, unlocked: list[Unlocked]) -> None:
    """Points, an in-app notification and the email job for each new unlock."""
    rules = {rule.code: rule for rule in catalog()}
    for code in {u.code for u in unlocked}:
        winners = [u.user_id for u in unlocked if u.code == code]
        session.execute(
            update(User)
            .where(User.id.in_(winners))
            .values(points=User.points + rules[code].points)
            .execution_options(synchronize_session=False)
        )
    notifications.notify_many(session, [_notification(u, rules[u.code]) for u in unlocked])
    batch_defer(session, EMAIL_TASK, [{"unlock_id": u.unlock_id} for u in unlocked])


def _notification(unlocked: Unlocked, rule: Rule) -> notifications.NewNotification:
    return notifications.NewNotification(
        user_id=unlocked.user_id,
        kind="achievement",
        title="Achievement unlocked!",
        message=f'You earned the "{rule.name}" achievement (+{rule.points} points).',
        data={"achievement": rule.code, "unlock_id": unlocked.unlock_id, "points": rule.points},
        dedupe_key=f"achievement_unlock:{unlocked.unlock_id}",
    )


# --- progress and leaderboard -------------------------------------------------------------


def progress(session: Session, user_id: int, *, limit: int = 3) -> list[dict[str, Any]]:
    """The locked achievements the user is closest to: [{name, current, target}]."""
    owned = set(
        session.scalars(
            select(Achievement.code)
            .join(AchievementUnlock, AchievementUnlock.achievement_id == Achievement.id)
            .where(AchievementUnlock.user_id == user_id)
        )
    )
    values = session.execute(
        select(*(metric().label(name) for name, metric in METRICS.items())).where(
            User.id == user_id
        )
    ).one_or_none()
    if values is None:
        return []
    current = values._mapping
    pending = [
        {"name": r.name, "current": int(current[r.metric]), "target": r.threshold}
        for r in catalog()
        if r.metric and r.threshold and r.code not in owned
    ]
    pending.sort(key=lambda p: (-min(p["current"] / p["target"], 1), p["target"], p["name"]))
    return pending[:limit]


def leaderboard(session: Session, *, limit: int = 10) -> dict[str, Any]:
    """Top users by points, and how many users hold each achievement."""
    unlocks = func.count(AchievementUnlock.id)
    top = session.execute(
        select(User.id, User.full_name, User.points, unlocks)
        .outerjoin(AchievementUnlock, AchievementUnlock.user_id == User.id)
        .where(User.is_active.is_(True))
        .group_by(User.id)
        .order_by(User.points.desc(), unlocks.desc(), User.id)
        .limit(limit)
    )
    users = session.scalar(select(func.count()).where(User.is_active.is_(True))) or 0
    per_achievement = session.execute(
        select(Achievement.code, Achievement.name, unlocks)
        .outerjoin(AchievementUnlock, AchievementUnlock.achievement_id == Achievement.id)
        .group_by(Achievement.id)
        .order_by(unlocks.desc(), Achievement.code)
    )
    achievements = [
        {"code": code, "name": name, "unlocked_by": n, "share": round(n / users, 3) if users else 0}
        for code, name, n in per_achievement
    ]
    return {
        "top_users": [
            {"user_id": uid, "name": name, "points": points, "achievements": n}
            for uid, name, points, n in top
        ],
        "achievements": achievements,
        "total_unlocks": sum(a["unlocked_by"] for a in achievements),
        "active_users": users,
    }
