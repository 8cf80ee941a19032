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
from hiring_jobs.settings import get_settings
from hiring_jobs.sql import QUEUE, run

FINISHED_STATUSES = ("succeeded", "failed", "cancelled", "aborted")


def delete_expired_tokens(session: Session, now: datetime) -> int:
    """Delete verification and reset tokens that expired before `now`."""
    return session.execute(delete(AuthToken).where(AuthToken.expires_at < now)).rowcount


def purge_finished_jobs(session: Session, cutoff: datetime, *, limit: int) -> int:
    """Delete up to `limit` jobs that finished before `cutoff`, with their attempts,
    dead-letter reviews, progress and events. Call again until it returns less than `limit`."""
    rows = run(
        session,
        QUEUE["purge_finished_jobs"],
        {"statuses": list(FINISHED_STATUSES), "cutoff": cutoff, "limit": limit},
    )
    return len(rows.all())


# --- health -------------------------------------------------------------------------------


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
    depths.update({name: int(n) for name, n in run(session, QUEUE["queue_depths"])})
    timeout = get_settings().stalled_after_seconds
    workers = run(session, QUEUE["live_workers_and_stalled_jobs"], {"timeout": timeout})
    live, stalled = workers.one()
    oldest = run(session, QUEUE["oldest_pending_seconds"]).scalar()
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
