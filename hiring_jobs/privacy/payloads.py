"""Free text a job needs, kept in `job_payloads` so job arguments stay identifiers.

A job's arguments live on in history, dead letters and exports, out of reach of its
subject's erasure; a payload row belongs to its subject (`subject_user_id`) and goes
with them at erasure, and at retention once its job is history.
"""

from __future__ import annotations

from email.utils import parseaddr
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hiring_jobs.models import JobPayload, User
from hiring_jobs.queue.retry import PermanentError


def store(
    session: Session, kind: str, content: dict[str, Any], *, subject_user_id: int | None
) -> int:
    """Add a payload in the caller's transaction and return its id for the job's arguments."""
    payload = JobPayload(kind=kind, content=content, subject_user_id=subject_user_id)
    session.add(payload)
    session.flush()
    return payload.id


def load(session: Session, payload_id: int, kind: str) -> dict[str, Any]:
    """The payload's content; a payload that is gone (erased, past retention) is permanent."""
    payload = session.get(JobPayload, payload_id)
    if payload is None:
        raise PermanentError(f"payload {payload_id} is gone (erased or past retention)")
    if payload.kind != kind:
        raise PermanentError(f"payload {payload_id} is a {payload.kind!r}, not a {kind!r}")
    return payload.content


def user_id_for_address(session: Session, address: str) -> int | None:
    """The account an email address belongs to, if any (the subject of a message to it)."""
    bare = parseaddr(address)[1].lower()
    return session.scalar(select(User.id).where(func.lower(User.email) == bare))
