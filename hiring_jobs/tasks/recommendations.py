"""Recommendation tasks: compute and cache jobs, courses, mentors, skills and connections.

A full recomputation for a user is deferred through
`services.recommendations.request_refresh`, whose queueing lock keeps at most one waiting
job per user: asking again while one waits is a no-op. Results replace the cached rows.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from hiring_jobs import db
from hiring_jobs.app import app
from hiring_jobs.models import RecommendationKind
from hiring_jobs.queue import retry
from hiring_jobs.queue.queues import Priority, Queue
from hiring_jobs.services import analytics, recommendations
from hiring_jobs.tasks.family import TaskFamily

Result = dict[str, Any]


_task = TaskFamily("recommendations", Queue.RECOMMENDATIONS, retry.DEFAULT, Priority.LOW).task


def _refresh(user_id: int, kinds: list[RecommendationKind], limit: int | None) -> Result:
    started = time.perf_counter()
    with db.session_scope() as session:
        counts = recommendations.refresh(session, user_id, kinds, datetime.now(UTC), limit=limit)
    if counts is None:
        return {"user_id": user_id, "skipped": "no such user"}
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    return {"user_id": user_id, "items": counts, "duration_ms": duration_ms}


@_task("generate_for_user")
def generate_for_user(user_id: int, limit: int | None = None) -> Result:
    """Every kind for one user (defer it with `request_refresh` for the queueing lock)."""
    return _refresh(user_id, list(RecommendationKind), limit)


@_task("recommend_jobs", Priority.NORMAL)
def recommend_jobs(user_id: int, limit: int = 10) -> Result:
    return _refresh(user_id, [RecommendationKind.JOBS], limit)


@_task("recommend_courses", Priority.NORMAL)
def recommend_courses(user_id: int, limit: int = 10) -> Result:
    return _refresh(user_id, [RecommendationKind.COURSES], limit)


@_task("recommend_mentors", Priority.NORMAL)
def recommend_mentors(user_id: int, limit: int = 5) -> Result:
    return _refresh(user_id, [RecommendationKind.MENTORS], limit)


@_task("recommend_skills", Priority.NORMAL)
def recommend_skills(user_id: int, limit: int = 5) -> Result:
    return _refresh(user_id, [RecommendationKind.SKILLS], limit)


@_task("recommend_connections", Priority.NORMAL)
def recommend_connections(user_id: int, limit: int = 5) -> Result:
    return _refresh(user_id, [RecommendationKind.CONNECTIONS], limit)


@app.periodic(cron="0 4 * * *", periodic_id="daily")
@_task("generate_daily", long=True)
def generate_daily(timestamp: int) -> Result:
    """Request a recomputation for every active user, once per tick (before the 09:00 digest)."""
    now = analytics.tick_time(timestamp)
    with db.session_scope() as session:
        run = analytics.claim_tick(session, "recommendations.generate_daily", now)
        if run is None:
            return {"skipped": "this tick already ran"}
        users = analytics.active_user_ids(session, now)
        deferred = [u for u in users if recommendations.request_refresh(session, u) is not None]
        run.data = {"users": len(users), "deferred": len(deferred)}
    return {"users": len(users), "deferred": len(deferred)}
