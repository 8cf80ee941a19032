"""Workers: Procrastinate knows ids and heartbeats; our attempts add host, pid and queues."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from hiring_jobs.settings import get_settings
from web.queries import overview

# What each worker is running now, and where (the attempt row written when it started).
_RUNNING = """
SELECT j.worker_id, j.id AS job_id, j.task_name, j.queue_name, a.started_at,
       a.worker_name, a.hostname, a.pid
FROM procrastinate_jobs j
LEFT JOIN LATERAL (
    SELECT started_at, worker_name, hostname, pid FROM job_attempts
    WHERE job_id = j.id ORDER BY attempt DESC LIMIT 1
) a ON true
WHERE j.status = 'doing' AND j.worker_id IS NOT NULL
ORDER BY j.worker_id, j.id
LIMIT 1000
"""

# Worker processes seen in the last hour (by name), from the attempts they recorded.
_SEEN = """
SELECT worker_name, hostname, pid, array_agg(DISTINCT queue ORDER BY queue) AS queues,
       count(*) AS attempts, max(started_at) AS last_started,
       count(*) FILTER (WHERE outcome = 'running') AS running
FROM job_attempts
WHERE started_at >= now() - interval '1 hour' AND worker_name IS NOT NULL
GROUP BY worker_name, hostname, pid
ORDER BY max(started_at) DESC
LIMIT 200
"""


def running_by_worker(session: Session) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    for row in session.execute(text(_RUNNING)):
        found.setdefault(row.worker_id, []).append(dict(row._mapping))
    return found


def processes_seen(session: Session) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in session.execute(text(_SEEN))]


def workers_data(session: Session) -> dict[str, Any]:
    return {
        "workers": overview.workers(session),
        "running": running_by_worker(session),
        "processes": processes_seen(session),
        "stalled_jobs": overview.stalled_jobs(session),
        "heartbeat": get_settings().heartbeat_seconds,
        "stalled_after": get_settings().stalled_after_seconds,
    }
