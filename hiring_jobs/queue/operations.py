"""Actions on jobs, each in the caller's transaction: the one home of retry, cancel, abort,
delete and their bulk forms, and of the dead-letter review (retry, discard, resolve, one
failure or a group); the admin pages, the API, the CLI and erasure call these.

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

A dead letter is a `procrastinate_jobs` row in status `failed` (retries exhausted or a
permanent error); triggers keep a `dead_letters` row for each, with the job's last error
(migration 0006). It is *pending* until someone reviews it: retries it (a new job with the
same task, arguments, queue and priority, linked from the review), discards it, or marks
it resolved. Reviews are rows in `dead_letter_reviews`, so the history stays; each review
is audited.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from procrastinate import sql
from procrastinate.exceptions import ConnectorException
from sqlalchemy import (
    BigInteger,
    BindParameter,
    any_,
    bindparam,
    delete,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from hiring_jobs import audit
from hiring_jobs.models import DeadLetterRecord, DeadLetterReview, JobAttempt, ReviewAction
from hiring_jobs.queue.defer import defer, driver, sync_manager
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


# Dead letters: the review queue of failed jobs.

DEAD_LETTER_REVIEWS = ("retry", "discard", "resolve")
"""What an operator can decide about one failure (a group: DEAD_LETTER_GROUP_REVIEWS)."""
DEAD_LETTER_GROUP_REVIEWS = ("retry", "discard")


class DeadLetterError(ValueError):
    """The job is not a dead letter (unknown id, or not failed), or a group is not named."""


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    job_id: int
    task_name: str
    queue: str
    args: dict[str, Any]
    attempts: int
    exception_type: str | None
    error_message: str | None
    error_fingerprint: str | None
    failed_at: datetime | None
    reviewed: bool


@dataclasses.dataclass(frozen=True)
class DeadLetterGroup:
    task_name: str
    error_fingerprint: str | None
    exception_type: str | None
    sample_message: str | None
    count: int
    first_seen: datetime | None
    last_seen: datetime | None


@dataclasses.dataclass(frozen=True)
class DeadLetterStats:
    pending: int
    by_task: list[tuple[str, int]]
    by_error: list[tuple[str | None, str | None, int]]  # fingerprint, exception type, count


def _letters(session: Session, name: str, params: dict[str, Any]) -> list[DeadLetter]:
    return [DeadLetter(**row._mapping) for row in run(session, QUEUE[name], params)]


def pending_dead_letters(
    session: Session,
    *,
    task: str | None = None,
    fingerprint: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[DeadLetter]:
    """Unreviewed failures, newest first; page with `before_id` (keyset)."""
    params = {"task": task, "fp": fingerprint, "before": before_id, "limit": limit}
    return _letters(session, "dead_letters_pending", params)


def dead_letter(session: Session, job_id: int) -> DeadLetter:
    rows = _letters(session, "dead_letter", {"id": job_id})
    if not rows:
        raise DeadLetterError(f"job {job_id} is not a failed job")
    return rows[0]


def dead_letter_reviews(session: Session, job_id: int) -> list[DeadLetterReview]:
    return list(
        session.query(DeadLetterReview)
        .filter(DeadLetterReview.job_id == job_id)
        .order_by(DeadLetterReview.reviewed_at, DeadLetterReview.id)
    )


def dead_letter_groups(session: Session) -> list[DeadLetterGroup]:
    """Pending failures grouped by task and error fingerprint, biggest first."""
    return [DeadLetterGroup(**row._mapping) for row in run(session, QUEUE["dead_letter_groups"])]


def fold_dead_letter_counts(session: Session) -> int:
    """Fold the per-group changes the trigger appended into one row per group (the
    throughput rollup, every minute); return how many groups have failures pending."""
    return run(session, QUEUE["fold_dead_letter_counts"]).rowcount


def dead_letter_stats(session: Session) -> DeadLetterStats:
    found = dead_letter_groups(session)
    by_task: dict[str, int] = {}
    by_error: dict[tuple[str | None, str | None], int] = {}
    for group in found:
        by_task[group.task_name] = by_task.get(group.task_name, 0) + group.count
        key = (group.error_fingerprint, group.exception_type)
        by_error[key] = by_error.get(key, 0) + group.count
    return DeadLetterStats(
        pending=sum(group.count for group in found),
        by_task=sorted(by_task.items(), key=lambda item: -item[1]),
        by_error=[(fp, exc, n) for (fp, exc), n in sorted(by_error.items(), key=lambda i: -i[1])],
    )


def review_dead_letter(
    session: Session, job_id: int, decision: str, *, by: str, notes: str = ""
) -> int | None:
    """One of DEAD_LETTER_REVIEWS about one failure; the new job's id for a retry."""
    if decision == "retry":
        return retry_dead_letter(session, job_id, by=by, notes=notes)
    {"discard": discard_dead_letter, "resolve": resolve_dead_letter}[decision](
        session, job_id, by=by, notes=notes
    )
    return None


def retry_dead_letter(session: Session, job_id: int, *, by: str, notes: str = "") -> int:
    """Re-queue a failed job as a new job with the same task and arguments; returns its id."""
    letter = dead_letter(session, job_id)
    earlier = [r for r in dead_letter_reviews(session, job_id) if r.action == ReviewAction.RETRIED]
    if earlier:
        raise DeadLetterError(f"job {job_id} was already retried as job {earlier[0].retry_job_id}")
    new_job_id = _retry_letter(session, letter, by=by, notes=notes)
    audit.record(session, actor=by, action="dlq.retry", target=f"job {job_id}", job_count=1)
    return new_job_id


def discard_dead_letter(session: Session, job_id: int, *, by: str, notes: str = "") -> None:
    letter = dead_letter(session, job_id)
    _review(session, letter, ReviewAction.DISCARDED, by=by, notes=notes)
    audit.record(session, actor=by, action="dlq.discard", target=f"job {job_id}", job_count=1)


def resolve_dead_letter(session: Session, job_id: int, *, by: str, notes: str = "") -> None:
    """Mark reviewed without re-running (fixed by hand, or nothing to do)."""
    _review(session, dead_letter(session, job_id), ReviewAction.RESOLVED, by=by, notes=notes)
    audit.record(session, actor=by, action="dlq.resolve", target=f"job {job_id}", job_count=1)


def retry_dead_letter_group(
    session: Session,
    *,
    by: str,
    task: str | None = None,
    fingerprint: str | None = None,
    notes: str = "",
) -> list[int]:
    """Retry every pending failure of a task and/or error fingerprint; the new jobs' ids."""
    letters = _pending_group(session, task=task, fingerprint=fingerprint)
    new_ids = [_retry_letter(session, letter, by=by, notes=notes) for letter in letters]
    _audit_group(
        session, "dlq.retry_group", len(new_ids), by=by, task=task, fingerprint=fingerprint
    )
    return new_ids


def discard_dead_letter_group(
    session: Session,
    *,
    by: str,
    task: str | None = None,
    fingerprint: str | None = None,
    notes: str = "",
) -> int:
    """Discard every pending failure of a task and/or error fingerprint; how many."""
    letters = _pending_group(session, task=task, fingerprint=fingerprint)
    discard_dead_letters(session, [letter.job_id for letter in letters], by=by, notes=notes)
    _audit_group(
        session, "dlq.discard_group", len(letters), by=by, task=task, fingerprint=fingerprint
    )
    return len(letters)


def discard_dead_letters(session: Session, ids: list[int], *, by: str, notes: str) -> int:
    """Close the pending dead letters among `ids` as discarded, with a review row each."""
    return run(
        session, QUEUE["discard_dead_letters"], {"ids": ids, "notes": notes, "by": by}
    ).rowcount


def _pending_group(
    session: Session, *, task: str | None, fingerprint: str | None
) -> list[DeadLetter]:
    if task is None and fingerprint is None:
        raise DeadLetterError("name a task or an error fingerprint for a bulk action")
    # Locked: two operators retrying the same group do not both re-queue.
    return _letters(session, "dead_letters_pending_locked", {"task": task, "fp": fingerprint})


def _retry_letter(session: Session, letter: DeadLetter, *, by: str, notes: str) -> int:
    original = run(session, QUEUE["failed_job_options"], {"id": letter.job_id}).one()
    options: dict[str, Any] = {"queue": letter.queue, "priority": original.priority}
    if original.lock:
        options["lock"] = original.lock
    new_job_id = defer(session, letter.task_name, options=options, **letter.args)  # type: ignore[arg-type]
    _review(session, letter, ReviewAction.RETRIED, by=by, notes=notes, retry_job_id=new_job_id)
    return new_job_id


def _review(
    session: Session,
    letter: DeadLetter,
    action: ReviewAction,
    *,
    by: str,
    notes: str,
    retry_job_id: int | None = None,
) -> None:
    session.add(
        DeadLetterReview(
            job_id=letter.job_id,
            action=action,
            notes=notes,
            reviewed_by=by,
            retry_job_id=retry_job_id,
        )
    )
    session.execute(
        update(DeadLetterRecord)
        .where(DeadLetterRecord.job_id == letter.job_id)
        .values(reviewed=True)
    )
    session.flush()


def _audit_group(
    session: Session,
    action: str,
    count: int,
    *,
    by: str,
    task: str | None,
    fingerprint: str | None,
) -> None:
    parts = [f"task={task}" if task else "", f"fingerprint={fingerprint}" if fingerprint else ""]
    target = " ".join(part for part in parts if part)
    audit.record(session, actor=by, action=action, target=target, job_count=count)
