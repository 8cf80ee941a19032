"""Stalled-job rescue: jobs left `doing` by a worker that died are re-queued.

A worker heartbeats every HIRING_JOBS_HEARTBEAT_SECONDS (10 s). When it has been silent
for three heartbeats (killed with -9, machine lost, cut off from the database),
Procrastinate reports its `doing` jobs as stalled but leaves them be (upstream issue
#740). A worker cut off from the database stopped those jobs itself after two heartbeats
without a renewal (its lease, queue/manager.py), so they no longer run anywhere. The
periodic task re-queues them through the task's retry policy, so a job that keeps
killing its worker ends in the dead-letter queue instead of looping, and closes their
open attempt rows as
`interrupted`. Jobs of live workers are never touched: their heartbeat is fresh.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from procrastinate import App, BaseRetryStrategy
from procrastinate.jobs import Job, Status

from hiring_jobs.sql import QUEUE

logger = logging.getLogger(__name__)

CLOSE_INTERRUPTED_ATTEMPTS = QUEUE["close_interrupted_attempts"]


class WorkerLost(Exception):
    """The worker died while running the job; retried like any transient error."""


async def rescue_stalled_jobs(app: App, *, stalled_after: float) -> int:
    """Re-queue (or fail, when retries are exhausted) every stalled job; return how many."""
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after)
    rescued = 0
    for job in stalled:
        if await _rescue(app, job):
            rescued += 1
    await app.job_manager.prune_stalled_workers(stalled_after)
    # Attempts left `running` whose job is no longer running them: their end could not be
    # written (a database restart at that moment), or their job was re-queued since. Only
    # those older than the stall threshold: a live attempt is written before its job ends.
    await app.connector.execute_query_async(  # type: ignore[arg-type]
        QUEUE["close_orphaned_attempts"], stalled_after=stalled_after
    )
    return rescued


async def _rescue(app: App, job: Job) -> bool:
    assert job.id is not None
    await app.connector.execute_query_async(CLOSE_INTERRUPTED_ATTEMPTS, job_id=job.id)  # type: ignore[arg-type]
    retry_at = _retry_at(app, job)
    try:
        if retry_at is None:
            await app.job_manager.finish_job_by_id_async(job.id, Status.FAILED, delete_job=False)
            logger.warning("job %s (%s) failed: its worker died", job.id, job.task_name)
        else:
            await app.job_manager.retry_job_by_id_async(job.id, retry_at=retry_at)
            logger.warning("job %s (%s) re-queued: its worker died", job.id, job.task_name)
    except Exception:
        # Another rescuer, or the worker itself coming back, got there first.
        logger.info("job %s changed while being rescued; left as it is", job.id)
        return False
    return True


def _retry_at(app: App, job: Job) -> datetime | None:
    task = app.tasks.get(job.task_name)
    strategy = task.retry_strategy if task else None
    if isinstance(strategy, BaseRetryStrategy):
        decision = strategy.get_retry_decision(exception=WorkerLost(), job=job)
        return (decision.retry_at or datetime.now(UTC)) if decision else None
    # No retry policy: at-least-once delivery still deserves one more run.
    return datetime.now(UTC) if job.attempts == 0 else None
