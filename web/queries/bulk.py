"""Bulk actions on jobs chosen by the page's filter (or ticked ids): counted, then applied.

Which jobs: the filter and the ids, here; what is done to them: queue/operations.py.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from hiring_jobs import audit
from hiring_jobs.queue import operations
from web.queries.jobs import JobFilter, capped_count
from web.queries.tables import jobs

# One bulk action touches at most this many jobs; the preview says when more match.
BULK_LIMIT = 10_000


@dataclasses.dataclass(frozen=True)
class BulkPlan:
    action: operations.BulkAction
    job_filter: JobFilter
    ids: tuple[int, ...]  # chosen rows; empty: every job the filter matches

    def conditions(self) -> list[ColumnElement[bool]]:
        found = self.job_filter.conditions()
        if self.ids:
            found.append(
                jobs.c.id == any_(bindparam("plan_ids", list(self.ids), type_=ARRAY(BigInteger)))
            )
        found.append(jobs.c.status.in_(self.action.eligible_statuses))
        return found

    def describe(self) -> str:
        scope = f"{len(self.ids)} selected jobs" if self.ids else "every job matching the filter"
        return f"{self.action.value} {scope} ({'/'.join(self.action.eligible_statuses)} only)"


def preview(session: Session, plan: BulkPlan) -> dict[str, Any]:
    """How many jobs the action would touch, counted like the page counts (capped)."""
    if plan.job_filter.is_empty and not plan.ids:
        raise operations.ActionError(
            "choose jobs or set a filter first: a bulk action needs a scope"
        )
    count = capped_count(session, *plan.conditions())
    return {
        "action": plan.action.value,
        "description": plan.describe(),
        "count": count.as_dict(),
        "limit": BULK_LIMIT,
        "over_limit": count.capped or count.value > BULK_LIMIT,
    }


def execute(session: Session, plan: BulkPlan, *, by: str) -> int:
    """Apply the action to at most BULK_LIMIT eligible jobs, oldest first; returns how many."""
    preview(session, plan)  # same scope checks
    chosen = (
        select(jobs.c.id)
        .where(*plan.conditions())
        .order_by(jobs.c.id)
        .limit(BULK_LIMIT)
        .with_for_update(skip_locked=True)
    )
    ids = [row.id for row in session.execute(chosen)]
    touched = operations.apply_bulk(session, plan.action, ids)
    audit.record(
        session,
        actor=by,
        action=f"jobs.bulk_{plan.action.value}",
        target=plan.describe(),
        job_count=touched,
        details={"filter": plan.job_filter.as_query(), "ids": list(plan.ids)[:100]},
    )
    return touched
