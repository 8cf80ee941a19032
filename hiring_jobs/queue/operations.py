"""Actions on jobs, each in the caller's transaction: the one home of retry, cancel, abort,
delete and their bulk forms; the admin pages, the API, the CLI and erasure call these.

Single jobs go through Procrastinate's JobManager on the session's own psycopg connection
(`cancel_job_by_id(..., connection=)`). In 3.10 `retry_job_by_id` has no `connection=`
parameter and would commit on a pool connection of its own, apart from the audit row, so
retry of a stalled running job runs the same named query (`sql.queries["retry_job"]`)
through the same connector on our connection; a failed job is put back by one UPDATE of
our own (queue.sql retry_failed_jobs) that does not count its last run twice. The
never-opened manager and the driver seam are queue/defer.py's. Bulk actions run the same
statements once for many ids; which jobs a bulk
action takes (the page's filter) is web/queries/bulk.py's business. A running job counts
as stalled after settings.stalled_after_seconds of worker silence, as for the rescue.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from procrastinate import sql
from procrastinate.exceptions import ConnectorException
from sqlalchemy import (
    BigInteger,
    BindParameter,
    any_,
    bindparam,
    delete,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from hiring_jobs import audit
from hiring_jobs.models import JobAttempt
from hiring_jobs.queue.defer import driver, sync_manager
from hiring_jobs.settings import get_settings
from hiring_jobs.sql import QUEUE, run


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


def retry(session: Session, job_id: int, *, by: str) -> None:
    """Back to `todo`, runnable at once: a failed job, or a running one whose worker died."""
    status = _retryable_status(session, job_id)
    if status is None:
        raise ActionError(
            f"job {job_id} cannot be retried: only failed jobs and stalled running jobs can"
        )
    if status == "failed":
        run(session, QUEUE["retry_failed_jobs"], {"ids": [job_id]})
    else:
        _retry_abandoned_run(session, job_id)
    audit.record(session, actor=by, action="job.retry", target=f"job {job_id}", job_count=1)


def _retry_abandoned_run(session: Session, job_id: int) -> None:
    """Procrastinate's own retry: it counts the run the dead worker left behind."""
    try:
        with session.begin_nested():
            sync_manager.connector.get_sync_connector().execute_query_one_with_connection(
                driver(session),
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
    params = {"id": job_id, "stalled_after": get_settings().stalled_after_seconds}
    row = run(session, QUEUE["job_retryable"], params).one_or_none()
    if row is None or not (row.status == "failed" or (row.status == "doing" and row.stalled)):
        return None
    return str(row.status)


def cancel(session: Session, job_id: int, *, by: str, abort: bool = False) -> None:
    """Cancel a waiting job; with `abort`, also ask a running job to stop."""
    done = sync_manager.cancel_job_by_id(job_id, abort=abort, connection=driver(session))
    if not done:
        states = "waiting or running" if abort else "waiting"
        raise ActionError(f"job {job_id} cannot be cancelled: only {states} jobs can")
    action = "job.abort" if abort else "job.cancel"
    audit.record(session, actor=by, action=action, target=f"job {job_id}", job_count=1)


def _bulk_retry(session: Session, ids: list[int]) -> int:
    if not ids:
        return 0
    run(session, QUEUE["retry_failed_jobs"], {"ids": ids})
    return len(ids)


def stop(session: Session, ids: list[int], *, abort: bool) -> dict[str, int]:
    """Cancel the waiting jobs among `ids`; with `abort`, ask running ones to stop too.

    Procrastinate's own function, once per job in one statement; how many were stopped,
    by the status each had (todo: cancelled, doing: asked to abort).
    """
    stopped = run(session, QUEUE["stop_jobs"], {"ids": ids, "abort": abort})
    return {status: int(count) for status, count in stopped}


def discard_dead_letters(session: Session, ids: list[int], *, by: str, notes: str) -> int:
    """Close the pending dead letters among `ids` as discarded, with a review row each."""
    discarded = session.execute(
        text(
            "WITH closed AS (UPDATE dead_letters SET reviewed = true"
            " WHERE job_id = ANY(:ids) AND NOT reviewed RETURNING job_id)"
            " INSERT INTO dead_letter_reviews (job_id, action, notes, reviewed_by)"
            " SELECT job_id, 'discarded', :notes, :by FROM closed"
        ),
        {"ids": ids, "notes": notes, "by": by},
    )
    return discarded.rowcount


def _bulk_cancel(session: Session, ids: list[int]) -> int:
    return sum(stop(session, ids, abort=False).values())


def _bulk_delete(session: Session, ids: list[int]) -> int:
    if not ids:
        return 0
    statuses = list(BulkAction.DELETE.eligible_statuses)
    deleted = run(session, QUEUE["delete_finished_jobs"], {"ids": ids, "statuses": statuses})
    gone = [row.id for row in deleted]
    # Attempts have no foreign key (retention deletes both): remove them with their jobs.
    session.execute(delete(JobAttempt).where(JobAttempt.job_id == any_(id_array("gone", gone))))
    return len(gone)


def id_array(name: str, ids: Sequence[int]) -> BindParameter[list[int]]:
    """One array parameter, not one per id (PostgreSQL takes at most 65,535 parameters)."""
    return bindparam(name, list(ids), type_=ARRAY(BigInteger))


_BULK = {
    BulkAction.RETRY: _bulk_retry,
    BulkAction.CANCEL: _bulk_cancel,
    BulkAction.DELETE: _bulk_delete,
}


def apply_bulk(session: Session, action: BulkAction, ids: list[int]) -> int:
    """Apply `action` to chosen, locked job ids (each eligible for it); how many it touched."""
    return _BULK[action](session, ids)
