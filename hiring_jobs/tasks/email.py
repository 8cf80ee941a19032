"""Email tasks: load the rows a message is about, build its context, `deliver` it once.

Each task takes ids (and platform-wide figures for reports), never whole objects, and
derives a deterministic idempotency key from them: a retried or duplicated job finds the
delivery row and does not send again. A row that no longer exists (a deleted user, a used
token) means the email has no reason to go out: the task returns `skipped`, it does not fail.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from procrastinate import JobContext
from sqlalchemy.orm import Session

from hiring_jobs import db
from hiring_jobs.models import (
    AchievementUnlock,
    ApplicationStatusChange,
    Course,
    CourseEnrollment,
    EmailDelivery,
    FileKind,
    JobPosting,
    MentoringSession,
    PostingStatus,
    StoredFile,
    TokenPurpose,
    User,
    UserRole,
)
from hiring_jobs.privacy import payloads
from hiring_jobs.queue import rate_limit, retry
from hiring_jobs.queue.keys import Key
from hiring_jobs.queue.queues import Priority, Queue
from hiring_jobs.queue.rate_limit import Rate
from hiring_jobs.queue.retry import PermanentError
from hiring_jobs.services import auth_tokens, email, email_content, recommendations
from hiring_jobs.services.files import file_path
from hiring_jobs.settings import get_settings
from hiring_jobs.tasks.family import TaskFamily

logger = logging.getLogger(__name__)

Result = dict[str, Any]

# Every email task: the email queue, the email retry policy, the job id for the row.
_task = functools.partial(
    TaskFamily("email", Queue.EMAIL, retry.EMAIL, Priority.NORMAL).task, pass_context=True
)


# --- tasks --------------------------------------------------------------------------------


@_task("send_welcome")
def send_welcome(context: JobContext, user_id: int) -> Result:
    with _recording_session() as session:
        user = session.get(User, user_id)
        if user is None:
            return _skipped(f"user {user_id} no longer exists")
        return _deliver(
            session, context, f"welcome:{user_id}", user, "welcome", {"name": user.full_name}
        )


@_task("send_verification", Priority.URGENT)
def send_verification(context: JobContext, user_id: int, token: str) -> Result:
    with _recording_session() as session:
        found = auth_tokens.live_token(session, user_id, token, TokenPurpose.EMAIL_VERIFICATION)
        if isinstance(found, str):
            return _skipped(found)
        user, auth_token = found
        if user.email_verified_at is not None:
            return _skipped(f"user {user_id} has already verified their email")
        values = {"name": user.full_name, "token": token}
        key = f"verification:{auth_token.id}"
        return _deliver(session, context, key, user, "verification", values)


@_task("send_password_reset", Priority.URGENT)
def send_password_reset(context: JobContext, user_id: int, token: str) -> Result:
    with _recording_session() as session:
        found = auth_tokens.live_token(session, user_id, token, TokenPurpose.PASSWORD_RESET)
        if isinstance(found, str):
            return _skipped(found)
        user, auth_token = found
        values = {"name": user.full_name, "token": token, "expires_at": auth_token.expires_at}
        key = f"password_reset:{auth_token.id}"
        return _deliver(session, context, key, user, "password_reset", values)


@_task("send_application_status", Priority.HIGH)
def send_application_status(
    context: JobContext, application_id: int, status_change_id: int
) -> Result:
    with _recording_session() as session:
        change = session.get(ApplicationStatusChange, status_change_id)
        if change is None or change.application_id != application_id:
            return _skipped(f"status change {status_change_id} of {application_id} is gone")
        application = change.application
        label, sentence = email_content.STATUS_WORDS[change.to_status]
        values = {
            "name": application.candidate.full_name,
            "job_title": application.job_posting.title,
            "company": application.job_posting.company,
            "status_label": label,
            "status_sentence": sentence,
            "note": change.note,
            "application_id": application.id,
        }
        key = f"application_status:{application_id}:{status_change_id}"
        return _deliver(session, context, key, application.candidate, "application_status", values)


# No candidate gets more than 6 match mails a minute (bursts of 3), whatever the number
# of postings that match at once; recipients take turns (queue/keys.py).
RECIPIENT_KEY = Key("recipient", "user_id", rate=Rate.per_minute(6, burst=3))


@_task("send_job_match", key=RECIPIENT_KEY)
def send_job_match(context: JobContext, user_id: int, job_posting_id: int, score: int) -> Result:
    with _recording_session() as session:
        user = session.get(User, user_id)
        posting = session.get(JobPosting, job_posting_id)
        if user is None or posting is None:
            return _skipped(f"user {user_id} or job posting {job_posting_id} is gone")
        if posting.status != PostingStatus.OPEN:
            return _skipped(f"job posting {job_posting_id} is closed")
        values = {
            "name": user.full_name,
            "job_title": posting.title,
            "company": posting.company,
            "location": posting.location,
            "score": score,
            "matched_skills": email_content.matched_skills(user, posting),
            "job_id": posting.id,
        }
        key = f"job_match:{user_id}:{job_posting_id}"
        return _deliver(session, context, key, user, "job_match", values)


@_task("send_achievement_unlocked")
def send_achievement_unlocked(context: JobContext, unlock_id: int) -> Result:
    with _recording_session() as session:
        unlock = session.get(AchievementUnlock, unlock_id)
        user = session.get(User, unlock.user_id) if unlock else None
        if unlock is None or user is None:
            return _skipped(f"achievement unlock {unlock_id} is gone")
        values = {
            "name": user.full_name,
            "achievement_name": unlock.achievement.name,
            "description": unlock.achievement.description,
            "points": unlock.achievement.points,
            "total_points": user.points,
        }
        key = f"achievement_unlocked:{unlock_id}"
        return _deliver(session, context, key, user, "achievement_unlocked", values)


@_task("send_mentor_request")
def send_mentor_request(context: JobContext, mentoring_session_id: int) -> Result:
    with _recording_session() as session:
        request = session.get(MentoringSession, mentoring_session_id)
        mentor = session.get(User, request.mentor_id) if request else None
        mentee = session.get(User, request.mentee_id) if request else None
        if request is None or mentor is None or mentee is None:
            return _skipped(f"mentoring session {mentoring_session_id} is gone")
        values = {
            "name": mentor.full_name,
            "mentee_name": mentee.full_name,
            "mentee_headline": mentee.headline,
            "topic": request.topic,
            "session_id": request.id,
        }
        key = f"mentor_request:{mentoring_session_id}"
        return _deliver(session, context, key, mentor, "mentor_request", values)


@_task("send_course_enrollment")
def send_course_enrollment(context: JobContext, enrollment_id: int) -> Result:
    with _recording_session() as session:
        enrollment = session.get(CourseEnrollment, enrollment_id)
        user = session.get(User, enrollment.user_id) if enrollment else None
        course = session.get(Course, enrollment.course_id) if enrollment else None
        if enrollment is None or user is None or course is None:
            return _skipped(f"course enrollment {enrollment_id} is gone")
        values = {
            "name": user.full_name,
            "course_title": course.title,
            "course_description": course.description,
            "course_level": course.level,
            "skills": list(course.skills),
            "course_id": course.id,
        }
        key = f"course_enrollment:{enrollment_id}"
        return _deliver(session, context, key, user, "course_enrollment", values)


@_task("send_daily_digest", Priority.LOW)
def send_daily_digest(context: JobContext, user_id: int, timestamp: int) -> Result:
    """One user's digest for the daily tick at `timestamp`: what is new in the day before.

    Built here, not by the caller: the digest (application news, recommendations) is
    about the user, and job arguments carry ids only (privacy/inventory.py).
    """
    now = datetime.fromtimestamp(timestamp, UTC)
    with _recording_session() as session:
        user = session.get(User, user_id)
        if user is None or not user.is_active:
            return _skipped(f"user {user_id} is gone or inactive")
        digest = recommendations.daily_digest(session, user_id, now)
        if digest is None:
            return _skipped(f"nothing new for user {user_id} on {now.date()}")
        values = {
            "name": user.full_name,
            "day_label": f"{now:%A} {now.day} {now:%B}",
            **digest,
        }
        key = f"daily_digest:{user_id}:{now.date().isoformat()}"
        return _deliver(session, context, key, user, "daily_digest", values)


@_task("send_weekly_report", Priority.LOW)
def send_weekly_report(
    context: JobContext, user_id: int, week_start: str, stats: dict[str, int | float | str]
) -> Result:
    """The admin report for the week starting `week_start` (ISO date).

    `stats` maps a snake_case name to a value. Job arguments are stored as jsonb, which
    does not keep key order, so rows are shown sorted by name.
    """
    start = _iso_date(week_start)
    with _recording_session() as session:
        user = session.get(User, user_id)
        # The report is for administrators only: never send platform figures to anyone else.
        if user is None or user.role != UserRole.ADMIN:
            return _skipped(f"user {user_id} is not an administrator")
        values = {
            "name": user.full_name,
            "week_start": start.isoformat(),
            "week_end": (start + timedelta(days=6)).isoformat(),
            "stats": email_content.stat_rows(stats),
        }
        key = f"weekly_report:{start.isoformat()}:{user_id}"
        return _deliver(session, context, key, user, "weekly_report", values)


@_task("send_cv_pdf")
def send_cv_pdf(context: JobContext, file_id: int, user_id: int | None = None) -> Result:
    """Email a generated CV PDF to `user_id` (by default, the CV's owner)."""
    with _recording_session() as session:
        stored = session.get(StoredFile, file_id)
        if stored is None:
            return _skipped(f"file {file_id} no longer exists")
        if stored.kind != FileKind.CV_PDF:
            raise PermanentError(f"file {file_id} is a {stored.kind}, not a CV PDF")
        recipient_id = user_id if user_id is not None else stored.owner_id
        user = session.get(User, recipient_id) if recipient_id is not None else None
        if user is None:
            return _skipped(f"no recipient for CV {file_id}")
        attachment = _cv_attachment(stored)
        values = {"name": user.full_name, "filename": attachment[0]}
        key = f"cv_pdf:{file_id}:{user.id}"
        return _deliver(session, context, key, user, "cv_pdf", values, (attachment,))


@_task("send")
def send(context: JobContext, payload_id: int) -> Result:
    """Any one-off message queued with `services.email.queue_message` (to, subject, body).

    The caller names the message with an idempotency key (there is no row to derive it from).
    """
    with _recording_session() as session:
        message = payloads.load(session, payload_id, email.PAYLOAD_KIND)
        key = f"generic:{message['idempotency_key']}"
        if len(key) > email.MAX_KEY_LENGTH:
            raise PermanentError(f"idempotency key longer than {email.MAX_KEY_LENGTH} characters")
        values = {"subject": message["subject"], "body": message["body"]}
        return _deliver(session, context, key, message["to"], "generic", values)


# --- helpers ------------------------------------------------------------------------------


@contextmanager
def _recording_session() -> Iterator[Session]:
    """A session that commits on success, and also when delivery raised `EmailError`.

    The delivery row then holds the outcome (failed with the refusal, or pending with the
    transient reply) that must outlive the exception the job is about to fail or retry on.
    Anything else rolls back.
    """
    with db.get_sessionmaker()() as session:
        try:
            yield session
        except email.EmailError:
            session.commit()
            raise
        except BaseException:
            session.rollback()
            raise
        session.commit()


def _deliver(
    session: Session,
    context: JobContext,
    key: str,
    to: User | str,
    template: str,
    values: Mapping[str, Any],
    attachments: Sequence[email.Attachment] = (),
) -> Result:
    recipient = email.address(to.full_name, to.email) if isinstance(to, User) else to
    delivery = email.deliver(
        session,
        idempotency_key=key,
        to=recipient,
        template=template,
        context=values,
        attachments=attachments,
        settings=get_settings(),
        job_id=context.job.id,
        base_url=_base_url(),
        before_send=_rate_limit,
    )
    return _result(delivery)


def _rate_limit() -> None:
    """At most HIRING_JOBS_EMAIL_RATE_PER_MINUTE sends across all workers and machines."""
    rate_limit.acquire("email", get_settings().email_rate_per_minute)


def _base_url() -> str:
    return get_settings().public_url or email.DEFAULT_BASE_URL


def _result(delivery: EmailDelivery) -> Result:
    return {"delivery_id": delivery.id, "status": delivery.status.value}


def _skipped(reason: str) -> Result:
    logger.info("email skipped: %s", reason)
    return {"delivery_id": None, "status": "skipped", "reason": reason}


def _iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        # Retrying the same arguments cannot fix them.
        raise PermanentError(f"not an ISO date: {value!r}") from None


def _cv_attachment(stored: StoredFile) -> tuple[str, str, bytes]:
    path: Path = file_path(get_settings().files_dir, stored)
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        # The row outlived its file (cleanup, lost disk): retrying will not bring it back.
        raise PermanentError(f"the file of CV {stored.id} is missing") from None
    filename = stored.original_name or f"cv-{stored.id}.pdf"
    return filename, stored.content_type, content
