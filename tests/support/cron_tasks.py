"""A cron task that ticks every second, for tests that run real workers with it
(HIRING_JOBS_TASK_MODULES=tests.support.cron_tasks): never imported by other tests."""

from __future__ import annotations

from hiring_jobs.app import app


@app.periodic(cron="* * * * * *", periodic_id="every_second")
@app.task(name="tests.every_second", queue="default")
def every_second(timestamp: int) -> int:
    return timestamp
