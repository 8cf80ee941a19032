"""Worker middleware that gives a job's logs (and its attempt row) the job's context; and
`context.progress(done, total, message)` for tasks (queue/job_progress.py)."""

from __future__ import annotations

from typing import Any

from procrastinate import JobContext
from procrastinate.middleware import AsyncCallNext
from procrastinate.worker import Worker

from hiring_jobs.logs import REQUEST_ID_ARG, log_context
from hiring_jobs.queue import job_progress

job_progress.install()


async def bind_job_context(call_next: AsyncCallNext, context: JobContext, worker: Worker) -> Any:
    job = context.job
    # The request id rides in the arguments; the task function never sees it. The
    # worker calls the task with this same dict, so removing it here is enough.
    request_id = job.task_kwargs.pop(REQUEST_ID_ARG, None)
    fields: dict[str, Any] = {
        "job_id": job.id,
        "task": job.task_name,
        "attempt": job.attempts + 1,
        "queue": job.queue,
    }
    if request_id:
        fields["request_id"] = request_id
    with log_context(**fields):
        return await call_next()
