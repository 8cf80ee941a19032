"""Achievement tasks: check rules, unlock, detect point milestones, the leaderboard.

An unlock commits with its points, notification and `email.send_achievement_unlocked` job
(see `services.achievements`). `achievements.check_user` is also a step of the resume chain:
parse -> check achievements -> notify the user, and refresh their recommendations.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from hiring_jobs import db
from hiring_jobs.app import app
from hiring_jobs.models import ParseStatus, Resume
from hiring_jobs.queue import retry
from hiring_jobs.queue.queues import Priority, Queue
from hiring_jobs.services import achievements, analytics, notifications, recommendations
from hiring_jobs.services.achievements import Unlocked
from hiring_jobs.tasks.family import TaskFamily

Result = dict[str, Any]


_task = TaskFamily("achievements", Queue.DEFAULT, retry.DEFAULT, Priority.NORMAL).task


def _codes(unlocked: list[Unlocked]) -> list[list[Any]]:
    return [[u.user_id, u.code] for u in unlocked]


@_task("check_user")
def check_user(user_id: int, resume_id: int | None = None) -> Result:
    """Unlock what the user earned; after a resume parse (`resume_id`), continue the chain."""
    with db.session_scope() as session:
        unlocked = achievements.check_users(session, datetime.now(UTC), user_ids=[user_id])
        if resume_id is not None:
            _after_resume(session, user_id, resume_id)
    return {"unlocked": _codes(unlocked)}


def _after_resume(session: Session, user_id: int, resume_id: int) -> None:
    resume = session.get(Resume, resume_id)
    if resume is None or resume.user_id != user_id or resume.deleted_at is not None:
        return
    notifications.defer_notification(session, notifications.resume_analyzed(resume))
    if resume.parse_status == ParseStatus.PARSED:
        recommendations.request_refresh(session, user_id)  # new skills, new matches


@app.periodic(cron="0 * * * *", periodic_id="hourly")
@_task("check_all", priority=Priority.LOW, long=True)
def check_all(timestamp: int) -> Result:
    """Check every rule for every active user at once (one INSERT ... SELECT per rule)."""
    with db.session_scope() as session:
        unlocked = achievements.check_users(session, analytics.tick_time(timestamp))
    return {"unlocked": len(unlocked)}


@_task("unlock")
def unlock(user_id: int, code: str) -> Result:
    with db.session_scope() as session:
        unlocked = achievements.unlock(session, user_id, code)
    return {"unlock_id": unlocked.unlock_id if unlocked else None}


@_task("detect_milestones", priority=Priority.LOW, long=True)
def detect_milestones() -> Result:
    """Point milestones only, for every active user."""
    with db.session_scope() as session:
        unlocked = achievements.check_users(session, datetime.now(UTC), metrics={"points"})
    return {"unlocked": _codes(unlocked)}


@_task("generate_stats", Priority.LOW, queue=Queue.ANALYTICS)
def generate_stats() -> Result:
    """The leaderboard, kept as today's `achievement_leaderboard` snapshot."""
    now = datetime.now(UTC)
    with db.session_scope() as session:
        board = achievements.leaderboard(session)
        snapshot, created = analytics.save_snapshot(
            session, "achievement_leaderboard", board, period_start=analytics.day_start(now)
        )
        return {"snapshot_id": snapshot.id, "created": created}
