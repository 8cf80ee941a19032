"""A capped count of unreviewed failures, for /health/detailed and /metrics."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hiring_jobs.models import DeadLetterRecord
from web.queries.jobs import COUNT_CAP, CappedCount


def pending_dead_letters(session: Session) -> CappedCount:
    pending = select(DeadLetterRecord.job_id).where(~DeadLetterRecord.reviewed).limit(COUNT_CAP + 1)
    value = session.scalar(select(func.count()).select_from(pending.subquery())) or 0
    return CappedCount(min(value, COUNT_CAP), value > COUNT_CAP)
