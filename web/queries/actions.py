"""Operator actions on jobs, each in the caller's transaction together with its audit row.

Single jobs go through Procrastinate's JobManager on the session's own psycopg connection
(`cancel_job_by_id(..., connection=)`). In 3.10 `retry_job_by_id` has no `connection=`
parameter and would commit on a pool connection of its own, apart from the audit row, so
retry of a stalled running job runs the same named query (`sql.queries["retry_job"]`)
through the same connector on our connection. A failed job is put back by one UPDATE of
our own (RETRY_FAILED_JOBS) that does not count its last run twice; bulk retry uses it too.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from typing import Any

from procrastinate import SyncPsycopgConnector, sql
from procrastinate.exceptions import ConnectorException
from procrastinate.manager import JobManager
from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    any_,
    bindparam,
    delete,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from hiring_jobs.models import JobAttempt
from hiring_jobs.queue import audit
from web.queries.jobs import JobFilter, capped_count
from web.queries.tables import jobs

# Never opened: it only runs queries on the connections we hand it.
_manager = JobManager(SyncPsycopgConnector())
# One bulk action touches at most this many jobs; the preview says when more match.
BULK_LIMIT = 10_000
# Procrastinate's stalled_worker_timeout default: a worker silent this long is gone.
STALLED_AFTER_SECONDS = 30.0

# A failed job back to `todo` without counting a run again: Procrastinate's finish already
# counted the failed run, and its retry function would count it twice, so the next attempt
# would be numbered one too high (attempts 1 and 3, "Attempts 3" after two runs). The
# status trigger still records the `retried` event.
RETRY_FAILED_JOBS = """
UPDATE procrastinate_jobs SET status = 'todo', scheduled_at = NULL
 WHERE id = ANY(CAST(:ids AS bigint[])) AND status = 'failed'
"""


class ActionError(ValueError):
    """The job is not in a state that allows the action; the message says why."""


class BulkAction(enum.StrEnum):
    RETRY = "retry"
    CANCEL = "cancel"
    DELETE = "delete"

    @property
    def eligible_statuses(self) -> tuple[str, ...]:
        # Running jobs are left alone: they are aborted one by one, from their page.
        return {
            BulkAction.RETRY: ("failed",),
            BulkAction.CANCEL: ("todo",),
            BulkAction.DELETE: ("succeeded", "failed", "cancelled", "aborted"),
        }[self]


def _driver(session: Session) -> Any:
    return session.connection().connection.driver_connection


def retry(session: Session, job_id: int, *, by: str) -> None:
    """Back to `todo`, runnable at once: a failed job, or a running one whose worker died."""
    status = _retryable_status(session, job_id)
    if status is None:
        raise ActionError(
            f"job {job_id} cannot be retried: only failed jobs and stalled running jobs can"
        )
    if status == "failed":
        session.execute(text(RETRY_FAILED_JOBS), {"ids": [job_id]})
    else:
        _retry_abandoned_run(session, job_id)
    audit.record(session, actor=by, action="job.retry", target=f"job {job_id}", job_count=1)


def _retry_abandoned_run(session: Session, job_id: int) -> None:
    """Procrastinate's own retry: it counts the run the dead worker left behind."""
    try:
        with session.begin_nested():
            _manager.connector.get_sync_connector().execute_query_one_with_connection(
                _driver(session),
                query=sql.queries["retry_job"],
                job_id=job_id,
                retry_at=None,
                new_priority=None,
                new_queue_name=None,
                new_lock=None,
            )
    except ConnectorException:
        raise ActionError(f"job {job_id} cannot be retried: only failed jobs can") from None


def _retryable_status(session: Session, job_id: int) -> str | None:
    """'failed' or 'doing' when the job may be retried, else None."""
    # Retrying a job that really runs would run it twice: only a dead worker's job may.
    row = session.execute(
        text(
            "SELECT j.status, (w.id IS NULL OR w.last_heartbeat < now() - make_interval("
            "secs => :timeout)) AS stalled FROM procrastinate_jobs j"
            " LEFT JOIN procrastinate_workers w ON w.id = j.worker_id WHERE j.id = :id"
        ),
        {"id": job_id, "timeout": STALLED_AFTER_SECONDS},
    ).one_or_none()
    if row is None or not (row.status == "failed" or (row.status == "doing" and row.stalled)):
        return None
    return str(row.status)


def cancel(session: Session, job_id: int, *, by: str, abort: bool = False) -> None:
    """Cancel a waiting job; with `abort`, also ask a running job to stop."""
    done = _manager.cancel_job_by_id(job_id, abort=abort, connection=_driver(session))
    if not done:
        states = "waiting or running" if abort else "waiting"
        raise ActionError(f"job {job_id} cannot be cancelled: only {states} jobs can")
    action = "job.abort" if abort else "job.cancel"
    audit.record(session, actor=by, action=action, target=f"job {job_id}", job_count=1)


@dataclasses.dataclass(frozen=True)
class BulkPlan:
    action: BulkAction
    job_filter: JobFilter
    ids: tuple[int, ...]  # chosen rows; empty: every job the filter matches

    def conditions(self) -> list[ColumnElement[bool]]:
        found = self.job_filter.conditions()
        if self.ids:
            found.append(jobs.c.id == any_(_id_array("plan_ids", self.ids)))
        found.append(jobs.c.status.in_(self.action.eligible_statuses))
        return found

    def describe(self) -> str:
        scope = f"{len(self.ids)} selected jobs" if self.ids else "every job matching the filter"
        return f"{self.action.value} {scope} ({'/'.join(self.action.eligible_statuses)} only)"


def preview(session: Session, plan: BulkPlan) -> dict[str, Any]:
    """How many jobs the action would touch, counted like the page counts (capped)."""
    if plan.job_filter.is_empty and not plan.ids:
        raise ActionError("choose jobs or set a filter first: a bulk action needs a scope")
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
    touched = _BULK[plan.action](session, ids)
    audit.record(
        session,
        actor=by,
        action=f"jobs.bulk_{plan.action.value}",
        target=plan.describe(),
        job_count=touched,
        details={"filter": plan.job_filter.as_query(), "ids": list(plan.ids)[:100]},
    )
    return touched


def _bulk_retry(session: Session, ids: list[int]) -> int:
    if not ids:
        return 0
    session.execute(text(RETRY_FAILED_JOBS), {"ids": ids})
    return len(ids)


def _bulk_cancel(session: Session, ids: list[int]) -> int:
    if not ids:
        return 0
    cancelled = session.scalar(
        text(
            "SELECT count(procrastinate_cancel_job_v1(id, false, false))"
            " FROM unnest(CAST(:ids AS bigint[])) AS id"
        ),
        {"ids": ids},
    )
    return int(cancelled or 0)


def _bulk_delete(session: Session, ids: list[int]) -> int:
    if not ids:
        return 0
    deleted = session.execute(
        delete(jobs)
        .where(jobs.c.id == any_(_id_array("ids", ids)))
        .where(jobs.c.status.in_(BulkAction.DELETE.eligible_statuses))
        .returning(jobs.c.id)
    ).all()
    gone = [row.id for row in deleted]
    # Attempts have no foreign key (retention deletes both): remove them with their jobs.
    session.execute(delete(JobAttempt).where(JobAttempt.job_id == any_(_id_array("gone", gone))))
    return len(gone)


def _id_array(name: str, ids: Sequence[int]) -> BindParameter[list[int]]:
    """One array parameter, not one per id (PostgreSQL takes at most 65,535 parameters)."""
    return bindparam(name, list(ids), type_=ARRAY(BigInteger))


_BULK = {
    BulkAction.RETRY: _bulk_retry,
    BulkAction.CANCEL: _bulk_cancel,
    BulkAction.DELETE: _bulk_delete,
}
