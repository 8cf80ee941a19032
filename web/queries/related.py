"""The domain rows a job is about, found from the ids in its arguments."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hiring_jobs.models import Application, EmailDelivery, JobPosting, Resume, User

# Argument names that hold a user id: they all point at the users table.
_USER_KEYS = ("user_id", "candidate_id", "recruiter_id")


@dataclasses.dataclass(frozen=True)
class Related:
    kind: str  # "candidate", "resume", "application", "posting", "email"
    key: str  # the argument it came from
    id: int
    summary: str  # escaped by the template like everything else
    found: bool


def related_records(session: Session, job_id: int, args: dict[str, Any]) -> list[Related]:
    found: list[Related] = []
    for key in _USER_KEYS:
        if _int(args.get(key)) is not None:
            found.append(_user(session, key, _int(args[key]) or 0))
    if (resume_id := _int(args.get("resume_id"))) is not None:
        found.append(_resume(session, resume_id))
    if (application_id := _int(args.get("application_id"))) is not None:
        found.append(_application(session, application_id))
    if (posting_id := _int(args.get("job_posting_id"))) is not None:
        posting = session.get(JobPosting, posting_id)
        summary = f"{posting.title} at {posting.company}" if posting else "no longer exists"
        found.append(Related("posting", "job_posting_id", posting_id, summary, posting is not None))
    found.extend(_emails(session, job_id))
    return found


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _user(session: Session, key: str, user_id: int) -> Related:
    user = session.get(User, user_id)
    summary = f"{user.full_name} <{user.email}>" if user else "no longer exists"
    return Related("candidate", key, user_id, summary, user is not None)


def _resume(session: Session, resume_id: int) -> Related:
    resume = session.get(Resume, resume_id)
    if resume is None:
        return Related("resume", "resume_id", resume_id, "no longer exists", False)
    summary = f"parse {resume.parse_status.value}"
    if resume.failure_reason:
        summary += f": {resume.failure_reason}"
    return Related("resume", "resume_id", resume_id, summary, True)


def _application(session: Session, application_id: int) -> Related:
    application = session.get(Application, application_id)
    if application is None:
        return Related("application", "application_id", application_id, "no longer exists", False)
    posting = application.job_posting
    summary = f"{application.status.value}, {posting.title} at {posting.company}"
    return Related("application", "application_id", application_id, summary, True)


def _emails(session: Session, job_id: int) -> list[Related]:
    rows = session.scalars(
        select(EmailDelivery).where(EmailDelivery.job_id == job_id).order_by(EmailDelivery.id)
    )
    return [
        Related("email", "job", row.id, f"{row.status.value}: {row.subject}", True) for row in rows
    ]


def known_names(session: Session, args: dict[str, Any]) -> tuple[str, ...]:
    """Full names of the people a job's arguments point at, to mask them in its free text.

    Patterns find emails and phone numbers anywhere, but a name only where it is known.
    """
    user_ids = {found for key in _USER_KEYS if (found := _int(args.get(key))) is not None}
    conditions = [User.id.in_(user_ids)] if user_ids else []
    if (application_id := _int(args.get("application_id"))) is not None:
        conditions.append(
            User.id.in_(select(Application.candidate_id).where(Application.id == application_id))
        )
    if (resume_id := _int(args.get("resume_id"))) is not None:
        conditions.append(User.id.in_(select(Resume.user_id).where(Resume.id == resume_id)))
    if not conditions:
        return ()
    return tuple(session.scalars(select(User.full_name).where(or_(*conditions))))
