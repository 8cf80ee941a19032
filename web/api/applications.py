"""Applications: create one, or change its status, each with its email job in one transaction."""

from __future__ import annotations

from typing import TypeVar

from flask import abort, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hiring_jobs import audit
from hiring_jobs.models import (
    Application,
    ApplicationStatus,
    ApplicationStatusChange,
    JobPosting,
    ParseStatus,
    Resume,
    User,
)
from hiring_jobs.queue.defer import defer
from web.api import bp
from web.common import actor
from web.db import get_session
from web.security import app_required
from web.validation import int_field, json_body, text_field

MAX_TEXT = 10_000
T = TypeVar("T", User, JobPosting, Resume)


@bp.post("/applications")
@app_required
def create_application() -> ResponseReturnValue:
    """{"candidate_id", "job_posting_id", "resume_id"?, "cover_letter"?} -> 201."""
    body = json_body()
    candidate_id = int_field(body, "candidate_id")
    posting_id = int_field(body, "job_posting_id")
    resume_id = int_field(body, "resume_id", required=False)
    cover_letter = text_field(body, "cover_letter", max_length=MAX_TEXT)
    session = get_session()
    _require(session, User, candidate_id)
    _require(session, JobPosting, posting_id)
    resume = _require(session, Resume, resume_id) if resume_id is not None else None
    application = Application(
        candidate_id=candidate_id,
        job_posting_id=posting_id,
        resume_id=resume_id,
        cover_letter=cover_letter,
    )
    session.add(application)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        abort(409, description="this candidate already applied to this posting")
    change = _record_change(session, application, ApplicationStatus.APPLIED, note="")
    job_ids = {"email_job_id": _defer_status_email(session, application, change)}
    if resume is not None and resume.parse_status == ParseStatus.PARSED:
        job_ids["fit_job_id"] = defer(
            session, "resume.analyze_candidate_fit", application_id=application.id
        )
    _audit(session, "application.create", application, len(job_ids))
    session.commit()
    return jsonify(application_id=application.id, status_change_id=change.id, **job_ids), 201


@bp.post("/applications/<int:application_id>/status")
@app_required
def change_status(application_id: int) -> ResponseReturnValue:
    """{"status": "screening", "note"?} -> the change and its email job, committed together."""
    body = json_body()
    try:
        new_status = ApplicationStatus(text_field(body, "status", max_length=50))
    except ValueError:
        choices = ", ".join(status.value for status in ApplicationStatus)
        abort(400, description=f"status must be one of {choices}")
    session = get_session()
    application = session.scalar(
        select(Application).where(Application.id == application_id).with_for_update()
    )
    if application is None:
        abort(404, description=f"no application {application_id}")
    if application.status == new_status:
        abort(409, description=f"application {application_id} is already {new_status.value}")
    note = text_field(body, "note", max_length=MAX_TEXT)
    change = _record_change(session, application, new_status, note)
    job_id = _defer_status_email(session, application, change)
    _audit(session, "application.status", application, 1)
    session.commit()
    return jsonify(
        application_id=application.id,
        status=new_status.value,
        status_change_id=change.id,
        job_id=job_id,
    )


def _require(session: Session, model: type[T], row_id: int | None) -> T:
    found = session.get(model, row_id) if row_id is not None else None
    if found is None:
        abort(404, description=f"no {model.__tablename__.rstrip('s')} {row_id}")
    return found


def _record_change(
    session: Session, application: Application, status: ApplicationStatus, note: str
) -> ApplicationStatusChange:
    change = ApplicationStatusChange(
        application_id=application.id,
        from_status=None if status == ApplicationStatus.APPLIED else application.status,
        to_status=status,
        note=note,
    )
    application.status = status
    session.add(change)
    session.flush()
    return change


def _defer_status_email(
    session: Session, application: Application, change: ApplicationStatusChange
) -> int:
    return defer(
        session,
        "email.send_application_status",
        application_id=application.id,
        status_change_id=change.id,
    )


def _audit(session: Session, action: str, application: Application, jobs: int) -> None:
    audit.record(
        session,
        actor=actor(),
        action=action,
        target=f"application {application.id}",
        job_count=jobs,
    )
