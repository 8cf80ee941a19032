"""Queue upkeep that keeps the delivery guarantees: the stalled-job rescue."""

from __future__ import annotations

from procrastinate import JobContext

from hiring_jobs.app import app
from hiring_jobs.queue.queues import Priority, Queue
from hiring_jobs.queue.rescue import rescue_stalled_jobs
from hiring_jobs.settings import get_settings

# Every HIRING_JOBS_RESCUE_INTERVAL_SECONDS (croniter's sixth field is seconds): with the
# defaults (15 s, and 30 s without heartbeat) a dead worker's job runs again within ~50 s.
RESCUE_CRON = f"* * * * * */{get_settings().rescue_interval_seconds}"


@app.periodic(cron=RESCUE_CRON, periodic_id="rescue_stalled_jobs")
@app.task(
    name="queue.rescue_stalled_jobs",
    queue=Queue.MAINTENANCE,
    priority=Priority.URGENT,
    pass_context=True,
)
async def rescue_stalled(context: JobContext, timestamp: int) -> dict[str, int]:
    stalled_after = get_settings().stalled_after_seconds
    return {"rescued": await rescue_stalled_jobs(context.app, stalled_after=stalled_after)}
