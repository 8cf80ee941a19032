"""Failed jobs for the demo, so the dead-letter pages have something to show on a first
visit: an upload that is not an image, and a welcome mail the SMTP server refused.

The upload fails for real: its thumbnail job runs in the worker and stops at once on the
damaged file (a permanent error, no retries). The demo has no SMTP server (mail goes to
the outbox), so the refusal is recorded the way the worker records one: the job ends
`failed` through Procrastinate's own finish function, after an attempt row holding the
real exception, which puts it in the dead-letter queue. Retrying it there delivers the
mail to the outbox, as fixing the address and retrying would in production.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from hiring_jobs.models import AttemptOutcome, FileKind, JobAttempt, User
from hiring_jobs.queue.attempts import error_fields
from hiring_jobs.queue.defer import defer
from hiring_jobs.services.email import PermanentEmailError
from hiring_jobs.services.files import store_file
from hiring_jobs.sql import QUEUE, run

# A PNG header with nothing behind it: what a phone's interrupted upload leaves.
TRUNCATED_PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x02"
MISTYPED_EMAIL = "sam.typo@exmaple.com"
SMTP_REFUSAL = (
    f"550 5.1.1 <{MISTYPED_EMAIL}>: Recipient address rejected: "
    "User unknown in virtual mailbox table"
)


def defer_failures(session: Session, files_dir: Path, uploader: User) -> int:
    """Add the two failing jobs; returns how many jobs that is."""
    _unreadable_upload(session, files_dir, uploader)
    _refused_welcome_mail(session)
    return 2


def _unreadable_upload(session: Session, files_dir: Path, uploader: User) -> None:
    stored = store_file(
        session,
        files_dir,
        kind=FileKind.IMAGE,
        data=TRUNCATED_PNG,
        content_type="image/png",
        original_name="IMG_2041.png",
        owner_id=uploader.id,
    )
    session.flush()
    defer(session, "documents.generate_thumbnail", file_id=stored.id)


def _refused_welcome_mail(session: Session) -> None:
    user = User(email=MISTYPED_EMAIL, full_name="Sam Typo")
    session.add(user)
    session.flush()
    job_id = defer(session, "email.send_welcome", user_id=user.id)
    finished = datetime.now(UTC)
    session.add(
        JobAttempt(
            job_id=job_id,
            attempt=1,
            task_name="email.send_welcome",
            queue="email",
            outcome=AttemptOutcome.FAILED,
            started_at=finished - timedelta(milliseconds=240),
            finished_at=finished,
            duration_ms=240.0,
            worker_name="demo-loader",
            hostname=socket.gethostname(),
            pid=os.getpid(),
            **error_fields(_raised(PermanentEmailError(SMTP_REFUSAL))),
        )
    )
    session.flush()  # the attempt first: the dead-letter trigger copies its error
    for name in ("start_job_for_demo", "fail_job"):
        run(session, QUEUE[name], {"id": job_id})


def _raised(error: Exception) -> Exception:
    """`error` with a traceback, as the worker stores it."""
    try:
        raise error
    except Exception as caught:
        return caught
