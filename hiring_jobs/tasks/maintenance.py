"""Maintenance tasks: expired tokens, job-history retention, the periodic health check."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hiring_jobs import db
from hiring_jobs.app import app
from hiring_jobs.queue import retry
from hiring_jobs.queue.queues import Priority, Queue
from hiring_jobs.services import analytics, maintenance
from hiring_jobs.settings import get_settings
from hiring_jobs.tasks.family import TaskFamily

Result = dict[str, Any]
# Jobs deleted per transaction: each batch holds its row locks for milliseconds.
PURGE_BATCH = 1000


_task = TaskFamily("maintenance", Queue.MAINTENANCE, retry.DEFAULT, Priority.LOW).task


@app.periodic(cron="0 * * * *", periodic_id="hourly")
@_task("cleanup_expired_tokens")
def cleanup_expired_tokens(timestamp: int) -> Result:
    with db.session_scope() as session:
        deleted = maintenance.delete_expired_tokens(session, analytics.tick_time(timestamp))
    return {"deleted": deleted}


@app.periodic(cron="0 0 * * *", periodic_id="daily")
@_task("purge_job_history", long=True)
def purge_job_history(timestamp: int, days: int | None = None) -> Result:
    """Delete jobs finished more than `days` ago (default HIRING_JOBS_JOB_RETENTION_DAYS)."""
    retention = days if days is not None else get_settings().job_retention_days
    cutoff = analytics.tick_time(timestamp) - timedelta(days=retention)
    deleted = 0
    while True:
        with db.session_scope() as session:
            batch = maintenance.purge_finished_jobs(session, cutoff, limit=PURGE_BATCH)
        deleted += batch
        if batch < PURGE_BATCH:
            return {"deleted": deleted, "cutoff": cutoff.isoformat()}


@app.periodic(cron="0 * * * *", periodic_id="hourly")
@_task("record_health_check", Priority.NORMAL)
def record_health_check(timestamp: int | None = None) -> Result:
    """Database latency, queue depths, live workers, stalled jobs, oldest pending job."""
    tick = analytics.tick_time(timestamp) if timestamp is not None else None
    with db.session_scope() as session:
        check, created = maintenance.record_health(session, tick)
        return {"health_check_id": check.id, "created": created}
