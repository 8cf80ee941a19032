"""Resumes: upload, parse (text, skills, experience, education) and candidate-fit analysis."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from hiring_jobs.models import (
    Application,
    FileKind,
    JobPosting,
    ParseStatus,
    PostingStatus,
    Resume,
    SkillSource,
    UserSkill,
)
from hiring_jobs.queue.retry import PermanentError
from hiring_jobs.services import files
from hiring_jobs.services.fit import score_fit
from hiring_jobs.services.pdf_text import ResumeUnreadable, extract_pdf_text, is_pdf
from hiring_jobs.services.resume_facts import education, years_of_experience
from hiring_jobs.services.skills import extract_skills


class InvalidUpload(ValueError):
    """An upload refused before anything is stored; the message is for the uploader."""


@dataclasses.dataclass(frozen=True)
class ParseOutcome:
    resume_id: int
    status: ParseStatus
    skills: int = 0
    failure_reason: str | None = None

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self) | {"status": self.status.value}


def create_resume(
    session: Session,
    files_dir: Path,
    *,
    user_id: int,
    data: bytes,
    filename: str,
    max_bytes: int,
) -> Resume:
    """Store an uploaded PDF and its pending resume row. Checked by content, not by name."""
    if len(data) > max_bytes:
        raise InvalidUpload(f"the file is larger than {max_bytes // (1024 * 1024)} MB")
    if not is_pdf(data):
        raise InvalidUpload("the file is not a PDF (its content does not start like one)")
    stored = files.store_file(
        session,
        files_dir,
        kind=FileKind.RESUME,
        data=data,
        content_type="application/pdf",
        original_name=filename,
        owner_id=user_id,
    )
    resume = Resume(user_id=user_id, file_id=stored.id)
    session.add(resume)
    session.flush()
    return resume


# (path, max_bytes) -> text; raises ResumeUnreadable. The task (run in a child process
# that is killed at its hard limit, queue/children.py) passes one that turns its soft
# time limit into ResumeUnreadable.
TextExtractor = Callable[[Path, int], str]


def _extract_here(path: Path, max_bytes: int) -> str:
    return extract_pdf_text(path, max_bytes=max_bytes)


def parse_resume(
    session: Session,
    resume_id: int,
    files_dir: Path,
    max_bytes: int,
    extract: TextExtractor = _extract_here,
) -> ParseOutcome:
    """Extract text and facts into the resume row. Unreadable input is recorded, not raised."""
    resume = session.get(Resume, resume_id, with_for_update=True)
    if resume is None:
        raise PermanentError(f"resume {resume_id} does not exist")
    if resume.deleted_at is not None:
        return ParseOutcome(resume_id, resume.parse_status, failure_reason="resume was deleted")
    if resume.file is None:
        return _fail(resume, "the resume has no stored file")
    try:
        text = extract(files.file_path(files_dir, resume.file), max_bytes)
    except ResumeUnreadable as exc:
        return _fail(resume, exc.reason)

    resume.extracted_text = text
    resume.skills = extract_skills(text)
    resume.years_experience = years_of_experience(text, today=datetime.now(UTC).date())
    resume.education = education(text)
    resume.parse_status = ParseStatus.PARSED
    resume.failure_reason = None
    resume.parsed_at = datetime.now(UTC)
    _sync_user_skills(session, resume.user_id, resume.skills)
    return ParseOutcome(resume.id, ParseStatus.PARSED, skills=len(resume.skills))


def _fail(resume: Resume, reason: str) -> ParseOutcome:
    resume.parse_status = ParseStatus.FAILED
    resume.failure_reason = reason
    resume.parsed_at = datetime.now(UTC)
    return ParseOutcome(resume.id, ParseStatus.FAILED, failure_reason=reason)


def _sync_user_skills(session: Session, user_id: int, skills: list[str]) -> None:
    """Add the resume's skills to the profile; declared skills are kept as they are."""
    if not skills:
        return
    session.execute(
        insert(UserSkill)
        .values([{"user_id": user_id, "skill": s, "source": SkillSource.RESUME} for s in skills])
        .on_conflict_do_nothing()
    )


def open_applications_for(session: Session, resume_id: int) -> list[int]:
    """Applications using this resume whose posting is still open: candidates for fit analysis."""
    return list(
        session.scalars(
            select(Application.id)
            .join(Application.job_posting)
            .where(Application.resume_id == resume_id)
            .where(JobPosting.status == PostingStatus.OPEN)
            .order_by(Application.id)
        )
    )


def analyze_candidate_fit(session: Session, application_id: int) -> Application:
    """Score the application's resume against its posting; stores score and explanation."""
    application = session.get(Application, application_id, with_for_update=True)
    if application is None:
        raise PermanentError(f"application {application_id} does not exist")
    resume = session.get(Resume, application.resume_id) if application.resume_id else None
    if resume is None or resume.parse_status != ParseStatus.PARSED:
        raise PermanentError(f"application {application_id} has no parsed resume to analyze")
    posting = application.job_posting
    result = score_fit(
        resume_skills=resume.skills,
        years_experience=resume.years_experience,
        required_skills=posting.required_skills,
        nice_to_have_skills=posting.nice_to_have_skills,
        min_years_experience=posting.min_years_experience,
    )
    application.fit_score = result.score
    application.fit_explanation = result.as_dict()
    application.fit_analyzed_at = datetime.now(UTC)
    return application
