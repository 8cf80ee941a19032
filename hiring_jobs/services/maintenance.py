"""Maintenance: expired tokens, job-history retention, and the periodic health reading.

Retention deletes finished jobs in batches (LIMIT, FOR UPDATE SKIP LOCKED, one short
transaction each), so the job table is never locked for long and workers keep fetching.
Procrastinate does not store when a job finished; its last event does (`procrastinate_events`,
which cascades with the job). Procrastinate's own delete trigger unlinks a deleted job from
`procrastinate_periodic_defers`, whose tick record (and so the once-per-tick guarantee) stays.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from hiring_jobs.models import AuthToken, HealthCheck
from hiring_jobs.queue.queues import ALL_QUEUES
from hiring_jobs.services.analytics import xact_lock

FINISHED_STATUSES = ("succeeded", "failed", "cancelled", "aborted")
# Procrastinate's default stalled-worker timeout: no heartbeat for this long means gone.
WORKER_TIMEOUT_SECONDS = 30


def delete_expired_tokens(session: Session, now: datetime) -> int:
    """Delete verification and reset tokens that expired before `now`."""
    return session.execute(delete(AuthToken).where(AuthToken.expires_at < now)).rowcount


_PURGE_SQL = text(
    """
    WITH doomed AS (
        SELECT j.id FROM procrastinate_jobs j
        WHERE j.status = ANY(CAST(:statuses AS procrastinate_job_status[]))
          AND (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id) < :cutoff
        ORDER BY j.id
        LIMIT :limit
        FOR UPDATE OF j SKIP LOCKED
    ), attempts AS (
        DELETE FROM job_attempts WHERE job_id IN (SELECT id FROM doomed)
    ), reviews AS (
        DELETE FROM dead_letter_reviews WHERE job_id IN (SELECT id FROM doomed)
    ), progress AS (
        DELETE FROM job_progress WHERE job_id IN (SELECT id FROM doomed)
    )
    DELETE FROM procrastinate_jobs WHERE id IN (SELECT id FROM doomed) RETURNING id
    """
)


def purge_finished_jobs(session: Session, cutoff: datetime, *, limit: int) -> int:
    """Delete up to `limit` jobs that finished before `cutoff`, with their attempts,
    dead-letter reviews, progress and events. Call again until it returns less than `limit`."""
    rows = session.execute(
        _PURGE_SQL, {"statuses": list(FINISHED_STATUSES), "cutoff": cutoff, "limit": limit}
    )
    return len(rows.all())


# --- health -------------------------------------------------------------------------------

_QUEUE_DEPTHS_SQL = text(
    "SELECT queue_name, count(*) FROM procrastinate_jobs WHERE status = 'todo' GROUP BY 1"
)
_WORKERS_SQL = text(
    """
    SELECT
      (SELECT count(*) FROM procrastinate_workers
       WHERE last_heartbeat >= now() - make_interval(secs => :timeout)) AS live_workers,
      (SELECT count(*) FROM procrastinate_jobs j
       LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
       WHERE j.status = 'doing'
         AND (w.id IS NULL OR w.last_heartbeat < now() - make_interval(secs => :timeout)))
        AS stalled_jobs
    """
)
# The oldest job that could run now: the earliest due scheduled job, or the first-deferred
# unscheduled one (ids grow with time, so the lowest id is the oldest).
_OLDEST_PENDING_SQL = text(
    """
    SELECT extract(epoch FROM now() - least(
        (SELECT min(scheduled_at) FROM procrastinate_jobs
         WHERE status = 'todo' AND scheduled_at <= now()),
        (SELECT min(e.at) FROM procrastinate_events e
         WHERE e.job_id = (SELECT min(id) FROM procrastinate_jobs
                           WHERE status = 'todo' AND scheduled_at IS NULL))
    ))
    """
)


@dataclasses.dataclass(frozen=True)
class Health:
    database_latency_ms: float
    queue_depths: dict[str, int]
    live_workers: int
    stalled_jobs: int
    oldest_pending_seconds: float | None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def read_health(session: Session) -> Health:
    started = time.perf_counter()
    session.execute(text("SELECT 1"))
    latency_ms = round((time.perf_counter() - started) * 1000, 3)
    depths = {queue: 0 for queue in ALL_QUEUES}
    depths.update({name: int(n) for name, n in session.execute(_QUEUE_DEPTHS_SQL)})
    live, stalled = session.execute(_WORKERS_SQL, {"timeout": WORKER_TIMEOUT_SECONDS}).one()
    oldest = session.scalar(_OLDEST_PENDING_SQL)
    return Health(
        database_latency_ms=latency_ms,
        queue_depths=depths,
        live_workers=int(live),
        stalled_jobs=int(stalled),
        oldest_pending_seconds=round(float(oldest), 3) if oldest is not None else None,
    )


def record_health(session: Session, tick: datetime | None) -> tuple[HealthCheck, bool]:
    """Store one reading; for a periodic tick, once: a reading at or after it is kept."""
    if tick is not None:
        xact_lock(session, "health_check")
        existing = session.scalars(
            select(HealthCheck).where(HealthCheck.checked_at >= tick).order_by(HealthCheck.id)
        ).first()
        if existing is not None:
            return existing, False
    reading = read_health(session)
    check = HealthCheck(**reading.as_dict())
    session.add(check)
    session.flush()
    return check, True
