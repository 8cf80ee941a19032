"""The dead-letter queue: failed jobs, their last error, and the reviews people make.

A dead letter is a `procrastinate_jobs` row in status `failed` (retries exhausted or a
permanent error); triggers keep a `dead_letters` row for each, with the job's last error
(migration 0006). It is *pending* until someone reviews it: retries it (a new job with the
same task, arguments, queue and priority, linked from the review), discards it, or marks
it resolved. Reviews are rows in `dead_letter_reviews`, so the history stays. The CLI, the
JSON API and the web pages all go through these functions; each action is audited.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from hiring_jobs import audit
from hiring_jobs.models import DeadLetterRecord, DeadLetterReview, ReviewAction
from hiring_jobs.queue import operations
from hiring_jobs.queue.defer import defer
from hiring_jobs.sql import QUEUE, run


class DeadLetterError(ValueError):
    """The job is not a dead letter (unknown id, or not failed)."""


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
class Stats:
    pending: int
    by_task: list[tuple[str, int]]
    by_error: list[tuple[str | None, str | None, int]]  # fingerprint, exception type, count


def _rows(session: Session, name: str, params: dict[str, Any]) -> list[DeadLetter]:
    return [DeadLetter(**row._mapping) for row in run(session, QUEUE[name], params)]


def list_pending(
    session: Session,
    *,
    task: str | None = None,
    fingerprint: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[DeadLetter]:
    """Unreviewed failures, newest first; page with `before_id` (keyset)."""
    params = {"task": task, "fp": fingerprint, "before": before_id, "limit": limit}
    return _rows(session, "dead_letters_pending", params)


def get(session: Session, job_id: int) -> DeadLetter:
    rows = _rows(session, "dead_letter", {"id": job_id})
    if not rows:
        raise DeadLetterError(f"job {job_id} is not a failed job")
    return rows[0]


def reviews(session: Session, job_id: int) -> list[DeadLetterReview]:
    return list(
        session.query(DeadLetterReview)
        .filter(DeadLetterReview.job_id == job_id)
        .order_by(DeadLetterReview.reviewed_at, DeadLetterReview.id)
    )


def groups(session: Session) -> list[DeadLetterGroup]:
    """Pending failures grouped by task and error fingerprint, biggest first."""
    return [DeadLetterGroup(**row._mapping) for row in run(session, QUEUE["dead_letter_groups"])]


def fold_counts(session: Session) -> int:
    """Fold the appended per-group changes into one row per group; return the groups."""
    return run(session, QUEUE["fold_dead_letter_counts"]).rowcount


def stats(session: Session) -> Stats:
    found = groups(session)
    by_task: dict[str, int] = {}
    by_error: dict[tuple[str | None, str | None], int] = {}
    for group in found:
        by_task[group.task_name] = by_task.get(group.task_name, 0) + group.count
        key = (group.error_fingerprint, group.exception_type)
        by_error[key] = by_error.get(key, 0) + group.count
    return Stats(
        pending=sum(group.count for group in found),
        by_task=sorted(by_task.items(), key=lambda item: -item[1]),
        by_error=[(fp, exc, n) for (fp, exc), n in sorted(by_error.items(), key=lambda i: -i[1])],
    )


def retry(session: Session, job_id: int, *, by: str, notes: str = "") -> int:
    """Re-queue a failed job as a new job with the same task and arguments; returns its id."""
    letter = get(session, job_id)
    earlier = [r for r in reviews(session, job_id) if r.action == ReviewAction.RETRIED]
    if earlier:
        raise DeadLetterError(f"job {job_id} was already retried as job {earlier[0].retry_job_id}")
    new_job_id = _retry_one(session, letter, by=by, notes=notes)
    audit.record(session, actor=by, action="dlq.retry", target=f"job {job_id}", job_count=1)
    return new_job_id


def discard(session: Session, job_id: int, *, by: str, notes: str = "") -> None:
    _review(session, get(session, job_id), ReviewAction.DISCARDED, by=by, notes=notes)
    audit.record(session, actor=by, action="dlq.discard", target=f"job {job_id}", job_count=1)


def resolve(session: Session, job_id: int, *, by: str, notes: str = "") -> None:
    """Mark reviewed without re-running (fixed by hand, or nothing to do)."""
    _review(session, get(session, job_id), ReviewAction.RESOLVED, by=by, notes=notes)
    audit.record(session, actor=by, action="dlq.resolve", target=f"job {job_id}", job_count=1)


def retry_many(
    session: Session,
    *,
    by: str,
    task: str | None = None,
    fingerprint: str | None = None,
    notes: str = "",
) -> list[int]:
    """Retry every pending failure of a task and/or error fingerprint."""
    letters = _all_pending(session, task=task, fingerprint=fingerprint)
    new_ids = [_retry_one(session, letter, by=by, notes=notes) for letter in letters]
    audit.record(
        session,
        actor=by,
        action="dlq.retry_group",
        target=_group_target(task, fingerprint),
        job_count=len(new_ids),
    )
    return new_ids


def discard_many(
    session: Session,
    *,
    by: str,
    task: str | None = None,
    fingerprint: str | None = None,
    notes: str = "",
) -> int:
    letters = _all_pending(session, task=task, fingerprint=fingerprint)
    ids = [letter.job_id for letter in letters]
    operations.discard_dead_letters(session, ids, by=by, notes=notes)
    audit.record(
        session,
        actor=by,
        action="dlq.discard_group",
        target=_group_target(task, fingerprint),
        job_count=len(letters),
    )
    return len(letters)


def _all_pending(
    session: Session, *, task: str | None, fingerprint: str | None
) -> list[DeadLetter]:
    if task is None and fingerprint is None:
        raise DeadLetterError("name a task or an error fingerprint for a bulk action")
    # Locked: two operators retrying the same group do not both re-queue.
    return _rows(session, "dead_letters_pending_locked", {"task": task, "fp": fingerprint})


def _retry_one(session: Session, letter: DeadLetter, *, by: str, notes: str) -> int:
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


def _group_target(task: str | None, fingerprint: str | None) -> str:
    parts = [f"task={task}" if task else "", f"fingerprint={fingerprint}" if fingerprint else ""]
    return " ".join(part for part in parts if part)
