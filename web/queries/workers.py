"""Workers: Procrastinate knows ids and heartbeats; our attempts add host, pid and queues."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from hiring_jobs.settings import get_settings
from hiring_jobs.sql import QUEUE, run
from web.queries import overview

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
    for row in run(session, QUEUE["running_by_worker"]):
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
