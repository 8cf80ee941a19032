"""Workers: Procrastinate knows ids and heartbeats; our attempts add host, pid and queues."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

# What each worker is running now, and where (the attempt row written when it started).
_RUNNING = """
SELECT j.worker_id, j.id AS job_id, j.task_name, j.queue_name,
       coalesce(a.started_at, (SELECT max(e.at) FROM procrastinate_events e
                               WHERE e.job_id = j.id AND e.type = 'started')) AS started_at,
       coalesce(a.worker_name, p.worker_name) AS worker_name,
       coalesce(a.hostname, p.hostname) AS hostname, coalesce(a.pid, p.pid) AS pid
FROM procrastinate_jobs j
LEFT JOIN LATERAL (
    SELECT started_at, worker_name, hostname, pid FROM job_attempts
    WHERE job_id = j.id ORDER BY attempt DESC LIMIT 1
) a ON true
-- Between fetch and the attempt row, Procrastinate's `started` event and the worker's
-- registration say when and where.
LEFT JOIN worker_processes p ON p.worker_id = j.worker_id
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


# What each live registration recorded about itself (queue/registration.py).
_REGISTRATIONS = """
SELECT p.worker_id, p.worker_name, p.hostname, p.pid, p.concurrency, p.slots, p.pool,
       p.started_at
FROM worker_processes p
JOIN procrastinate_workers w ON w.id = p.worker_id
ORDER BY p.worker_id
LIMIT 1000
"""

_REGISTRATION = """
SELECT p.worker_id, p.worker_name, p.hostname, p.pid, p.concurrency, p.slots, p.started_at
FROM worker_processes p WHERE p.worker_id = :worker_id
"""


def registrations(session: Session) -> dict[int, dict[str, Any]]:
    return {row.worker_id: dict(row._mapping) for row in session.execute(text(_REGISTRATIONS))}


def registration(session: Session, worker_id: int | None) -> dict[str, Any] | None:
    if worker_id is None:
        return None
    row = session.execute(text(_REGISTRATION), {"worker_id": worker_id}).one_or_none()
    return None if row is None else dict(row._mapping)


def slot_use(slots: dict[str, int], running: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Busy and total slots per bucket: a named queue, or "*" for the queues not named."""
    busy = dict.fromkeys(slots, 0)
    for job in running:
        bucket = job["queue_name"] if job["queue_name"] in slots else "*"
        busy[bucket] = busy.get(bucket, 0) + 1
    return [{"queue": queue, "busy": busy[queue], "slots": slots.get(queue)} for queue in busy]


def running_by_worker(session: Session) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    for row in session.execute(text(_RUNNING)):
        found.setdefault(row.worker_id, []).append(dict(row._mapping))
    return found


def processes_seen(session: Session) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in session.execute(text(_SEEN))]
