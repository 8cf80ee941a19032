"""Resume tasks: parse an upload, then analyze fit for each open application that uses it."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import select
from sqlalchemy.orm import Session

from hiring_jobs import db
from hiring_jobs.models import JobGroup, ParseStatus, Resume
from hiring_jobs.queue import groups, retry
from hiring_jobs.queue.defer import batch_defer, defer
from hiring_jobs.queue.job_progress import TaskContext
from hiring_jobs.queue.keys import Key
from hiring_jobs.queue.queues import Priority, Queue
from hiring_jobs.queue.time_limits import SoftTimeLimitExceeded, TimeLimits
from hiring_jobs.services import analytics, documents, resumes
from hiring_jobs.services.pdf_text import ResumeUnreadable, extract_pdf_text
from hiring_jobs.settings import get_settings
from hiring_jobs.tasks.family import TaskFamily

# pdfminer on a hostile PDF can loop or eat memory. The parse runs in a child process
# (every sync task does): at the soft limit SoftTimeLimitExceeded stops pdfminer and the
# resume is recorded as unreadable; at the hard limit the child is killed.
PDF_TIME_LIMITS = TimeLimits(soft_seconds=45, hard_seconds=60)
_task = TaskFamily("resume", Queue.RESUME, retry.DEFAULT, Priority.NORMAL).task


def extract_with_limit(path: Path, max_bytes: int) -> str:
    try:
        return extract_pdf_text(path, max_bytes=max_bytes)
    except SoftTimeLimitExceeded:
        raise ResumeUnreadable(
            f"reading the PDF took more than {PDF_TIME_LIMITS.soft_seconds:g} s:"
            " it may be malformed"
        ) from None
    except MemoryError:
        raise ResumeUnreadable("the PDF needs too much memory to read") from None


# One bulk import (a job group) parses at most 4 resumes at once across the fleet, and
# imports take turns with each other and with single uploads (no group: unkeyed).
IMPORT_KEY = Key("import", "group_id", max_running=4)


@_task("parse", Priority.HIGH, retry=retry.FILES, limits=PDF_TIME_LIMITS, key=IMPORT_KEY)
def parse_resume(resume_id: int, group_id: int | None = None) -> dict[str, Any]:
    """`group_id` is set when the parse is a member of a batch (`resume.batch_parse`)."""
    settings = get_settings()
    try:
        with db.session_scope() as session:
            outcome = resumes.parse_resume(
                session,
                resume_id,
                settings.files_dir,
                settings.max_upload_bytes,
                extract=extract_with_limit,
            )
            if outcome.status == ParseStatus.PARSED:
                # The next step commits with this one: no parsed resume is left unanalyzed.
                application_ids = resumes.open_applications_for(session, resume_id)
                batch_defer(
                    session,
                    analyze_candidate_fit,
                    [{"application_id": application_id} for application_id in application_ids],
                )
            _defer_achievement_check(session, resume_id)
            if group_id is not None:
                groups.member_finished(session, group_id, f"resume:{resume_id}")
    except retry.PermanentError:
        if group_id is not None:  # a member that can never succeed still counts
            with db.session_scope() as session:
                groups.member_finished(session, group_id, f"resume:{resume_id}", failed=True)
        raise
    return outcome.as_dict()


def _defer_achievement_check(session: Session, resume_id: int) -> None:
    """Chain: parse -> achievements.check_user (then its notification), same transaction."""
    resume = session.get(Resume, resume_id)
    if (
        resume is None
        or resume.deleted_at is not None
        or resume.parse_status == ParseStatus.PENDING
    ):
        return
    with contextlib.suppress(AlreadyEnqueued):  # a re-run while the check still waits
        defer(
            session,
            "achievements.check_user",
            options={"queueing_lock": f"achievements:resume:{resume_id}"},
            user_id=resume.user_id,
            resume_id=resume_id,
        )


@_task("analyze_candidate_fit")
def analyze_candidate_fit(application_id: int) -> dict[str, Any]:
    with db.session_scope() as session:
        application = resumes.analyze_candidate_fit(session, application_id)
        return {"application_id": application.id, "fit_score": application.fit_score}


# Locked: two runs at once would both find the same resumes.
@_task("analyze_pending", Priority.LOW, lock="resume.analyze_pending")
def analyze_pending() -> dict[str, Any]:
    """Defer `resume.parse` for every pending resume that no parse job waits for."""
    with db.session_scope() as session:
        resume_ids = documents.pending_resumes_without_job(session)
        batch_defer(session, parse_resume, [{"resume_id": rid} for rid in resume_ids])
    return {"deferred": len(resume_ids)}


@_task("batch_parse", pass_context=True)
def batch_parse(context: TaskContext, resume_ids: list[int]) -> dict[str, Any]:
    """Parse resumes as a group whose completion is `resume.summarize_batch`.

    The group is named after this job: a re-run of the same job finds it and starts none.
    Its progress is the group's: each parse that ends counts one (groups.member_finished),
    so this job's status shows how many of its resumes are parsed, after it returned too.
    """
    assert context.job.id is not None
    name = groups.progress_group_name("resume.batch_parse", context.job.id)
    ids = sorted(set(resume_ids))
    context.progress(0, len(ids), f"{len(ids)} resumes to parse")
    with db.session_scope() as session:
        existing = session.scalar(select(JobGroup.id).where(JobGroup.name == name))
        if existing is not None:
            return {"group_id": existing, "created": False}
        group_id = groups.start_group(
            session,
            name,
            parse_resume,
            [{"resume_id": rid} for rid in ids],
            on_complete=("resume.summarize_batch", {"resume_ids": ids}),
        )
    return {"group_id": group_id, "created": True, "resumes": len(ids)}


@_task("summarize_batch", Priority.LOW)
def summarize_batch(group_id: int, resume_ids: list[int]) -> dict[str, Any]:
    """The summary report of a batch parse, kept as a `resume_batch_summary` snapshot."""
    with db.session_scope() as session:
        group = session.get(JobGroup, group_id)
        if group is None:
            raise retry.PermanentError(f"job group {group_id} does not exist")
        data = analytics.resume_batch_summary(session, resume_ids)
        data |= {"group_id": group_id, "members": group.total, "failed_members": group.failed}
        snapshot, created = analytics.save_keyed_snapshot(
            session, "resume_batch_summary", f"group:{group_id}", data
        )
        return {"snapshot_id": snapshot.id, "created": created, **data}


@_task("cleanup_deleted", Priority.LOW, queue=Queue.MAINTENANCE, retry=retry.FILES)
def cleanup_deleted(days: int = 90) -> dict[str, Any]:
    """Delete resumes soft-deleted more than `days` ago, their file rows, then their files."""
    cutoff = datetime.now(UTC) - timedelta(days=days)
    with db.session_scope() as session:
        paths = documents.delete_soft_deleted_resumes(session, cutoff)
    return {"deleted_files": documents.unlink(get_settings().files_dir, paths)}
