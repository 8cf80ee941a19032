"""Queue upkeep: the stalled-job rescue, and the rollups the dashboards read (throughput
per minute, dead-letter groups)."""

from __future__ import annotations

from procrastinate import JobContext

from hiring_jobs import db
from hiring_jobs.app import app
from hiring_jobs.queue import operations, retry, throughput
from hiring_jobs.queue.queues import Priority, Queue
from hiring_jobs.queue.rescue import rescue_stalled_jobs
from hiring_jobs.settings import get_settings
from hiring_jobs.tasks.family import TaskFamily

# Every HIRING_JOBS_RESCUE_INTERVAL_SECONDS (croniter's sixth field is seconds): with the
# defaults (15 s, and 30 s without heartbeat) a dead worker's job runs again within ~50 s.
RESCUE_CRON = f"* * * * * */{get_settings().rescue_interval_seconds}"


_task = TaskFamily("queue", Queue.MAINTENANCE, retry.NEVER, Priority.LOW).task


@app.periodic(cron=RESCUE_CRON, periodic_id="rescue_stalled_jobs")
@_task("rescue_stalled_jobs", Priority.URGENT, pass_context=True)
async def rescue_stalled(context: JobContext, timestamp: int) -> dict[str, int]:
    stalled_after = get_settings().stalled_after_seconds
    return {"rescued": await rescue_stalled_jobs(context.app, stalled_after=stalled_after)}


@app.periodic(cron="* * * * *", periodic_id="rollup_throughput")
@_task("rollup_throughput")
def rollup_throughput(timestamp: int) -> dict[str, int]:
    with db.session_scope() as session:
        return {
            "minutes": throughput.rollup(session),
            "dead_letter_groups": operations.fold_dead_letter_counts(session),
        }
