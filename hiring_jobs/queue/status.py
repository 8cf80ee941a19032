"""A job's status in the terms Celery users know, with its result or error.

PENDING (waiting, never run), STARTED (running), PROGRESS (running, and it reported its
progress: `progress` holds done, total and message), RETRY (waiting for another attempt),
SUCCESS, FAILURE, CANCELLED (cancelled or aborted).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

_STATUS_SQL = """
SELECT j.id, j.task_name, j.queue_name, j.status, j.attempts, j.scheduled_at,
       a.result, a.exception_type, a.error_message, a.outcome, a.started_at,
       p.done, p.total, p.message, p.updated_at AS progress_at
FROM procrastinate_jobs j
LEFT JOIN job_progress p ON p.job_id = j.id
LEFT JOIN LATERAL (
    SELECT result, exception_type, error_message, outcome, started_at
    FROM job_attempts WHERE job_id = j.id
    -- The order of ix_job_attempts_job: "ORDER BY id DESC" alone let the planner walk the
    -- primary key backwards from the newest attempt, through every later job's rows.
    ORDER BY attempt DESC, id DESC LIMIT 1
) a ON true
WHERE j.id = :id
"""


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
    row = session.execute(text(_STATUS_SQL), {"id": job_id}).one_or_none()
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
