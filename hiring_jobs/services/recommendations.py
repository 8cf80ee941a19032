"""Recommendations (jobs, courses, mentors, skills, connections) and the daily digest.

Each kind is one SQL query scored from the user's skills and activity (applications,
connections, enrollments, mentoring, recent logins), cached per (user, kind) in
`recommendation_cache` with the time it was computed: an upsert, so recomputing replaces.
Skills of postings and courses are free text typed by people and compared case-blind.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from hiring_jobs.models import (
    Application,
    ApplicationStatus,
    ApplicationStatusChange,
    JobPosting,
    RecommendationCache,
    RecommendationKind,
    User,
)
from hiring_jobs.queue.defer import defer
from hiring_jobs.services import achievements, notifications
from hiring_jobs.services.analytics import ACTIVE_WINDOW
from hiring_jobs.sql import ANALYTICS, run

GENERATE_TASK = "recommendations.generate_for_user"
DEFAULT_LIMITS = {
    RecommendationKind.JOBS: 10,
    RecommendationKind.COURSES: 10,
    RecommendationKind.MENTORS: 5,
    RecommendationKind.SKILLS: 5,
    RecommendationKind.CONNECTIONS: 5,
}


def _jobs(row: Any) -> dict[str, Any]:
    return {
        "job_posting_id": row.id,
        "title": row.title,
        "company": row.company,
        "location": row.location,
        "matched_skills": list(row.matched),
        "score": int(row.score),
    }


def _courses(row: Any) -> dict[str, Any]:
    return {
        "course_id": row.id,
        "title": row.title,
        "level": row.level,
        "teaches": list(row.teaches),
        "score": int(row.score),
    }


def _skills(row: Any) -> dict[str, Any]:
    return {"skill": row.name, "open_postings": row.postings, "in_your_applications": row.applied}


def _mentors(row: Any) -> dict[str, Any]:
    return {
        "user_id": row.id,
        "name": row.full_name,
        "headline": row.headline,
        "can_teach": list(row.can_teach),
        "shared_skills": list(row.shared),
        "completed_sessions": row.sessions,
        "score": int(row.score),
    }


def _connections(row: Any) -> dict[str, Any]:
    return {
        "user_id": row.id,
        "name": row.full_name,
        "headline": row.headline,
        "mutual_connections": row.mutual,
        "shared_skills": list(row.shared),
        "score": int(row.score),
    }


# Each kind's statement (sql/analytics.sql recommend_*) and the shape of its items.
QUERIES: dict[RecommendationKind, tuple[str, Callable[[Any], dict[str, Any]]]] = {
    RecommendationKind.JOBS: (ANALYTICS["recommend_jobs"], _jobs),
    RecommendationKind.COURSES: (ANALYTICS["recommend_courses"], _courses),
    RecommendationKind.SKILLS: (ANALYTICS["recommend_skills"], _skills),
    RecommendationKind.MENTORS: (ANALYTICS["recommend_mentors"], _mentors),
    RecommendationKind.CONNECTIONS: (ANALYTICS["recommend_connections"], _connections),
}


def recommend(
    session: Session,
    user_id: int,
    kind: RecommendationKind,
    now: datetime,
    *,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Compute one kind of recommendation for the user, best first (not cached)."""
    query, shape = QUERIES[kind]
    params = {
        "user_id": user_id,
        "limit": limit or DEFAULT_LIMITS[kind],
        "active_since": now - ACTIVE_WINDOW,
    }
    return [shape(row) for row in run(session, query, params)]


def refresh(
    session: Session,
    user_id: int,
    kinds: list[RecommendationKind],
    now: datetime,
    *,
    limit: int | None = None,
) -> dict[str, int] | None:
    """Compute and cache the kinds for the user; item counts per kind, None if no such user."""
    if session.get(User, user_id) is None:
        return None
    counts = {}
    for kind in kinds:
        items = recommend(session, user_id, kind, now, limit=limit)
        statement = insert(RecommendationCache).values(
            user_id=user_id, kind=kind, items=items, computed_at=now
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[RecommendationCache.user_id, RecommendationCache.kind],
                set_={"items": statement.excluded["items"], "computed_at": now},
            )
        )
        counts[kind.value] = len(items)
    return counts


def cached(session: Session, user_id: int, kind: RecommendationKind) -> list[dict[str, Any]]:
    items = session.scalar(
        select(RecommendationCache.items).where(
            RecommendationCache.user_id == user_id, RecommendationCache.kind == kind
        )
    )
    return list(items or [])


def request_refresh(session: Session, user_id: int) -> int | None:
    """Defer a full recomputation unless one is already waiting (Procrastinate queueing lock).

    Returns the new job id, or None when a pending job will do it anyway.
    """
    try:
        return defer(
            session,
            GENERATE_TASK,
            options={"queueing_lock": f"recommendations:{user_id}"},
            user_id=user_id,
        )
    except AlreadyEnqueued:
        return None


# --- the daily digest ---------------------------------------------------------------------


def daily_digest(session: Session, user_id: int, now: datetime) -> dict[str, Any] | None:
    """What `email.send_daily_digest` shows the user today; None when there is nothing new."""
    progress = [p for p in achievements.progress(session, user_id) if p["current"] > 0]
    digest = {
        "recommendations": _digest_recommendations(session, user_id),
        "achievement_progress": progress,
        "highlights": _highlights(session, user_id, now),
    }
    return digest if any(digest.values()) else None


def _digest_recommendations(session: Session, user_id: int) -> list[dict[str, str]]:
    jobs = cached(session, user_id, RecommendationKind.JOBS)[:3]
    courses = cached(session, user_id, RecommendationKind.COURSES)[:1]
    return [
        {
            "title": f"{job['title']} at {job['company']}",
            "detail": f"{job['score']}% skills match",
            "path": f"/jobs/{job['job_posting_id']}",
        }
        for job in jobs
    ] + [
        {
            "title": course["title"],
            "detail": "teaches " + ", ".join(course["teaches"][:3]),
            "path": f"/courses/{course['course_id']}",
        }
        for course in courses
    ]


def _highlights(session: Session, user_id: int, now: datetime) -> list[str]:
    since = now - timedelta(days=1)
    lines = []
    changes = session.execute(
        select(JobPosting.title, JobPosting.company, ApplicationStatusChange.to_status)
        .select_from(ApplicationStatusChange)
        .join(Application, Application.id == ApplicationStatusChange.application_id)
        .join(JobPosting, JobPosting.id == Application.job_posting_id)
        .where(
            Application.candidate_id == user_id,
            ApplicationStatusChange.changed_at >= since,
            ApplicationStatusChange.changed_at < now,
            ApplicationStatusChange.to_status != ApplicationStatus.APPLIED,
        )
        .order_by(ApplicationStatusChange.changed_at)
    )
    for title, company, status in changes:
        lines.append(f"Your application for {title} at {company} is now {_words(status)}.")
    new_jobs = session.scalar(
        select(func.count()).where(JobPosting.created_at >= since, JobPosting.created_at < now)
    )
    if new_jobs:
        lines.append(f"{new_jobs} new job{'s' if new_jobs > 1 else ''} posted since yesterday.")
    unread = notifications.unread_count(session, user_id)
    if unread:
        lines.append(f"You have {unread} unread notification{'s' if unread > 1 else ''}.")
    return lines


def _words(status: ApplicationStatus) -> str:
    return status.value.replace("_", " ")
