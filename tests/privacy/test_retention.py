"""Retention against real PostgreSQL: each kind removed once due and not before, files gone
from disk, a second run finding nothing, a crash before the file removal recovered, live
jobs untouched, and the daily task run by a real worker (privacy/retention.py)."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.cli import main
from hiring_jobs.models import (
    Application,
    ApplicationStatus,
    ApplicationStatusChange,
    AuditLogEntry,
    DeadLetterRecord,
    DeliveryStatus,
    EmailDelivery,
    FileKind,
    JobAttempt,
    JobPayload,
    ParseStatus,
    PendingFileDeletion,
    Resume,
    StoredFile,
)
from hiring_jobs.privacy import inventory, payloads, retention
from hiring_jobs.privacy.inventory import ArgumentKind, Retention
from hiring_jobs.privacy.retention import REMOVED, RetentionPolicy, RetentionReport
from hiring_jobs.queue.defer import defer
from hiring_jobs.queue.status import job_status
from hiring_jobs.services import files
from hiring_jobs.settings import Settings, get_settings
from hiring_jobs.sql import QUEUE
from hiring_jobs.tasks import privacy as privacy_tasks
from tests.support import tasks as test_tasks
from tests.support.factories import make_posting, make_user
from tests.support.jobs import jobs, run_worker_until_idle

POLICY = RetentionPolicy(resume_days=180, email_body_days=30, job_details_days=14)
HOUR = timedelta(hours=1)
RESUME_TEXT = "Ada Lovelace, ada@example.com, +44 20 7946 0958. Python, 7 years."


@pytest.fixture
def files_dir(database_url: str) -> Path:
    return get_settings().files_dir


def _ago(delta: timedelta) -> datetime:
    return datetime.now(UTC) - delta


def _days(n: float) -> timedelta:
    return timedelta(days=n)


def _run(
    factory: sessionmaker[Session], files_dir: Path, batch: int = retention.BATCH
) -> RetentionReport:
    return retention.enforce_retention(
        factory, files_dir, POLICY, now=datetime.now(UTC), batch=batch
    )


# --- builders -----------------------------------------------------------------------------


def _resume_file(
    session: Session, files_dir: Path, user_id: int, *, uploaded: timedelta
) -> StoredFile:
    stored = files.store_file(
        session,
        files_dir,
        kind=FileKind.RESUME,
        data=b"%PDF-1.4 " + RESUME_TEXT.encode(),
        content_type="application/pdf",
        original_name="Ada Lovelace.pdf",
        owner_id=user_id,
    )
    stored.created_at = _ago(uploaded)
    session.flush()
    return stored


def _resume(session: Session, files_dir: Path, user_id: int, *, uploaded: timedelta) -> Resume:
    stored = _resume_file(session, files_dir, user_id, uploaded=uploaded)
    resume = Resume(
        user_id=user_id,
        file_id=stored.id,
        parse_status=ParseStatus.PARSED,
        extracted_text=RESUME_TEXT,
        skills=["Python"],
        years_experience=7.0,
        education=[{"degree": "BSc", "school": "University of London"}],
        failure_reason="the PDF has one unreadable page",
        created_at=_ago(uploaded),
    )
    session.add(resume)
    session.flush()
    return resume


def _application(
    session: Session,
    user_id: int,
    status: ApplicationStatus,
    *,
    updated: timedelta,
    status_changed: timedelta | None = None,
) -> None:
    application = Application(
        candidate_id=user_id, job_posting_id=make_posting(session).id, status=status
    )
    session.add(application)
    session.flush()
    session.execute(
        update(Application).where(Application.id == application.id).values(updated_at=_ago(updated))
    )
    if status_changed is not None:
        session.add(
            ApplicationStatusChange(
                application_id=application.id,
                from_status=ApplicationStatus.APPLIED,
                to_status=status,
                changed_at=_ago(status_changed),
            )
        )
    session.flush()


def _candidate(
    session: Session, files_dir: Path, *applications: dict[str, Any], uploaded: float = 400
) -> tuple[int, int]:
    """A candidate with one resume uploaded `uploaded` days ago: (user id, resume id)."""
    user_id = make_user(session).id
    resume = _resume(session, files_dir, user_id, uploaded=_days(uploaded))
    for application in applications:
        _application(session, user_id, **application)
    return user_id, resume.id


def _closed(days: float, status: ApplicationStatus = ApplicationStatus.REJECTED) -> dict[str, Any]:
    return {"status": status, "updated": _days(days)}


def _age_events(session: Session, job_ids: list[int], delta: timedelta) -> None:
    session.execute(
        text("UPDATE procrastinate_events SET at = at - :delta WHERE job_id = ANY(:ids)"),
        {"delta": delta, "ids": job_ids},
    )


def _set_status(session: Session, job_id: int, status: str) -> None:
    session.execute(
        text("UPDATE procrastinate_jobs SET status = :status WHERE id = :id"),
        {"status": status, "id": job_id},
    )


def _args(session: Session) -> dict[int, dict[str, Any]]:
    return {job["id"]: job["args"] for job in jobs(session)}


# --- resumes ------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [retention.BATCH, 1])
def test_resumes_go_once_every_application_closed_long_enough(
    session_factory: sessionmaker[Session], files_dir: Path, batch: int
) -> None:
    with session_factory() as session, session.begin():
        due_user, due = _candidate(
            session,
            files_dir,
            _closed(200),
            _closed(180 + 1 / 24, ApplicationStatus.WITHDRAWN),
        )
        # Resume files no resume refers to go by their upload time.
        loose_old = _resume_file(session, files_dir, due_user, uploaded=_days(400))
        loose_new = _resume_file(session, files_dir, due_user, uploaded=_days(1))
        loose = {"old": files_dir / loose_old.path, "new": files_dir / loose_new.path}
        _, hired_due = _candidate(
            session, files_dir, _closed(300, ApplicationStatus.HIRED), uploaded=181
        )
        kept = {
            "closed within the period": _candidate(session, files_dir, _closed(180 - 1 / 24))[1],
            "one application open": _candidate(
                session,
                files_dir,
                _closed(300),
                {"status": ApplicationStatus.INTERVIEW_SCHEDULED, "updated": _days(300)},
            )[1],
            "no application": _candidate(session, files_dir)[1],
            "a recent status change": _candidate(
                session,
                files_dir,
                {
                    "status": ApplicationStatus.HIRED,
                    "updated": _days(300),
                    "status_changed": _days(20),
                },
            )[1],
        }
        returning_user, old_resume = _candidate(session, files_dir, _closed(300))
        kept["uploaded since"] = _resume(session, files_dir, returning_user, uploaded=_days(10)).id
        due_resumes = [due, hired_due, old_resume]
        files_of = {r.id: files_dir / r.file.path for r in session.scalars(select(Resume))}

    report = _run(session_factory, files_dir, batch)

    assert (report.resumes, report.resume_files, report.files_removed) == (3, 4, 4)
    assert not loose["old"].exists() and loose["new"].exists()
    with session_factory() as session:
        for resume_id in due_resumes:
            resume = session.get_one(Resume, resume_id)
            assert (resume.extracted_text, resume.skills, resume.years_experience) == (
                None,
                [],
                None,
            )
            assert (resume.education, resume.failure_reason, resume.file_id) == ([], None, None)
            assert resume.parse_status == ParseStatus.PARSED  # not personal: kept
            assert not files_of[resume_id].exists()
        for why, resume_id in kept.items():
            resume = session.get_one(Resume, resume_id)
            assert resume.extracted_text == RESUME_TEXT, why
            assert resume.file_id is not None and files_of[resume_id].exists(), why
        remaining = session.scalars(select(StoredFile.kind)).all()
        assert len(remaining) == len(kept) + 1  # and the loose new file
    assert _run(session_factory, files_dir, batch).total == 0


def test_a_crash_between_the_commit_and_the_file_removal_is_recovered_by_the_next_run(
    session_factory: sessionmaker[Session], files_dir: Path
) -> None:
    with session_factory() as session, session.begin():
        _, resume_id = _candidate(session, files_dir, _closed(200))
        path = files_dir / session.get_one(Resume, resume_id).file.path

    # The database part commits, then the process dies before removing the file.
    first = retention.apply_retention(session_factory, POLICY, now=datetime.now(UTC))

    assert (first.resumes, first.resume_files, first.files_removed) == (1, 1, 0)
    assert path.exists()
    with session_factory() as session:
        assert session.scalars(select(StoredFile)).all() == []
        [pending] = session.scalars(select(PendingFileDeletion)).all()
        assert pending.reason == "retention: resume"

    second = _run(session_factory, files_dir)

    assert second.as_dict() == RetentionReport(files_removed=1).as_dict()
    assert not path.exists()
    with session_factory() as session:
        assert session.scalars(select(PendingFileDeletion)).all() == []


# --- email bodies -------------------------------------------------------------------------


def _delivery(
    session: Session, key: str, *, created: timedelta, sent: timedelta | None
) -> EmailDelivery:
    delivery = EmailDelivery(
        idempotency_key=key,
        recipient="ada@example.com",
        subject="Your application to Acme, Ada",
        template="application_status",
        status=DeliveryStatus.SENT if sent is not None else DeliveryStatus.OUTBOX,
        provider_response="250 2.0.0 Ok: queued for ada@example.com",
        raw_message="To: Ada Lovelace <ada@example.com>\n\nDear Ada, ...",
        created_at=_ago(created),
        sent_at=_ago(sent) if sent is not None else None,
    )
    session.add(delivery)
    session.flush()
    return delivery


@pytest.mark.parametrize("batch", [retention.BATCH, 1])
def test_email_bodies_go_after_their_period_and_the_log_stays(
    session_factory: sessionmaker[Session], files_dir: Path, batch: int
) -> None:
    with session_factory() as session, session.begin():
        due = {
            "sent long ago": _delivery(session, "a", created=_days(45), sent=_days(30) + HOUR),
            "never sent, created long ago": _delivery(
                session, "b", created=_days(30) + HOUR, sent=None
            ),
        }
        kept = {
            "sent recently": _delivery(session, "c", created=_days(45), sent=_days(30) - HOUR),
            "created recently": _delivery(session, "d", created=_days(2), sent=None),
        }
        before = {
            d.id: (d.recipient, d.template, d.status, d.created_at, d.sent_at)
            for d in [*due.values(), *kept.values()]
        }
        due_ids = {d.id for d in due.values()}

    report = _run(session_factory, files_dir, batch)

    assert report.email_bodies == 2
    with session_factory() as session:
        for delivery in session.scalars(select(EmailDelivery)):
            record = (delivery.recipient, delivery.template, delivery.status)
            assert (*record, delivery.created_at, delivery.sent_at) == before[delivery.id]
            body = (delivery.subject, delivery.raw_message, delivery.provider_response)
            if delivery.id in due_ids:
                assert body == (REMOVED, None, None)
            else:
                assert delivery.raw_message and delivery.subject.startswith("Your application")
    assert _run(session_factory, files_dir, batch).total == 0


# --- job details --------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [retention.BATCH, 1])
def test_finished_jobs_are_reduced_to_ids_and_live_ones_are_left_alone(
    session_factory: sessionmaker[Session], files_dir: Path, batch: int
) -> None:
    error = "cannot reach Ada Lovelace <ada@example.com>"
    with session_factory() as session, session.begin():
        user_id = make_user(session).id
        failed = defer(session, test_tasks.fail, message=error, _request_id="req-1")
        echoed = defer(session, test_tasks.echo, value={"email": "ada@example.com"})
        recorded = defer(session, test_tasks.record, user_id=user_id, message="Ada Lovelace")
        failed_young = defer(session, test_tasks.fail, message=error)
    run_worker_until_idle(queues=["default"])
    with session_factory() as session, session.begin():
        pending = defer(session, test_tasks.record, user_id=user_id, message="Ada Lovelace")
        scheduled = defer(
            session,
            test_tasks.record,
            options={"schedule_in": {"days": 30}},
            user_id=user_id,
            message="Ada Lovelace",
        )
        _age_events(session, [failed, echoed, recorded, pending, scheduled], _days(14) + HOUR)
        _age_events(session, [failed_young], _days(14) - HOUR)
        before = _args(session)

    report = _run(session_factory, files_dir, batch)

    assert (report.job_arguments, report.job_attempts, report.dead_letters) == (3, 2, 1)
    with session_factory() as session:
        args = _args(session)
        assert args[failed] == {"_request_id": "req-1"}
        assert args[echoed] == {}
        assert args[recorded] == {"user_id": user_id}
        for untouched in (failed_young, pending, scheduled):
            assert args[untouched] == before[untouched]
        attempts = {a.job_id: a for a in session.scalars(select(JobAttempt))}
        for job_id in (failed, echoed, recorded):
            attempt = attempts[job_id]
            assert (attempt.error_message, attempt.traceback, attempt.result) == (None, None, None)
        assert (
            attempts[failed].exception_type == "builtins.RuntimeError"
        )  # the kind of failure stays
        assert attempts[failed].error_fingerprint
        assert attempts[failed_young].error_message == error
        assert attempts[failed_young].traceback
        letters = {d.job_id: d for d in session.scalars(select(DeadLetterRecord))}
        assert (letters[failed].error_message, letters[failed].exception_type) == (
            None,
            "builtins.RuntimeError",
        )
        assert letters[failed_young].error_message == error
    assert _run(session_factory, files_dir, batch).total == 0


@pytest.mark.parametrize("batch", [retention.BATCH, 1])
def test_payloads_go_when_no_job_still_needs_them(
    session_factory: sessionmaker[Session], files_dir: Path, batch: int
) -> None:
    with session_factory() as session, session.begin():
        user_id = make_user(session).id
        payload = {
            name: payloads.store(session, "message", {"text": name}, subject_user_id=user_id)
            for name in (
                "of old job",
                "of pending job",
                "of running job",
                "of young failure",
                "of young success",
                "orphan",
                "new",
            )
        }
        old_job = defer(session, "tests.echo", payload_id=payload["of old job"], value=1)
        defer(session, "tests.echo", payload_ids=[7, payload["of pending job"]], value=1)
        running = defer(session, "tests.echo", payload_id=payload["of running job"], value=1)
        young = defer(session, "tests.echo", payload_id=payload["of young failure"], value=1)
        success = defer(session, "tests.echo", payload_ids=[payload["of young success"]], value=1)
        defer(session, "tests.echo", payload_ids="not a list", value=1)  # must not break it
        _set_status(session, old_job, "succeeded")
        _set_status(session, running, "doing")
        _set_status(session, young, "failed")
        _set_status(session, success, "succeeded")
        _age_events(session, [old_job], _days(14) + HOUR)
        session.execute(
            update(JobPayload)
            .where(JobPayload.id != payload["new"])
            .values(created_at=_ago(_days(14) + HOUR))
        )

    report = _run(session_factory, files_dir, batch)

    assert report.job_payloads == 2
    assert report.job_arguments == 1
    with session_factory() as session:
        left = set(session.scalars(select(JobPayload.id)))
        kept = ("of pending job", "of running job", "of young failure", "of young success", "new")
        assert left == {payload[name] for name in kept}
        assert _args(session)[old_job] == {"payload_id": payload["of old job"]}
    assert _run(session_factory, files_dir, batch).total == 0


# --- the daily task -----------------------------------------------------------------------


def test_the_daily_task_runs_on_a_worker_and_reports_what_it_removed(
    session_factory: sessionmaker[Session], files_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = get_settings()
    assert (settings.retain_resume_days, settings.retain_email_body_days) == (180, 30)
    assert settings.retain_job_details_days == 14
    with session_factory() as session, session.begin():
        _, resume_id = _candidate(session, files_dir, _closed(181))
        path = files_dir / session.get_one(Resume, resume_id).file.path
        _delivery(session, "old", created=_days(31), sent=_days(31))
        old_job = defer(session, "tests.echo", value="Ada Lovelace")
        _set_status(session, old_job, "cancelled")
        _age_events(session, [old_job], _days(15))
        task_job = defer(
            session, privacy_tasks.enforce_retention, timestamp=int(datetime.now(UTC).timestamp())
        )

    with caplog.at_level(logging.INFO, logger="hiring_jobs.tasks.privacy"):
        run_worker_until_idle(queues=["maintenance"])

    expected = RetentionReport(
        resumes=1, resume_files=1, email_bodies=1, job_arguments=1, files_removed=1
    ).as_dict()
    with session_factory() as session:
        [job] = jobs(session, "privacy.enforce_retention")
        [attempt] = session.scalars(select(JobAttempt).where(JobAttempt.job_id == task_job))
        [entry] = session.scalars(select(AuditLogEntry)).all()
    assert (job["status"], job["queue_name"]) == ("succeeded", "maintenance")
    assert attempt.result == expected
    assert (entry.actor, entry.action, entry.details) == ("retention", "retention", expected)
    assert not path.exists()
    assert any(r.getMessage().startswith("retention removed:") for r in caplog.records)
    with session_factory() as session:
        reported = job_status(session, task_job)
    assert reported is not None and reported.progress is not None
    assert (reported.progress["done"], reported.progress["total"]) == (5, 5)
    assert reported.progress["message"] == "files removed", "the last step, always written"


# --- what it works from -------------------------------------------------------------------


def test_every_kind_declared_in_the_inventory_is_handled() -> None:
    for kind in (Retention.RESUME, Retention.EMAIL_BODY, Retention.JOB_DETAILS):
        declared = {
            table.name
            for table in inventory.TABLES
            if any(field.retention is kind for field in table.personal.values())
        }
        assert declared == retention.HANDLED[kind], kind
    assert (FileKind.RESUME.value,) == retention.RESUME_FILE_KINDS


def test_emptied_columns_come_from_the_inventory() -> None:
    assert retention.retained_columns("email_deliveries", Retention.EMAIL_BODY) == (
        "subject",
        "raw_message",
        "provider_response",
    )
    assert set(retention.retained_columns("resumes", Retention.RESUME)) == {
        "extracted_text",
        "skills",
        "years_experience",
        "education",
        "failure_reason",
    }


def test_only_id_arguments_and_the_request_id_are_kept() -> None:
    ids = {n for n, a in inventory.ARGUMENTS.items() if a.kind is ArgumentKind.ID}
    assert set(retention.KEPT_ARGUMENTS) == ids | {"_request_id"}
    assert not {"token", "email", "stats", "message"} & set(retention.KEPT_ARGUMENTS)


def test_the_policy_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HIRING_JOBS_RETAIN_RESUME_DAYS", "365")
    monkeypatch.delenv("HIRING_JOBS_RETAIN_EMAIL_BODY_DAYS", raising=False)
    monkeypatch.delenv("HIRING_JOBS_RETAIN_JOB_DETAILS_DAYS", raising=False)
    assert RetentionPolicy.from_settings(Settings.from_env()) == RetentionPolicy(365, 30, 14)


# --- run by hand --------------------------------------------------------------------------


def test_progress_hears_of_each_step_of_a_run(
    session_factory: sessionmaker[Session], files_dir: Path
) -> None:
    heard: list[tuple[str, int, int]] = []
    retention.enforce_retention(
        session_factory,
        files_dir,
        POLICY,
        now=datetime.now(UTC),
        progress=lambda *a: heard.append(a),
    )
    total = len(retention.RETENTION_STEPS)
    assert heard == [(step, i + 1, total) for i, step in enumerate(retention.RETENTION_STEPS)]


def test_the_retention_command_runs_now_prints_the_counts_and_is_audited(
    session_factory: sessionmaker[Session], files_dir: Path
) -> None:
    with session_factory() as session, session.begin():
        _delivery(session, "old", created=_days(31), sent=_days(31))
    result = CliRunner().invoke(main, ["retention", "--by", "maria"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "       1  email bodies" in result.stdout
    with session_factory() as session:
        [entry] = session.scalars(select(AuditLogEntry)).all()
    assert (entry.actor, entry.action, entry.details["email_bodies"]) == ("maria", "retention", 1)


def test_the_payload_statement_names_every_argument_that_refers_to_a_payload() -> None:
    """retention_delete_payloads looks up every payload argument of the inventory in pending
    jobs and in finished ones: a new payload argument must be added there, or its payloads
    would go while a job needs them."""
    statement = QUEUE["retention_delete_payloads"]
    named = set(re.findall(r"jsonb_build_object\('(\w+)', ", statement))
    named_by_pending = set(re.findall(r"j\.args \? '(\w+)'", statement))
    declared = {
        name: argument.many
        for name, argument in inventory.ARGUMENTS.items()
        if argument.refers_to == "job_payloads"
    }
    assert named == named_by_pending == set(declared)
    for name, many in declared.items():
        value = "jsonb_build_array(p.id)" if many else "p.id"
        assert f"jsonb_build_object('{name}', {value})" in statement
