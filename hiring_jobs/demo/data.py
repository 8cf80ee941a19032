"""Demo data for `hiring-jobs up`: people, postings, applications and real PDF resumes.

Everything is written in one transaction together with the jobs that process it, the
same way the application enqueues work: the resumes' parse jobs commit with the rows.
Loading twice changes nothing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from hiring_jobs.demo.resume_pdfs import DEMO_CANDIDATES, write_encrypted_pdf, write_resume_pdf
from hiring_jobs.models import (
    Application,
    ApplicationStatus,
    ApplicationStatusChange,
    Course,
    JobPosting,
    Resume,
    User,
    UserRole,
)
from hiring_jobs.queue.defer import batch_defer
from hiring_jobs.services.resumes import create_resume

RECRUITER_EMAIL = "riley.recruiter@example.com"
# Generous: demo PDFs are a few kilobytes.
DEMO_MAX_BYTES = 10 * 1024 * 1024

POSTINGS = [
    {
        "title": "Senior Backend Engineer",
        "company": "Talentloop",
        "location": "Remote (EU)",
        "required_skills": ["Python", "PostgreSQL", "Docker"],
        "nice_to_have_skills": ["Go", "Kubernetes", "Apache Kafka"],
        "min_years_experience": 5,
    },
    {
        "title": "Frontend Engineer",
        "company": "Talentloop",
        "location": "Berlin",
        "required_skills": ["JavaScript", "TypeScript", "React"],
        "nice_to_have_skills": ["CSS", "Accessibility"],
        "min_years_experience": 3,
    },
    {
        "title": "Data Scientist",
        "company": "Northwind Analytics",
        "location": "Amsterdam",
        "required_skills": ["Python", "Machine Learning", "SQL"],
        "nice_to_have_skills": ["PyTorch", "Statistics"],
        "min_years_experience": 2,
    },
    {
        "title": "Platform Engineer",
        "company": "Northwind Analytics",
        "location": "Remote",
        "required_skills": ["Kubernetes", "Terraform", "Linux"],
        "nice_to_have_skills": ["AWS", "Prometheus"],
        "min_years_experience": 4,
    },
]

COURSES = [
    ("PostgreSQL for Application Developers", ["PostgreSQL", "SQL"], "intermediate"),
    ("Modern React", ["React", "TypeScript"], "beginner"),
    ("Kubernetes in Production", ["Kubernetes", "Docker"], "advanced"),
    ("Practical Machine Learning", ["Machine Learning", "Python"], "intermediate"),
]


def load_demo_data(session: Session, files_dir: Path) -> str:
    """Insert the demo rows and defer their jobs; return a one-line summary."""
    if session.scalar(select(User.id).where(User.email == RECRUITER_EMAIL)) is not None:
        return "Demo data already loaded."

    recruiter = User(email=RECRUITER_EMAIL, full_name="Riley Recruiter", role=UserRole.RECRUITER)
    mentor = User(
        email="morgan.mentor@example.com", full_name="Morgan Mentor", role=UserRole.MENTOR
    )
    session.add_all([recruiter, mentor])
    session.flush()
    postings = [JobPosting(recruiter_id=recruiter.id, **values) for values in POSTINGS]
    session.add_all(postings)
    session.add_all(
        Course(title=title, skills=skills, level=level) for title, skills, level in COURSES
    )
    session.flush()

    resume_ids: list[int] = []
    with tempfile.TemporaryDirectory() as scratch:
        for index, candidate in enumerate(DEMO_CANDIDATES):
            user = User(
                email=candidate.email,
                full_name=candidate.name,
                headline=candidate.headline,
                location=candidate.location,
            )
            session.add(user)
            session.flush()
            pdf = write_resume_pdf(candidate, Path(scratch) / f"{candidate.slug}.pdf")
            resume = _upload(session, files_dir, user.id, pdf)
            resume_ids.append(resume.id)
            _apply(session, user, postings[index % len(postings)], resume.id, recruiter.id)
        # One candidate uploads a password-protected PDF: parsing records why it failed.
        locked = User(email="lee.locked@example.com", full_name="Lee Locked")
        session.add(locked)
        session.flush()
        pdf = write_encrypted_pdf(Path(scratch) / "protected.pdf")
        resume_ids.append(_upload(session, files_dir, locked.id, pdf).id)

    batch_defer(session, "resume.parse", [{"resume_id": rid} for rid in resume_ids])
    return (
        f"Demo data loaded: {len(DEMO_CANDIDATES) + 3} people, {len(postings)} postings, "
        f"{len(resume_ids)} resumes queued for parsing."
    )


def _upload(session: Session, files_dir: Path, user_id: int, pdf: Path) -> Resume:
    return create_resume(
        session,
        files_dir,
        user_id=user_id,
        data=pdf.read_bytes(),
        filename=pdf.name,
        max_bytes=DEMO_MAX_BYTES,
    )


def _apply(
    session: Session, user: User, posting: JobPosting, resume_id: int, recruiter_id: int
) -> None:
    application = Application(
        candidate_id=user.id,
        job_posting_id=posting.id,
        resume_id=resume_id,
        status=ApplicationStatus.SCREENING,
    )
    session.add(application)
    session.flush()
    session.add_all(
        [
            ApplicationStatusChange(
                application_id=application.id, to_status=ApplicationStatus.APPLIED
            ),
            ApplicationStatusChange(
                application_id=application.id,
                from_status=ApplicationStatus.APPLIED,
                to_status=ApplicationStatus.SCREENING,
                changed_by_id=recruiter_id,
            ),
        ]
    )
