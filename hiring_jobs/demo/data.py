"""Demo data for `hiring-jobs up`: people, postings, applications and real PDF resumes,
and enough of the rest (courses, mentoring, connections, quizzes, activity, notifications,
the achievements catalog, a profile picture) for every job family to have work.

Everything is written in one transaction together with the jobs that process it, the
same way the application enqueues work: the resumes' parse jobs (and the chains they
start), and a first run of each family, commit with the rows. Loading twice changes nothing.
"""

from __future__ import annotations

import io
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from hiring_jobs.demo.failures import defer_failures
from hiring_jobs.demo.resume_pdfs import DEMO_CANDIDATES, write_encrypted_pdf, write_resume_pdf
from hiring_jobs.models import (
    ActivityEvent,
    Application,
    ApplicationStatus,
    ApplicationStatusChange,
    Connection,
    Course,
    CourseEnrollment,
    FileKind,
    JobPosting,
    MentoringSession,
    MentoringStatus,
    Notification,
    QuizAttempt,
    Resume,
    User,
    UserRole,
    UserSkill,
)
from hiring_jobs.progress import Progress, silent
from hiring_jobs.queue.defer import batch_defer, defer
from hiring_jobs.services import achievements, recommendations
from hiring_jobs.services.files import store_file
from hiring_jobs.services.resumes import create_resume

RECRUITER_EMAIL = "riley.recruiter@example.com"
ADMIN_EMAIL = "avery.admin@example.com"
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

MENTOR_SKILLS = ["Python", "PostgreSQL", "Kubernetes", "Docker", "Machine Learning"]
# (candidate index, course index, completed)
ENROLLMENTS = [(0, 0, True), (1, 1, False), (2, 3, True), (3, 2, False), (4, 0, False)]
# (candidate index, topic, status)
MENTORING = [
    (2, "Moving from analytics to ML engineering", MentoringStatus.COMPLETED),
    (3, "Preparing for platform interviews", MentoringStatus.REQUESTED),
]
# Pairs of candidate indexes who know each other.
CONNECTIONS = [(0, 1), (0, 3), (1, 2), (2, 4), (3, 5)]
# (candidate index, quiz, score out of 10)
QUIZZES = [
    (0, "sql", 10),
    (0, "python", 8),
    (1, "javascript", 9),
    (1, "sql", 5),
    (2, "python", 7),
    (2, "statistics", 9),
    (3, "linux", 6),
    (4, "sql", 4),
    (5, "python", 3),
]
ACTIVITY_KINDS = ["login", "view_job", "search", "view_course", "apply"]


def load_demo_data(session: Session, files_dir: Path, progress: Progress = silent) -> str:
    """Insert the demo rows and defer their jobs; return a one-line summary.

    `progress` hears of each candidate (their resume PDF is made on the spot) and of the
    rest as they are added.
    """
    if session.scalar(select(User.id).where(User.email == RECRUITER_EMAIL)) is not None:
        return "Demo data already loaded."

    recruiter = User(email=RECRUITER_EMAIL, full_name="Riley Recruiter", role=UserRole.RECRUITER)
    mentor = User(
        email="morgan.mentor@example.com",
        full_name="Morgan Mentor",
        role=UserRole.MENTOR,
        headline="Staff engineer, mentor",
        last_active_at=datetime.now(UTC),
    )
    admin = User(email=ADMIN_EMAIL, full_name="Avery Admin", role=UserRole.ADMIN)
    session.add_all([recruiter, mentor, admin])
    session.flush()
    session.add_all(UserSkill(user_id=mentor.id, skill=skill) for skill in MENTOR_SKILLS)
    postings = [JobPosting(recruiter_id=recruiter.id, **values) for values in POSTINGS]
    session.add_all(postings)
    session.add_all(
        Course(title=title, skills=skills, level=level) for title, skills, level in COURSES
    )
    session.flush()

    resume_ids: list[int] = []
    candidates: list[User] = []
    with tempfile.TemporaryDirectory() as scratch:
        for index, candidate in enumerate(DEMO_CANDIDATES):
            user = User(
                email=candidate.email,
                full_name=candidate.name,
                headline=candidate.headline,
                location=candidate.location,
                phone=candidate.phone,
                bio=candidate.summary,
                points=20 * index,
                last_active_at=datetime.now(UTC) - timedelta(hours=3 * index),
            )
            session.add(user)
            session.flush()
            pdf = write_resume_pdf(candidate, Path(scratch) / f"{candidate.slug}.pdf")
            resume = _upload(session, files_dir, user.id, pdf)
            resume_ids.append(resume.id)
            candidates.append(user)
            _apply(session, user, postings[index % len(postings)], resume.id, recruiter.id)
            progress(candidate.name, index + 1, len(DEMO_CANDIDATES) + 1)
        # One candidate uploads a password-protected PDF: parsing records why it failed.
        locked = User(email="lee.locked@example.com", full_name="Lee Locked")
        session.add(locked)
        session.flush()
        pdf = write_encrypted_pdf(Path(scratch) / "protected.pdf")
        resume_ids.append(_upload(session, files_dir, locked.id, pdf).id)

    batch_defer(session, "resume.parse", [{"resume_id": rid} for rid in resume_ids])
    family_jobs = _community(session, files_dir, mentor, candidates)
    failures = defer_failures(session, files_dir, candidates[-1])
    progress("community and jobs", len(DEMO_CANDIDATES) + 1, len(DEMO_CANDIDATES) + 1)
    return (
        f"Demo data loaded: {len(DEMO_CANDIDATES) + 5} people, {len(postings)} postings, "
        f"{len(resume_ids)} resumes queued for parsing, {family_jobs} more jobs queued, "
        f"{failures} jobs that fail (for the dead-letter pages)."
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


# --- the rest of the community, and the first jobs of every family -----------------------


def _community(session: Session, files_dir: Path, mentor: User, candidates: list[User]) -> int:
    """Learning, mentoring, network, quizzes, activity and notifications; defer their jobs.

    Returns how many family jobs were deferred besides the resumes' parse jobs.
    """
    now = datetime.now(UTC)
    achievements.seed_catalog(session)
    _learning(session, mentor, candidates, now)
    _network_and_activity(session, candidates, now)
    picture = _profile_picture(session, files_dir, candidates[0].id)
    return _defer_family_jobs(session, mentor, candidates, picture, now)


def _learning(session: Session, mentor: User, candidates: list[User], now: datetime) -> None:
    courses = list(session.scalars(select(Course).order_by(Course.id)))
    for who, course, completed in ENROLLMENTS:
        session.add(
            CourseEnrollment(
                user_id=candidates[who].id,
                course_id=courses[course].id,
                completed_at=now - timedelta(days=2) if completed else None,
            )
        )
    for who, topic, status in MENTORING:
        session.add(
            MentoringSession(
                mentor_id=mentor.id, mentee_id=candidates[who].id, topic=topic, status=status
            )
        )
    for number, (who, quiz, score) in enumerate(QUIZZES):
        taken = now - timedelta(days=number % 5, hours=number)
        session.add(
            QuizAttempt(
                user_id=candidates[who].id, quiz=quiz, score=score, max_score=10, taken_at=taken
            )
        )


def _network_and_activity(session: Session, candidates: list[User], now: datetime) -> None:
    for a, b in CONNECTIONS:
        session.add_all(
            [
                Connection(user_id=candidates[a].id, other_user_id=candidates[b].id),
                Connection(user_id=candidates[b].id, other_user_id=candidates[a].id),
            ]
        )
    chance = random.Random(42)  # the same demo every time
    for user in candidates:
        for _ in range(25):
            moment = now - timedelta(days=chance.randint(0, 13), hours=chance.randint(0, 23))
            kind = chance.choice(ACTIVITY_KINDS)
            session.add(ActivityEvent(user_id=user.id, kind=kind, occurred_at=moment))
        session.add(
            Notification(
                user_id=user.id,
                kind="welcome",
                title="Welcome to Hiring Jobs",
                message="Upload your resume to get matched with open jobs.",
                dedupe_key=f"welcome:{user.id}",
                read_at=now if user is candidates[0] else None,
            )
        )
    session.flush()


def _profile_picture(session: Session, files_dir: Path, owner_id: int) -> int:
    """A generated avatar (kind image), for the thumbnail job."""
    image = Image.new("RGB", (640, 640), color=(36, 99, 235))
    ImageDraw.Draw(image).ellipse((160, 120, 480, 440), fill=(250, 204, 21))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    stored = store_file(
        session,
        files_dir,
        kind=FileKind.IMAGE,
        data=buffer.getvalue(),
        content_type="image/png",
        original_name="avatar.png",
        owner_id=owner_id,
    )
    return stored.id


def _defer_family_jobs(
    session: Session, mentor: User, candidates: list[User], picture_id: int, now: datetime
) -> int:
    first, second, third = (user.id for user in candidates[:3])
    tick = int(now.replace(minute=0, second=0, microsecond=0).timestamp())
    jobs: list[tuple[str, dict[str, Any]]] = [
        (
            "notifications.notify_mentions",
            {
                "user_ids": [second, third],
                "mention_type": "post",
                "content_id": 1,
                "mentioned_by": first,
            },
        ),
        (
            "notifications.notify_like",
            {"user_id": first, "liker_id": second, "content_type": "post", "content_id": 1},
        ),
        (
            "notifications.notify_comment",
            {
                "user_id": first,
                "commenter_id": third,
                "content_type": "post",
                "content_id": 1,
                "comment_id": 1,
            },
        ),
        ("achievements.unlock", {"user_id": first, "code": "early_adopter"}),
        ("achievements.generate_stats", {}),
        ("analytics.cache_platform_stats", {"timestamp": tick}),
        ("analytics.analyze_quiz_performance", {"timestamp": tick}),
        ("analytics.generate_activity_heatmap", {"days": 14}),
        ("analytics.generate_user_growth_report", {"weeks": 4}),
        ("analytics.cache_all_user_analytics", {}),
        ("documents.generate_cv_pdf", {"user_id": first}),
        ("documents.generate_thumbnail", {"file_id": picture_id}),
        ("maintenance.record_health_check", {}),
    ]
    for task_name, kwargs in jobs:
        defer(session, task_name, **kwargs)
    # Candidates' recommendations follow their resumes' parse chain; the mentor has no resume.
    recommendations.request_refresh(session, mentor.id)
    return len(jobs) + 1
