"""Privacy tasks: the daily retention run (privacy/retention.py)."""

from __future__ import annotations

import logging

from hiring_jobs import audit, db
from hiring_jobs.app import app
from hiring_jobs.privacy import retention
from hiring_jobs.queue import retry
from hiring_jobs.queue.job_progress import TaskContext, as_step_reporter
from hiring_jobs.queue.queues import Priority, Queue
from hiring_jobs.services.analytics import tick_time
from hiring_jobs.settings import get_settings
from hiring_jobs.tasks.family import TaskFamily

logger = logging.getLogger(__name__)

_task = TaskFamily("privacy", Queue.MAINTENANCE, retry.DEFAULT, Priority.LOW).task


# 01:30 UTC: off-peak, and apart from the midnight job-history purge and the 02:00 file
# cleanup, which it would otherwise compete with for the same tables.
@app.periodic(cron="30 1 * * *", periodic_id="daily")
@_task("enforce_retention", long=True, pass_context=True)
def enforce_retention(context: TaskContext, timestamp: int) -> dict[str, int]:
    """Remove what is past its retention period; return, log and audit the counts.

    Ages are measured from the tick, not from when a worker got to the job. Running twice
    (at-least-once delivery) removes nothing the second time and audits zeros.
    """
    settings = get_settings()
    report = retention.enforce_retention(
        db.get_sessionmaker(),
        settings.files_dir,
        retention.RetentionPolicy.from_settings(settings),
        now=tick_time(timestamp),
        progress=as_step_reporter(context),
    )
    counts = report.as_dict()
    with db.session_scope() as session:
        audit.record(session, actor="retention", action="retention", details=counts)
    logger.info(
        "retention removed: %s", ", ".join(f"{kind} {count}" for kind, count in counts.items())
    )
    return counts
