"""Health and metrics.

GET /health: liveness, public: 200 while the database answers, 503 with the reason if not.
GET /health/detailed and GET /metrics: queue state for people and Prometheus; they name
workers and queues, so they need a login (Prometheus: a token with the `read` scope).
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from web.db import get_engine, get_session
from web.queries import metrics, overview
from web.queries.dead_letter_counts import pending_dead_letters
from web.security import login_required

bp = Blueprint("health", __name__)


def _ping() -> tuple[float | None, str | None]:
    """Database round-trip in ms, or None and the reason it failed."""
    started = time.perf_counter()
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc) or type(exc).__name__).strip().splitlines()[0]
        return None, reason
    return round((time.perf_counter() - started) * 1000, 2), None


@bp.get("/health")
def health() -> ResponseReturnValue:
    latency_ms, reason = _ping()
    if latency_ms is None:
        return jsonify(status="unavailable", database="unreachable", reason=reason), 503
    return jsonify(status="ok", database="ok", database_latency_ms=latency_ms)


@bp.get("/health/detailed")
@login_required
def health_detailed() -> ResponseReturnValue:
    latency_ms, reason = _ping()
    if latency_ms is None:
        body = {
            "status": "unhealthy",
            "components": {"database": {"status": "unhealthy", "reason": reason}},
        }
        return jsonify(body), 503
    components = _components(get_session(), latency_ms)
    degraded = any(part["status"] != "healthy" for part in components.values())
    return jsonify(status="degraded" if degraded else "healthy", components=components)


def _components(session: Session, latency_ms: float) -> dict[str, dict[str, Any]]:
    found_workers = overview.workers(session)
    live = [worker for worker in found_workers if worker.live]
    stats = overview.queue_stats(session)
    waiting = sum(queue.waiting for queue in stats)
    stalled = overview.stalled_jobs(session)
    oldest = max((q.oldest_waiting_seconds or 0 for q in stats), default=0) or None
    pending = pending_dead_letters(session)
    return {
        "database": {"status": "healthy", "latency_ms": latency_ms},
        "workers": {
            "status": "healthy" if live or not waiting else "unhealthy",
            "workers_count": len(live),
            "workers": [f"worker-{worker.id}" for worker in live],
            "stalled_workers": len(found_workers) - len(live),
            "active_tasks": sum(worker.running for worker in live),
            "stalled_jobs": len(stalled),
        },
        "queues": {
            "status": "healthy" if not stalled else "degraded",
            "depths": {queue.name: queue.counts["todo"].as_dict() for queue in stats},
            "running": {queue.name: queue.counts["doing"].value for queue in stats},
            "oldest_pending_seconds": oldest,
        },
        "dead_letters": {"status": "healthy", "pending": pending.as_dict()},
    }


@bp.get("/metrics")
@login_required
def prometheus_metrics() -> ResponseReturnValue:
    session = get_session()
    body = metrics.render(session, dead_letters_pending=pending_dead_letters(session).value)
    return Response(
        body, mimetype="text/plain", content_type="text/plain; version=0.0.4; charset=utf-8"
    )
