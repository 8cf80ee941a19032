"""Email tasks run by a real worker: each message arrives once, refusals fail or retry the job.

Jobs are deferred with `hiring_jobs.queue.defer.defer` in a committed transaction, then run
by `run_worker_until_idle(queues=["email"])` against a real SMTP server (aiosmtpd).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

import hiring_jobs.tasks.email as email_tasks  # registers the email.* tasks on the app
from hiring_jobs.models import (
    Achievement,
    AchievementUnlock,
    Application,
    ApplicationStatus,
    ApplicationStatusChange,
    AuthToken,
    Course,
    CourseEnrollment,
    DeliveryStatus,
    EmailDelivery,
    FileKind,
    MentoringSession,
    Notification,
    RecommendationCache,
    RecommendationKind,
    TokenPurpose,
    UserRole,
    UserSkill,
)
from hiring_jobs.privacy import payloads
from hiring_jobs.queue.defer import defer
from hiring_jobs.queue.retry import RetryPolicy
from hiring_jobs.services import auth_tokens, email
from hiring_jobs.services.files import store_file
from hiring_jobs.settings import get_settings
from tests.services.test_email import Inbox, parse, running_smtp, use_no_smtp, use_smtp
from tests.support.factories import make_posting, make_user
from tests.support.jobs import run_worker_until_idle


@pytest.fixture
def inbox(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    handler = Inbox()
    with running_smtp(handler) as server:
        use_smtp(monkeypatch, server.port)
        yield handler


def _defer(session_factory: sessionmaker[Session], task: Any, **kwargs: Any) -> int:
    with session_factory() as session, session.begin():
        return defer(session, task, **kwargs)


def _job(session_factory: sessionmaker[Session], job_id: int) -> dict[str, Any]:
    with session_factory() as fresh:
        row = fresh.execute(
            text(
                "SELECT status, attempts, scheduled_at, scheduled_at > now() AS in_future"
                " FROM procrastinate_jobs WHERE id = :id"
            ),
            {"id": job_id},
        ).one()
    return dict(row._mapping)


def _deliveries(session_factory: sessionmaker[Session]) -> list[EmailDelivery]:
    with session_factory() as fresh:
        return list(fresh.scalars(select(EmailDelivery).order_by(EmailDelivery.id)))


def _new_user(session_factory: sessionmaker[Session], **values: Any) -> int:
    with session_factory() as session, session.begin():
        return make_user(session, **values).id


# --- delivery through the worker ----------------------------------------------------------


def test_the_welcome_email_arrives_with_text_and_html(
    inbox: Inbox, session_factory: sessionmaker[Session]
) -> None:
    user_id = _new_user(session_factory, full_name="Ada Lovelace", email="ada@example.com")
    job_id = _defer(session_factory, email_tasks.send_welcome, user_id=user_id)

    run_worker_until_idle(queues=["email"])

    [message] = inbox.messages
    assert message["To"] == "Ada Lovelace <ada@example.com>"
    assert message["Subject"] == "Welcome to Hiring Jobs, Ada Lovelace"
    assert "Hi Ada Lovelace" in message.get_body(("plain",)).get_content()
    assert "Hi Ada Lovelace" in message.get_body(("html",)).get_content()
    assert _job(session_factory, job_id)["status"] == "succeeded"
    [delivery] = _deliveries(session_factory)
    assert delivery.idempotency_key == f"welcome:{user_id}"
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.job_id == job_id
    assert delivery.provider_response == "250 2.0.0 Ok: queued as TEST1"


def test_two_jobs_for_the_same_message_send_it_once(
    inbox: Inbox, session_factory: sessionmaker[Session]
) -> None:
    inbox.data_delay = 0.3  # both jobs are running while the first one sends
    user_id = _new_user(session_factory)
    jobs = [_defer(session_factory, email_tasks.send_welcome, user_id=user_id) for _ in range(2)]

    run_worker_until_idle(queues=["email"], concurrency=2)

    assert len(inbox.envelopes) == 1
    assert [_job(session_factory, job)["status"] for job in jobs] == ["succeeded"] * 2
    assert len(_deliveries(session_factory)) == 1


def test_running_the_job_again_later_does_not_send_again(
    inbox: Inbox, session_factory: sessionmaker[Session]
) -> None:
    user_id = _new_user(session_factory)
    _defer(session_factory, email_tasks.send_welcome, user_id=user_id)
    run_worker_until_idle(queues=["email"])

    again = _defer(session_factory, email_tasks.send_welcome, user_id=user_id)
    run_worker_until_idle(queues=["email"])

    assert len(inbox.envelopes) == 1
    assert _job(session_factory, again)["status"] == "succeeded"


def test_a_550_refusal_fails_the_job_at_once(
    inbox: Inbox, session_factory: sessionmaker[Session]
) -> None:
    user_id = _new_user(session_factory, email="gone@example.com")
    inbox.refuse("gone@example.com", "550 5.1.1 <gone@example.com>: no such user")
    job_id = _defer(session_factory, email_tasks.send_welcome, user_id=user_id)

    run_worker_until_idle(queues=["email"])

    job = _job(session_factory, job_id)
    assert (job["status"], job["attempts"]) == ("failed", 1)  # no retry
    [delivery] = _deliveries(session_factory)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.provider_response == "550 5.1.1 <gone@example.com>: no such user"
    assert delivery.job_id == job_id


def test_a_451_refusal_schedules_a_retry_and_keeps_the_delivery_pending(
    inbox: Inbox, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Full jitter may pick a delay near zero; a fixed minute keeps the retry in the future.
    monkeypatch.setattr(RetryPolicy, "delay_seconds", lambda self, retries_so_far: 60.0)
    user_id = _new_user(session_factory, email="busy@example.com")
    inbox.refuse("busy@example.com", "451 4.7.1 Greylisted, try again later")
    job_id = _defer(session_factory, email_tasks.send_welcome, user_id=user_id)

    run_worker_until_idle(queues=["email"])

    job = _job(session_factory, job_id)
    assert (job["status"], job["attempts"], job["in_future"]) == ("todo", 1, True)
    [delivery] = _deliveries(session_factory)
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.provider_response == "451 4.7.1 Greylisted, try again later"
    assert inbox.envelopes == []


def test_without_smtp_the_email_goes_to_the_outbox(
    database_url: str, monkeypatch: pytest.MonkeyPatch, session_factory: sessionmaker[Session]
) -> None:
    use_no_smtp(monkeypatch)
    user_id = _new_user(session_factory, full_name="Ada", email="ada@example.com")
    job_id = _defer(session_factory, email_tasks.send_welcome, user_id=user_id)

    run_worker_until_idle(queues=["email"])

    assert _job(session_factory, job_id)["status"] == "succeeded"  # not a failure
    [delivery] = _deliveries(session_factory)
    assert delivery.status == DeliveryStatus.OUTBOX
    message = parse(delivery.raw_message or "")
    assert message["To"] == "Ada <ada@example.com>"
    assert message["Subject"] == "Welcome to Hiring Jobs, Ada"
    assert "Hi Ada" in message.get_body(("plain",)).get_content()
    assert "Hi Ada" in message.get_body(("html",)).get_content()


def test_the_html_part_escapes_a_script_in_a_full_name(
    inbox: Inbox, session_factory: sessionmaker[Session]
) -> None:
    user_id = _new_user(session_factory, full_name="<script>alert(1)</script>")
    _defer(session_factory, email_tasks.send_welcome, user_id=user_id)

    run_worker_until_idle(queues=["email"])

    [message] = inbox.messages
    html = message.get_body(("html",)).get_content()
    assert "<script>" not in html
    assert "Hi &lt;script&gt;alert(1)&lt;/script&gt;," in html
    assert message["To"].addresses[0].display_name == "<script>alert(1)</script>"


# --- every message ------------------------------------------------------------------------


@dataclass
class Case:
    """What a scenario defers, and what must arrive."""

    task: Any
    kwargs: dict[str, Any]
    to: str
    key: str
    subject: str
    snippets: list[str]
    attachments: dict[str, bytes] = field(default_factory=dict)


def _verification(session: Session) -> Case:
    user = make_user(session, email="new@example.com")
    token = _token(session, user.id, TokenPurpose.EMAIL_VERIFICATION, "verify-me")
    return Case(
        email_tasks.send_verification,
        {"user_id": user.id, "token": "verify-me"},
        "new@example.com",
        f"verification:{token.id}",
        "Confirm your email address",
        ["/verify-email?token=verify-me"],
    )


def _password_reset(session: Session) -> Case:
    user = make_user(session, email="forgot@example.com")
    token = _token(session, user.id, TokenPurpose.PASSWORD_RESET, "reset-me")
    expiry = token.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return Case(
        email_tasks.send_password_reset,
        {"user_id": user.id, "token": "reset-me"},
        "forgot@example.com",
        f"password_reset:{token.id}",
        "Reset your Hiring Jobs password",
        ["/reset-password?token=reset-me", expiry],
    )


def _application_status(session: Session) -> Case:
    candidate = make_user(session, email="candidate@example.com")
    posting = make_posting(session, title="Senior Developer", company="Acme")
    application = Application(candidate_id=candidate.id, job_posting_id=posting.id)
    session.add(application)
    session.flush()
    change = ApplicationStatusChange(
        application_id=application.id,
        from_status=ApplicationStatus.SCREENING,
        to_status=ApplicationStatus.INTERVIEW_SCHEDULED,
        note="We will call you on Monday.",
    )
    session.add(change)
    session.flush()
    return Case(
        email_tasks.send_application_status,
        {"application_id": application.id, "status_change_id": change.id},
        "candidate@example.com",
        f"application_status:{application.id}:{change.id}",
        "Senior Developer at Acme: Interview scheduled",
        ["would like to interview you", "We will call you on Monday."],
    )


def _job_match(session: Session) -> Case:
    user = make_user(session, email="seeker@example.com")
    session.add(UserSkill(user_id=user.id, skill="python"))
    posting = make_posting(session, title="Backend Engineer", company="Initech")
    return Case(
        email_tasks.send_job_match,
        {"user_id": user.id, "job_posting_id": posting.id, "score": 87},
        "seeker@example.com",
        f"job_match:{user.id}:{posting.id}",
        "New job match: Backend Engineer at Initech (87%)",
        ["87%", "Your matching skills: Python", f"/jobs/{posting.id}"],
    )


def _achievement_unlocked(session: Session) -> Case:
    user = make_user(session, email="achiever@example.com", points=140)
    achievement = Achievement(code="first-app", name="First application", points=25)
    session.add(achievement)
    session.flush()
    unlock = AchievementUnlock(user_id=user.id, achievement_id=achievement.id)
    session.add(unlock)
    session.flush()
    return Case(
        email_tasks.send_achievement_unlocked,
        {"unlock_id": unlock.id},
        "achiever@example.com",
        f"achievement_unlocked:{unlock.id}",
        "Achievement unlocked: First application",
        ["25 points", "140 points"],
    )


def _mentor_request(session: Session) -> Case:
    mentor = make_user(session, email="mentor@example.com", role=UserRole.MENTOR)
    mentee = make_user(session, full_name="Ada Mentee")
    request = MentoringSession(mentor_id=mentor.id, mentee_id=mentee.id, topic="Query plans")
    session.add(request)
    session.flush()
    return Case(
        email_tasks.send_mentor_request,
        {"mentoring_session_id": request.id},
        "mentor@example.com",
        f"mentor_request:{request.id}",
        "Ada Mentee asks you for mentoring",
        ["Query plans", f"/mentoring/{request.id}"],
    )


def _course_enrollment(session: Session) -> Case:
    user = make_user(session, email="learner@example.com")
    course = Course(title="PostgreSQL in depth", level="advanced", skills=["PostgreSQL"])
    session.add(course)
    session.flush()
    enrollment = CourseEnrollment(user_id=user.id, course_id=course.id)
    session.add(enrollment)
    session.flush()
    return Case(
        email_tasks.send_course_enrollment,
        {"enrollment_id": enrollment.id},
        "learner@example.com",
        f"course_enrollment:{enrollment.id}",
        "You are enrolled in PostgreSQL in depth",
        ["advanced", f"/courses/{course.id}"],
    )


def _daily_digest(session: Session) -> Case:
    """The task builds the digest itself from the user's rows: the job carries ids only."""
    user = make_user(session, email="daily@example.com")
    session.add(
        RecommendationCache(
            user_id=user.id,
            kind=RecommendationKind.JOBS,
            items=[{"job_posting_id": 4, "title": "Data Engineer", "company": "Acme", "score": 80}],
        )
    )
    session.add(Notification(user_id=user.id, kind="x", message="unread"))
    tick = datetime(2024, 6, 3, 9, tzinfo=UTC)
    return Case(
        email_tasks.send_daily_digest,
        {"user_id": user.id, "timestamp": int(tick.timestamp())},
        "daily@example.com",
        f"daily_digest:{user.id}:2024-06-03",
        "Your Hiring Jobs digest for Monday 3 June",
        ["Data Engineer at Acme", "80% skills match", "You have 1 unread notification."],
    )


def _weekly_report(session: Session) -> Case:
    admin = make_user(session, email="admin@example.com", role=UserRole.ADMIN)
    return Case(
        email_tasks.send_weekly_report,
        {"user_id": admin.id, "week_start": "2024-06-03", "stats": {"new_users": 1204}},
        "admin@example.com",
        f"weekly_report:2024-06-03:{admin.id}",
        "Hiring Jobs weekly report, 2024-06-03 to 2024-06-09",
        ["New users", "1,204"],
    )


def _cv_pdf(session: Session) -> Case:
    user = make_user(session, email="owner@example.com")
    pdf = b"%PDF-1.7\n% a CV\n"
    stored = store_file(
        session,
        get_settings().files_dir,
        kind=FileKind.CV_PDF,
        data=pdf,
        content_type="application/pdf",
        original_name="Ada CV.pdf",
        owner_id=user.id,
    )
    return Case(
        email_tasks.send_cv_pdf,
        {"file_id": stored.id},
        "owner@example.com",
        f"cv_pdf:{stored.id}:{user.id}",
        "Your CV: Ada CV.pdf",
        ["attached"],
        {"Ada CV.pdf": pdf},
    )


def _generic(session: Session) -> Case:
    message = {
        "to": "someone@example.com",
        "subject": "Maintenance tonight",
        "body": "We restart at 22:00.",
        "idempotency_key": "maintenance:2024-06-03",
    }
    payload_id = payloads.store(session, email.PAYLOAD_KIND, message, subject_user_id=None)
    return Case(
        email_tasks.send,
        {"payload_id": payload_id},
        "someone@example.com",
        "generic:maintenance:2024-06-03",
        "Maintenance tonight",
        ["We restart at 22:00."],
    )


def _token(session: Session, user_id: int, purpose: TokenPurpose, token: str) -> AuthToken:
    row = AuthToken(
        user_id=user_id,
        purpose=purpose,
        token_hash=auth_tokens.token_hash(token),
        expires_at=datetime.now(UTC) + timedelta(hours=1),
    )
    session.add(row)
    session.flush()
    return row


SCENARIOS: list[Callable[[Session], Case]] = [
    _verification,
    _password_reset,
    _application_status,
    _job_match,
    _achievement_unlocked,
    _mentor_request,
    _course_enrollment,
    _daily_digest,
    _weekly_report,
    _cv_pdf,
    _generic,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__[1:])
def test_each_task_sends_its_message(
    inbox: Inbox, session_factory: sessionmaker[Session], scenario: Callable[[Session], Case]
) -> None:
    with session_factory() as session, session.begin():
        case = scenario(session)
        job_id = defer(session, case.task, **case.kwargs)

    run_worker_until_idle(queues=["email"])

    assert _job(session_factory, job_id)["status"] == "succeeded"
    [envelope] = inbox.envelopes
    assert envelope.rcpt_tos == [case.to]
    [message] = inbox.messages
    assert message["Subject"] == case.subject
    for part in (message.get_body(("plain",)), message.get_body(("html",))):
        for snippet in case.snippets:
            assert snippet in part.get_content()
    attached = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert attached == case.attachments
    [delivery] = _deliveries(session_factory)
    assert (delivery.idempotency_key, delivery.status) == (case.key, DeliveryStatus.SENT)


# --- nothing to send ----------------------------------------------------------------------


def test_an_email_about_a_deleted_user_is_skipped_not_failed(
    inbox: Inbox, session_factory: sessionmaker[Session]
) -> None:
    job_id = _defer(session_factory, email_tasks.send_welcome, user_id=999_999)

    run_worker_until_idle(queues=["email"])

    assert _job(session_factory, job_id)["status"] == "succeeded"
    assert inbox.envelopes == []
    assert _deliveries(session_factory) == []


def test_a_used_password_reset_token_is_not_emailed(
    inbox: Inbox, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session, session.begin():
        user = make_user(session)
        token = _token(session, user.id, TokenPurpose.PASSWORD_RESET, "already-used")
        token.used_at = datetime.now(UTC)
        job_id = defer(
            session, email_tasks.send_password_reset, user_id=user.id, token="already-used"
        )

    run_worker_until_idle(queues=["email"])

    assert _job(session_factory, job_id)["status"] == "succeeded"
    assert inbox.envelopes == []


def test_the_weekly_report_goes_to_administrators_only(
    inbox: Inbox, session_factory: sessionmaker[Session]
) -> None:
    candidate_id = _new_user(session_factory, role=UserRole.CANDIDATE)
    _defer(
        session_factory,
        email_tasks.send_weekly_report,
        user_id=candidate_id,
        week_start="2024-06-03",
        stats={"new_users": 3},
    )

    run_worker_until_idle(queues=["email"])

    assert inbox.envelopes == []


def test_a_cv_whose_file_is_missing_fails_without_retrying(
    inbox: Inbox, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session, session.begin():
        user = make_user(session)
        files_dir = get_settings().files_dir
        stored = store_file(
            session,
            files_dir,
            kind=FileKind.CV_PDF,
            data=b"%PDF-1.7",
            content_type="application/pdf",
            owner_id=user.id,
        )
        (files_dir / stored.path).unlink()
        job_id = defer(session, email_tasks.send_cv_pdf, file_id=stored.id)

    run_worker_until_idle(queues=["email"])

    job = _job(session_factory, job_id)
    assert (job["status"], job["attempts"]) == ("failed", 1)
    assert inbox.envelopes == []
