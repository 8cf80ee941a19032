"""A job's status in the terms Celery users know, with its result or error.

PENDING (waiting, never run), STARTED (running), PROGRESS (running, and it reported its
progress: `progress` holds done, total and message), RETRY (waiting for another attempt),
SUCCESS, FAILURE, CANCELLED (cancelled or aborted).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy.orm import Session

from hiring_jobs.sql import QUEUE, run


@dataclasses.dataclass(frozen=True)
class JobStatus:
    job_id: int
    task_name: str
    queue: str
    state: str
    attempts: int
    result: Any = None
    error: dict[str, str] | None = None
    progress: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def state_of(status: str, attempts: int) -> str:
    if status == "todo":
        return "RETRY" if attempts > 0 else "PENDING"
    return {
        "doing": "STARTED",
        "succeeded": "SUCCESS",
        "failed": "FAILURE",
        "cancelled": "CANCELLED",
        "aborted": "CANCELLED",
    }[status]


def job_status(session: Session, job_id: int) -> JobStatus | None:
    """None when no job has this id (never deferred, or deleted by retention)."""
    row = run(session, QUEUE["job_status"], {"id": job_id}).one_or_none()
    if row is None:
        return None
    state = state_of(row.status, row.attempts)
    progress = None
    # Reported during the latest attempt: an earlier attempt's progress is not this run's.
    if row.done is not None and (row.started_at is None or row.progress_at >= row.started_at):
        progress = {
            "done": row.done,
            "total": row.total,
            "message": row.message,
            "updated_at": row.progress_at,
        }
        if state == "STARTED":
            state = "PROGRESS"
    error = None
    if state in {"FAILURE", "RETRY"} and row.exception_type:
        error = {"type": row.exception_type, "message": row.error_message or ""}
    return JobStatus(
        job_id=row.id,
        task_name=row.task_name,
        queue=row.queue_name,
        state=state,
        attempts=row.attempts,
        result=row.result if state == "SUCCESS" else None,
        error=error,
        progress=progress,
    )
