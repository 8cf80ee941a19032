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
from sqlalchemy import TextClause, func, select, text
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

GENERATE_TASK = "recommendations.generate_for_user"
DEFAULT_LIMITS = {
    RecommendationKind.JOBS: 10,
    RecommendationKind.COURSES: 10,
    RecommendationKind.MENTORS: 5,
    RecommendationKind.SKILLS: 5,
    RecommendationKind.CONNECTIONS: 5,
}

# The user's skills, lower case: the base of every query below.
_MINE = "mine AS (SELECT lower(skill) AS skill FROM user_skills WHERE user_id = :user_id)"
# Skills wanted by open postings that the user lacks, weighted up when the user applied.
_GAPS = """
gaps AS (
    SELECT lower(s) AS skill, count(*) AS postings,
           count(*) FILTER (WHERE EXISTS (
               SELECT 1 FROM applications a
               WHERE a.job_posting_id = p.id AND a.candidate_id = :user_id)) AS applied
    FROM job_postings p, unnest(p.required_skills || p.nice_to_have_skills) AS s
    WHERE p.status = 'open' AND lower(s) NOT IN (SELECT skill FROM mine)
    GROUP BY lower(s)
)"""

_JOBS_SQL = text(
    f"""
    WITH {_MINE}, scored AS (
        SELECT p.id, p.title, p.company, p.location, p.created_at,
               ARRAY(SELECT s FROM unnest(p.required_skills || p.nice_to_have_skills) AS s
                     WHERE lower(s) IN (SELECT skill FROM mine)) AS matched,
               (SELECT count(*) FROM unnest(p.required_skills) AS s
                WHERE lower(s) IN (SELECT skill FROM mine)) * 2
             + (SELECT count(*) FROM unnest(p.nice_to_have_skills) AS s
                WHERE lower(s) IN (SELECT skill FROM mine)) AS hits,
               greatest(cardinality(p.required_skills) * 2
                        + cardinality(p.nice_to_have_skills), 1) AS weight
        FROM job_postings p
        WHERE p.status = 'open' AND NOT EXISTS (
            SELECT 1 FROM applications a
            WHERE a.job_posting_id = p.id AND a.candidate_id = :user_id)
    )
    SELECT id, title, company, location, matched, round(100.0 * hits / weight) AS score
    FROM scored WHERE hits > 0
    ORDER BY score DESC, created_at DESC, id LIMIT :limit
    """
)

_COURSES_SQL = text(
    f"""
    WITH {_MINE}, {_GAPS}
    SELECT c.id, c.title, c.level,
           ARRAY(SELECT s FROM unnest(c.skills) AS s
                 WHERE lower(s) NOT IN (SELECT skill FROM mine)) AS teaches,
           (SELECT coalesce(sum(g.postings + 2 * g.applied), 0)
            FROM unnest(c.skills) AS s JOIN gaps g ON g.skill = lower(s)) AS score
    FROM courses c
    WHERE NOT EXISTS (SELECT 1 FROM course_enrollments e
                      WHERE e.course_id = c.id AND e.user_id = :user_id)
      AND EXISTS (SELECT 1 FROM unnest(c.skills) AS s
                  WHERE lower(s) NOT IN (SELECT skill FROM mine))
    ORDER BY score DESC, c.id LIMIT :limit
    """
)

_SKILLS_SQL = text(
    f"""
    WITH {_MINE}, {_GAPS}
    SELECT (SELECT s FROM job_postings p, unnest(p.required_skills || p.nice_to_have_skills) s
            WHERE lower(s) = gaps.skill ORDER BY p.id LIMIT 1) AS name,
           postings, applied
    FROM gaps ORDER BY applied DESC, postings DESC, skill LIMIT :limit
    """
)

_MENTORS_SQL = text(
    f"""
    WITH {_MINE}, {_GAPS}, candidates AS (
        SELECT u.id, u.full_name, u.headline, u.last_active_at >= :active_since AS active,
               ARRAY(SELECT us.skill FROM user_skills us WHERE us.user_id = u.id
                     AND lower(us.skill) IN (SELECT skill FROM gaps) ORDER BY us.skill)
                   AS can_teach,
               ARRAY(SELECT us.skill FROM user_skills us WHERE us.user_id = u.id
                     AND lower(us.skill) IN (SELECT skill FROM mine) ORDER BY us.skill)
                   AS shared,
               (SELECT count(*) FROM mentoring_sessions m
                WHERE m.mentor_id = u.id AND m.status = 'completed') AS sessions
        FROM users u
        WHERE u.role = 'mentor' AND u.is_active AND u.id <> :user_id
          AND NOT EXISTS (SELECT 1 FROM mentoring_sessions m
                          WHERE m.mentor_id = u.id AND m.mentee_id = :user_id
                            AND m.status IN ('requested', 'accepted'))
    )
    SELECT id, full_name, headline, can_teach, shared, sessions,
           3 * cardinality(can_teach) + cardinality(shared) + least(sessions, 5)
           + CASE WHEN active THEN 2 ELSE 0 END AS score
    FROM candidates
    ORDER BY score DESC, id LIMIT :limit
    """
)

_CONNECTIONS_SQL = text(
    f"""
    WITH {_MINE},
    friends AS (SELECT other_user_id AS id FROM connections WHERE user_id = :user_id),
    candidates AS (
        SELECT c.other_user_id AS id FROM connections c WHERE c.user_id IN (SELECT id FROM friends)
        UNION
        SELECT us.user_id FROM user_skills us
        WHERE us.skill IN (SELECT skill FROM user_skills WHERE user_id = :user_id)
    ),
    scored AS (
        SELECT u.id, u.full_name, u.headline,
               (SELECT count(*) FROM connections c
                WHERE c.user_id = u.id AND c.other_user_id IN (SELECT id FROM friends)) AS mutual,
               ARRAY(SELECT us.skill FROM user_skills us WHERE us.user_id = u.id
                     AND lower(us.skill) IN (SELECT skill FROM mine) ORDER BY us.skill) AS shared,
               u.last_active_at >= :active_since AS active
        FROM users u
        WHERE u.id IN (SELECT id FROM candidates) AND u.id <> :user_id AND u.is_active
          AND u.role <> 'admin' AND u.id NOT IN (SELECT id FROM friends)
    )
    SELECT id, full_name, headline, mutual, shared,
           3 * mutual + cardinality(shared) + CASE WHEN active THEN 1 ELSE 0 END AS score
    FROM scored
    ORDER BY score DESC, id LIMIT :limit
    """
)


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


QUERIES: dict[RecommendationKind, tuple[TextClause, Callable[[Any], dict[str, Any]]]] = {
    RecommendationKind.JOBS: (_JOBS_SQL, _jobs),
    RecommendationKind.COURSES: (_COURSES_SQL, _courses),
    RecommendationKind.SKILLS: (_SKILLS_SQL, _skills),
    RecommendationKind.MENTORS: (_MENTORS_SQL, _mentors),
    RecommendationKind.CONNECTIONS: (_CONNECTIONS_SQL, _connections),
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
    return [shape(row) for row in session.execute(query, params)]


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
