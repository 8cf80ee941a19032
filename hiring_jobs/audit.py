"""The audit log: who did what to which jobs, from the CLI, the API or the web pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hiring_jobs.models import AuditLogEntry


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target: str = "",
    job_count: int = 0,
    details: dict[str, Any] | None = None,
) -> AuditLogEntry:
    """Add an entry in the caller's transaction: it commits only if the action does."""
    entry = AuditLogEntry(
        actor=actor, action=action, target=target, job_count=job_count, details=details or {}
    )
    session.add(entry)
    session.flush()
    return entry
