"""Document tasks: CV PDFs, image thumbnails, and cleanup of the files directory.

Files are unlinked only after the transaction that deleted their rows has committed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement

from hiring_jobs import db
from hiring_jobs.app import app
from hiring_jobs.queue import retry
from hiring_jobs.queue.defer import defer
from hiring_jobs.queue.queues import Priority, Queue
from hiring_jobs.services import analytics, documents
from hiring_jobs.settings import get_settings
from hiring_jobs.tasks.family import TaskFamily

Result = dict[str, Any]


_task = TaskFamily("documents", Queue.DOCUMENTS, retry.FILES, Priority.NORMAL).task


@_task("generate_cv_pdf", Priority.HIGH)
def generate_cv_pdf(
    user_id: int, *, send_by_email: bool = False, email: bool | None = None
) -> Result:
    """The user's CV as a PDF file (kind cv_pdf), by id; `send_by_email` also mails it.

    `email` is the flag's former name, still in the arguments of jobs queued before.
    """
    if email is not None:
        send_by_email = email
    with db.session_scope() as session:
        stored, created = documents.generate_cv_pdf(
            session, get_settings().files_dir, user_id, datetime.now(UTC)
        )
        if send_by_email and created:  # an existing CV was already sent by the run that made it
            defer(session, "email.send_cv_pdf", file_id=stored.id)
        return {"file_id": stored.id, "created": created}


@_task("generate_thumbnail")
def generate_thumbnail(file_id: int, width: int = 256, height: int = 256) -> Result:
    """A thumbnail of stored image `file_id`; a file that is not an image fails at once."""
    with db.session_scope() as session:
        stored, created = documents.generate_thumbnail(
            session, get_settings().files_dir, file_id, (width, height)
        )
        return {"file_id": stored.id, "created": created}


def _delete_files(condition: ColumnElement[bool]) -> int:
    """Delete matching rows in batches, unlinking each batch's files after its commit."""
    files_dir = get_settings().files_dir
    deleted = 0
    while True:
        with db.session_scope() as session:
            paths = documents.delete_file_rows(session, condition)
        documents.unlink(files_dir, paths)
        deleted += len(paths)
        if len(paths) < documents.BATCH:
            return deleted


@app.periodic(cron="0 0 * * 1", periodic_id="weekly")
@_task("cleanup_old_pdfs", Priority.LOW, long=True)
def cleanup_old_pdfs(timestamp: int, days: int = 7) -> Result:
    """Delete generated CV PDFs older than `days`."""
    cutoff = analytics.tick_time(timestamp) - timedelta(days=days)
    return {"deleted": _delete_files(documents.old_cv_pdfs(cutoff))}


@app.periodic(cron="0 2 * * *", periodic_id="daily")
@_task("cleanup_files", Priority.LOW, long=True)
def cleanup_files(timestamp: int) -> Result:
    """Expired and temporary files, rows whose file is gone, and files without a row."""
    now = analytics.tick_time(timestamp)
    files_dir = get_settings().files_dir
    expired = _delete_files(documents.expired_files(now))
    with db.session_scope() as session:
        rows_without_files = documents.delete_rows_without_files(session, files_dir, now)
        orphans = documents.orphaned_files(session, files_dir, now)
    return {
        "expired": expired,
        "rows_without_files": rows_without_files,
        "orphaned_files": documents.unlink(files_dir, orphans),
    }
