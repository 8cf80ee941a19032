"""A capped count of unreviewed failures, for /health/detailed and /metrics.

hiring_jobs.queue.dead_letters.stats() groups every pending failure with its last error:
right for the dead-letters page, too heavy for a probe scraped every few seconds. Same
definition (failed, no review), counted up to COUNT_CAP + 1.
"""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from hiring_jobs.models import DeadLetterReview
from web.queries.jobs import CappedCount, capped_count
from web.queries.tables import jobs


def pending_dead_letters(session: Session) -> CappedCount:
    reviewed = exists(select(DeadLetterReview.id).where(DeadLetterReview.job_id == jobs.c.id))
    return capped_count(session, jobs.c.status == "failed", ~reviewed)
