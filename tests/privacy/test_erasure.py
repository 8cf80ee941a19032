"""Erasure: one transaction removes or anonymises a candidate everywhere, files follow it.

Rows are built directly (fast); jobs run through a real worker where their attempts,
errors and dead letters matter. The end-to-end proof with every task family is
tests/privacy/test_proof.py.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

import hiring_jobs.tasks  # noqa: F401  (registers the task names deferred below)
from hiring_jobs import audit
from hiring_jobs.cli import main
from hiring_jobs.models import (
    ActivityEvent,
    AnalyticsSnapshot,
    Application,
    ApplicationStatus,
    ApplicationStatusChange,
    AuditLogEntry,
    AuthToken,
    Connection,
    DeadLetterRecord,
    DeadLetterReview,
    DeliveryStatus,
    EmailDelivery,
    ErasureRecord,
    FileKind,
    JobAttempt,
    MentoringSession,
    Notification,
    PendingFileDeletion,
    QuizAttempt,
    RecommendationCache,
    RecommendationKind,
    Resume,
    ReviewAction,
    StoredFile,
    TokenPurpose,
    User,
    UserRole,
    UserSkill,
)
from hiring_jobs.privacy import cli as privacy_cli
from hiring_jobs.privacy import erasure, inventory, payloads
from hiring_jobs.privacy.erasure import erase_candidate
from hiring_jobs.privacy.erasure_matching import Identity
from hiring_jobs.privacy.subjects import NoSuchUser
from hiring_jobs.queue.defer import defer
from hiring_jobs.services import analytics, email
from hiring_jobs.services.files import store_file
from hiring_jobs.settings import get_settings
from tests.support import tasks
from tests.support.factories import make_posting, make_user
from tests.support.jobs import run_worker_until_idle

NAME = "Ada Quillfeather"
EMAIL = "Ada.Quillfeather@Example.org"
PHONE = "+44 7700 900123"
# What must be gone after the erasure, searched case-insensitively.
TRACES = ("quillfeather", "7700 900123", "447700900123")


@dataclasses.dataclass
class World:
    ada: int
    bob: int
    mentor: int
    ada_file_paths: list[str]
    bob_file_path: str
    todo_job: int
    failed_job: int
    finished_job: int


def _file(session: Session, files_dir: Path, owner: int, kind: FileKind, data: bytes) -> StoredFile:
    return store_file(
        session,
        files_dir,
        kind=kind,
        data=data,
        content_type="application/pdf",
        original_name=f"owner {owner}.pdf",
        owner_id=owner,
    )


def _mail(to: str, template: str, values: dict[str, Any]) -> str:
    rendered = email.render(template, values)
    sender = "Hiring Jobs <noreply@example.org>"
    return email.build_message(sender=sender, to=to, rendered=rendered).as_string()


def _rows_of_ada(session: Session, files_dir: Path, ada: User, bob: User, mentor: User) -> None:
    ada_resume_file = _file(session, files_dir, ada.id, FileKind.RESUME, f"{NAME} {PHONE}".encode())
    resume = Resume(user_id=ada.id, file_id=ada_resume_file.id, extracted_text=f"{NAME} {EMAIL}")
    session.add(resume)
    session.flush()
    application = Application(
        candidate_id=ada.id, job_posting_id=make_posting(session).id, resume_id=resume.id
    )
    session.add(application)
    session.flush()
    session.add_all(
        [
            ApplicationStatusChange(
                application_id=application.id,
                to_status=ApplicationStatus.SCREENING,
                note=f"called {NAME} on {PHONE}",
            ),
            UserSkill(user_id=ada.id, skill="Python"),
            ActivityEvent(user_id=ada.id, kind="login"),
            AuthToken(
                user_id=ada.id,
                purpose=TokenPurpose.PASSWORD_RESET,
                token_hash="f" * 64,
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            ),
            QuizAttempt(user_id=ada.id, quiz="sql", score=3, max_score=5),
            MentoringSession(mentor_id=mentor.id, mentee_id=ada.id, topic="Careers"),
            Connection(user_id=ada.id, other_user_id=bob.id),
            Connection(user_id=bob.id, other_user_id=ada.id),
            Notification(user_id=ada.id, kind="x", message="for ada"),
            EmailDelivery(
                idempotency_key="welcome:ada",
                recipient=EMAIL.lower(),
                subject=f"Welcome {NAME}",
                template="welcome",
                status=DeliveryStatus.OUTBOX,
                raw_message=_mail(email.address(NAME, EMAIL), "welcome", {"name": NAME}),
            ),
            RecommendationCache(user_id=ada.id, kind=RecommendationKind.JOBS, items=[{"a": 1}]),
        ]
    )
    payloads.store(session, "email", {"to": EMAIL, "body": "hi"}, subject_user_id=ada.id)


def _rows_naming_ada(session: Session, ada: User, bob: User, mentor: User) -> None:
    mentor_request = _mail(
        email.address(mentor.full_name, mentor.email),
        "mentor_request",
        {
            "name": mentor.full_name,
            "mentee_name": NAME,
            "mentee_headline": "",
            "topic": "Careers",
            "session_id": 1,
        },
    )
    session.add_all(
        [
            Notification(
                user_id=bob.id,
                kind="like",
                title=f"{NAME} liked your post",
                message=f"{NAME} liked your post.",
                related_user_id=ada.id,
            ),
            EmailDelivery(
                idempotency_key="mentor_request:1",
                recipient=mentor.email,
                subject=f"{NAME} asks you for mentoring",
                template="mentor_request",
                status=DeliveryStatus.OUTBOX,
                raw_message=mentor_request,
            ),
            RecommendationCache(
                user_id=bob.id,
                kind=RecommendationKind.MENTORS,
                items=[
                    {"user_id": ada.id, "name": "Ada Q. (old name)", "score": 9},
                    {"user_id": mentor.id, "name": mentor.full_name, "score": 5},
                ],
            ),
            AnalyticsSnapshot(
                kind="achievement_leaderboard",
                data={
                    "top_users": [
                        {"user_id": ada.id, "name": NAME, "points": 50},
                        {"user_id": bob.id, "name": bob.full_name, "points": 10},
                    ]
                },
            ),
            AnalyticsSnapshot(kind="user_analytics", user_id=ada.id, data={"points": 50}),
        ]
    )
    payloads.store(
        session,
        "notification",
        {"message": f"{NAME} commented", "related_user_id": ada.id},
        subject_user_id=bob.id,
    )
    audit.record(session, actor="ops", action="note", details={"text": f"phoned {PHONE}"})


def _rows_of_bob(session: Session, files_dir: Path, bob: User) -> str:
    stored = _file(session, files_dir, bob.id, FileKind.RESUME, b"bob's resume")
    session.add(Resume(user_id=bob.id, file_id=stored.id, extracted_text="Bob Other, Python"))
    session.add(Notification(user_id=bob.id, kind="x", message="for bob"))
    return stored.path


def build_world(factory: sessionmaker[Session], files_dir: Path) -> World:
    with factory() as session, session.begin():
        ada = make_user(session, email=EMAIL, full_name=NAME, phone=PHONE, headline="Wrangler",
                        bio=f"I am {NAME}", location="Leeds", password_hash="scrypt:x")  # fmt: skip
        bob = make_user(session, email="bob.other@example.org", full_name="Bob Other")
        mentor = make_user(session, full_name="Mia Mentor", role=UserRole.MENTOR)
        _rows_of_ada(session, files_dir, ada, bob, mentor)
        _rows_naming_ada(session, ada, bob, mentor)
        bob_path = _rows_of_bob(session, files_dir, bob)
        _file(session, files_dir, ada.id, FileKind.THUMBNAIL, b"thumb")
        ada_paths = [f.path for f in session.scalars(select(StoredFile).filter_by(owner_id=ada.id))]
        failed = defer(session, tasks.fail, message=f"mailbox {EMAIL} ({PHONE}) is full")
        finished = defer(session, "analytics.cache_user_analytics", user_id=ada.id)
        ids = (ada.id, bob.id, mentor.id)
    run_worker_until_idle(queues=["default", "analytics"])
    with factory() as session, session.begin():
        todo = defer(session, "email.send_welcome", user_id=ids[0])
        review = DeadLetterReview(
            job_id=failed, action=ReviewAction.RESOLVED, notes=f"{NAME} asked us", reviewed_by="ops"
        )
        session.add(review)
    return World(*ids, ada_paths, bob_path, todo, failed, finished)


def _traces(session: Session) -> dict[str, int]:
    """Rows still holding a trace of Ada, per table (every table of the inventory)."""
    found = {}
    for table in inventory.TABLES:
        pattern = "|".join(TRACES)
        count = session.scalar(text(f"SELECT count(*) FROM {table.name} t WHERE t::text ~* :p"),
                               {"p": pattern})  # fmt: skip
        if count:
            found[table.name] = count
    return found


@pytest.fixture
def files_dir(database_url: str) -> Path:
    return get_settings().files_dir


def test_erasure_removes_every_trace_and_keeps_other_people(
    session_factory: sessionmaker[Session], files_dir: Path
) -> None:
    world = build_world(session_factory, files_dir)
    with session_factory() as session:
        assert set(_traces(session)) >= {"users", "notifications", "job_attempts", "audit_log"}
        bob_before = _bob_rows(session, world.bob)

    receipt = erase_candidate(session_factory, world.ada, actor="tester", files_dir=files_dir)

    with session_factory() as session:
        assert _traces(session) == {}
        assert _bob_rows(session, world.bob) == bob_before
    assert not any((files_dir / path).exists() for path in world.ada_file_paths)
    assert (files_dir / world.bob_file_path).exists()
    counts = receipt.counts
    assert counts["anonymised.users"] == 1
    assert counts["deleted.applications"] == 1
    assert counts["deleted.application_status_changes"] == 1
    assert counts["deleted.connections"] == 2
    assert counts["deleted.email_deliveries"] == 1
    assert counts["deleted.job_payloads"] == 2  # hers, and Bob's notification about her
    assert counts["deleted.mentoring_sessions"] == 1
    assert counts["deleted.notifications"] == 1  # hers; Bob's naming her is scrubbed
    assert counts["files.resume"] == 1 and counts["files.thumbnail"] == 1
    assert counts["entries_dropped.recommendation_cache.items"] == 1
    assert counts["entries_dropped.analytics_snapshots.data"] == 1
    assert counts["scrubbed.notifications.title"] == 1
    assert counts["scrubbed.email_deliveries.raw_message"] == 1  # the mentor's mail
    assert receipt.files_removed == 2


def _bob_rows(session: Session, bob: int) -> dict[str, Any]:
    user = session.get(User, bob)
    assert user is not None
    return {
        "user": (user.email, user.full_name, user.is_active),
        "resumes": session.scalars(select(Resume.extracted_text).filter_by(user_id=bob)).all(),
        "own notifications": session.scalars(
            select(Notification.message).filter_by(user_id=bob, related_user_id=None)
        ).all(),
    }


def test_the_account_is_anonymised_and_mentions_replaced_by_placeholders(
    session_factory: sessionmaker[Session], files_dir: Path
) -> None:
    world = build_world(session_factory, files_dir)

    erase_candidate(session_factory, world.ada, actor="tester", files_dir=files_dir)

    with session_factory() as session:
        ada = session.get(User, world.ada)
        assert ada is not None
        assert (ada.email, ada.full_name, ada.phone) == (
            f"erased-{world.ada}@erased.invalid",
            "Erased user",
            None,
        )
        assert (ada.headline, ada.bio, ada.location, ada.password_hash) == ("", "", "", None)
        assert ada.is_active is False and ada.erased_at is not None
        liked = session.scalars(
            select(Notification).filter_by(user_id=world.bob, kind="like")
        ).one()
        assert liked.title == "Erased user liked your post"
        assert liked.related_user_id == world.ada  # the anonymised account
        mentors = session.scalars(
            select(RecommendationCache.items).filter_by(user_id=world.bob)
        ).one()
        assert [item["user_id"] for item in mentors] == [world.mentor]
        attempt = session.scalars(select(JobAttempt).filter_by(job_id=world.failed_job)).one()
        assert attempt.error_message == (
            f"mailbox erased-{world.ada}@erased.invalid ([phone erased]) is full"
        )
        args = session.scalar(
            text("SELECT args FROM procrastinate_jobs WHERE id = :id"), {"id": world.failed_job}
        )
        assert args["message"] == attempt.error_message
        [notes] = session.scalars(select(DeadLetterReview.notes)).all()
        assert notes == "Erased user asked us"


def test_jobs_about_them_are_stopped_and_their_results_reduced_to_ids(
    session_factory: sessionmaker[Session], files_dir: Path
) -> None:
    world = build_world(session_factory, files_dir)
    with session_factory() as session, session.begin():
        running = defer(session, "recommendations.generate_for_user", user_id=world.ada)
        session.execute(
            text("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = :id"), {"id": running}
        )
        other = defer(session, "email.send_welcome", user_id=world.bob)
        failed = defer(session, "documents.generate_cv_pdf", user_id=world.ada)
        session.execute(
            text("UPDATE procrastinate_jobs SET status = 'failed' WHERE id = :id"), {"id": failed}
        )

    receipt = erase_candidate(session_factory, world.ada, actor="tester", files_dir=files_dir)

    with session_factory() as session:
        states = dict(
            session.execute(
                text(
                    "SELECT id, status::text || ':' || abort_requested FROM procrastinate_jobs"
                    " WHERE id = ANY(:ids)"
                ),
                {"ids": [world.todo_job, running, other]},
            ).all()
        )
        result = session.scalar(select(JobAttempt.result).filter_by(job_id=world.finished_job))
    assert states == {
        world.todo_job: "cancelled:true",
        running: "doing:true",
        other: "todo:false",
    }
    assert set(result) == {"snapshot_id"}  # "created" was about her snapshot: gone
    with session_factory() as session:
        letter = session.get(DeadLetterRecord, failed)
        review = session.scalars(select(DeadLetterReview).filter_by(job_id=failed)).one()
    assert letter is not None and letter.reviewed  # out of the queue: no retry by mistake
    assert (review.action, review.notes, review.reviewed_by) == (
        ReviewAction.DISCARDED,
        f"erasure {receipt.erasure_id}",
        "tester",
    )
    assert receipt.counts["jobs.dead_letters_discarded"] == 1
    assert receipt.counts["jobs.cancelled"] == 1
    assert receipt.counts["jobs.abort_requested"] == 1
    assert receipt.counts["jobs.results_reduced"] >= 1


def test_a_second_erasure_says_when_and_changes_nothing(
    session_factory: sessionmaker[Session], files_dir: Path
) -> None:
    world = build_world(session_factory, files_dir)
    first = erase_candidate(session_factory, world.ada, actor="tester", files_dir=files_dir)
    with session_factory() as session:
        before = _dump(session)

    again = erase_candidate(session_factory, world.ada, actor="tester", files_dir=files_dir)

    with session_factory() as session:
        assert _dump(session) == before
        assert session.scalar(select(func.count()).select_from(ErasureRecord)) == 1
    assert again.already_erased and again.erasure_id == first.erasure_id
    day = f"{first.erased_at:%Y-%m-%d}"
    assert f"user {world.ada} was already erased on {day}" in str(again)
    assert "nothing changed" in str(again)


def _dump(session: Session) -> list[str]:
    rows = []
    for table in inventory.TABLES:
        query = text(f"SELECT t::text FROM {table.name} t ORDER BY 1")
        rows += [f"{table.name}: {row}" for row in session.scalars(query)]
    return rows


def test_an_unknown_user_is_a_clear_error_and_nothing_is_written(
    session_factory: sessionmaker[Session], files_dir: Path
) -> None:
    with pytest.raises(NoSuchUser, match="no user with id 98765"):
        erase_candidate(session_factory, 98765, actor="tester", files_dir=files_dir)
    with session_factory() as session:
        assert session.scalars(select(ErasureRecord)).all() == []
        assert session.scalars(select(AuditLogEntry)).all() == []


def test_the_record_and_the_audit_entry_hold_counts_not_personal_data(
    session_factory: sessionmaker[Session], files_dir: Path
) -> None:
    world = build_world(session_factory, files_dir)

    receipt = erase_candidate(session_factory, world.ada, actor="ops-anna", files_dir=files_dir)

    with session_factory() as session:
        record = session.get(ErasureRecord, receipt.erasure_id)
        entry = session.scalars(select(AuditLogEntry).filter_by(action="erase_candidate")).one()
    assert record is not None
    assert (record.user_id, record.requested_by) == (world.ada, "ops-anna")
    assert record.counts == receipt.counts
    assert record.files_removed_at is not None  # every file of the erasure is gone
    assert (entry.actor, entry.target) == ("ops-anna", f"user {world.ada}")
    assert entry.details == {"erasure_id": record.id, "counts": record.counts}
    assert all(isinstance(v, int) for v in record.counts.values())
    printed = str(receipt)
    assert f"erasure {record.id}: user {world.ada} erased on" in printed
    assert "deleted.applications" in printed and "files removed from disk: 2" in printed


def test_a_crash_after_the_commit_leaves_files_that_resume_pending_removes(
    session_factory: sessionmaker[Session], files_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world(session_factory, files_dir)

    def crash(*_: Any) -> int:
        raise SystemExit("killed between the commit and the file removal")

    with monkeypatch.context() as patched:
        patched.setattr(erasure, "resume_pending", crash)
        with pytest.raises(SystemExit):
            erase_candidate(session_factory, world.ada, actor="tester", files_dir=files_dir)

    with session_factory() as session:
        assert session.get(User, world.ada).erased_at is not None  # type: ignore[union-attr]
        pending = session.scalars(select(PendingFileDeletion.path)).all()
        assert session.scalars(select(ErasureRecord.files_removed_at)).one() is None
    assert sorted(pending) == sorted(world.ada_file_paths)
    assert all((files_dir / path).exists() for path in pending)

    result = CliRunner().invoke(main, ["erase-candidate", "--resume-pending"])

    assert result.exit_code == 0, result.output
    assert "files removed from disk: 2" in result.output
    assert not any((files_dir / path).exists() for path in pending)
    with session_factory() as session:
        assert session.scalars(select(PendingFileDeletion)).all() == []
        assert session.scalars(select(ErasureRecord.files_removed_at)).one() is not None


def test_running_the_same_erasure_again_also_finishes_a_crashed_one(
    session_factory: sessionmaker[Session], files_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world(session_factory, files_dir)
    with monkeypatch.context() as patched:
        patched.setattr(erasure, "resume_pending", lambda *_: 0)  # as if killed
        erase_candidate(session_factory, world.ada, actor="tester", files_dir=files_dir)
    assert all((files_dir / path).exists() for path in world.ada_file_paths)

    again = erase_candidate(session_factory, world.ada, actor="tester", files_dir=files_dir)

    assert again.already_erased and again.files_removed == 2
    assert not any((files_dir / path).exists() for path in world.ada_file_paths)


def test_an_export_file_naming_them_is_rewritten_to_a_new_path(
    session_factory: sessionmaker[Session], files_dir: Path
) -> None:
    with session_factory() as session, session.begin():
        ada = make_user(session, full_name=NAME, email=EMAIL, phone=PHONE)
        document = {"top": [{"name": NAME, "email": EMAIL}], "note": "Ada Quillfeathers"}
        stored = store_file(
            session,
            files_dir,
            kind=FileKind.EXPORT,
            data=json.dumps(document).encode(),
            content_type="application/json",
            original_name="analytics-2026-01-01.json",
        )
        untouched = store_file(
            session, files_dir, kind=FileKind.EXPORT, data=b"day,users\n", content_type="text/csv"
        )
        snapshot = AnalyticsSnapshot(kind="export", data={}, json_file_id=stored.id)
        session.add(snapshot)
        session.flush()
        ada_id, file_id, old_path, snapshot_id = ada.id, stored.id, stored.path, snapshot.id
        untouched_path = untouched.path

    receipt = erase_candidate(session_factory, ada_id, actor="tester", files_dir=files_dir)

    with session_factory() as session:
        rewritten = session.get(StoredFile, file_id)
        assert rewritten is not None and rewritten.path != old_path
        assert session.get(AnalyticsSnapshot, snapshot_id).json_file_id == file_id  # type: ignore[union-attr]
        assert session.get(StoredFile, untouched.id).path == untouched_path  # type: ignore[union-attr]
    content = json.loads((files_dir / rewritten.path).read_text())
    assert content["top"] == [{"name": "Erased user", "email": f"erased-{ada_id}@erased.invalid"}]
    assert content["note"] == "Ada Quillfeathers"  # another word: left as it was
    assert rewritten.size_bytes == len((files_dir / rewritten.path).read_bytes())
    assert not (files_dir / old_path).exists()
    assert receipt.counts["files_rewritten.export"] == 1


def test_todays_analytics_exports_cannot_name_anyone(
    session_factory: sessionmaker[Session], files_dir: Path
) -> None:
    """So the rewrite above is a safeguard: no export of today's code holds names or addresses."""
    with session_factory() as session, session.begin():
        ada = make_user(session, full_name=NAME, email=EMAIL, phone=PHONE)
        session.add(Application(candidate_id=ada.id, job_posting_id=make_posting(session).id))
        session.add(ActivityEvent(user_id=ada.id, kind="login"))
        snapshot, _ = analytics.export_snapshot(session, files_dir, datetime.now(UTC).date())
        file_ids = (snapshot.json_file_id, snapshot.csv_file_id)
        paths = [session.scalars(select(StoredFile.path).filter_by(id=i)).one() for i in file_ids]
    for path in paths:
        content = (files_dir / path).read_text().lower()
        assert "quillfeather" not in content and "example.org" not in content
        assert "7700" not in content


def test_identity_patterns_find_the_forms_stored_text_takes() -> None:
    ada = Identity(7, (EMAIL,), (NAME, "Zoë Ångström"), (PHONE,))
    text_in = (
        "Dear ADA  QUILLFEATHER, <p>Ada Quill=\nfeather</p> Subject: Ada\n Quillfeather\n"
        "mailto:ada.quillfeather%40example.org, Z=C3=B6=C3=AB? no: Zo=C3=AB =C3=85ngstr=C3=B6m\n"
        "tel +447700900123, 0044 7700-900-123, (7700) 900 123 is not whole; id 1447700900123\n"
        "bob.ada.quillfeather@example.org and ada.quillfeather@example.org.uk are others;"
        " Ada Quillfeathers too; Ada_Quillfeather_CV.pdf"
    )
    assert ada.scrub(text_in) == (
        "Dear Erased user, <p>Erased user</p> Subject: Erased user\n"
        "mailto:erased-7@erased.invalid, Z=C3=B6=C3=AB? no: Erased user\n"
        "tel [phone erased], [phone erased], (7700) 900 123 is not whole; id 1447700900123\n"
        "bob.ada.quillfeather@example.org and ada.quillfeather@example.org.uk are others;"
        " Ada Quillfeathers too; Erased user_CV.pdf"
    )


def test_the_database_and_python_apply_the_same_patterns(session: Session) -> None:
    ada = Identity(7, (EMAIL,), (NAME, "O'Brien Ådne"), (PHONE,))
    value = f"{NAME.upper()} <{EMAIL.lower()}>, O&#39;Brien Ådne, 0044 (7700) 900-123; AdaQuill"
    in_sql = value
    for pattern, replacement in ada.rules():
        in_sql = session.scalar(
            text("SELECT regexp_replace(:v, :p, :r, 'gi')"),
            {"v": in_sql, "p": pattern, "r": replacement},
        )
    assert in_sql == ada.scrub(value)
    assert in_sql == "Erased user <erased-7@erased.invalid>, Erased user, [phone erased]; AdaQuill"


def test_every_personal_column_of_users_has_a_placeholder() -> None:
    assert set(erasure.ANONYMISED_USER) == set(inventory.table("users").personal)


def test_only_the_users_table_keeps_the_rows_of_its_subject() -> None:
    """The anonymisation above is the one kept row; a new keep_rows table needs its own."""
    kept = [t.name for t in inventory.TABLES if t.keep_rows and t.subjects]
    assert kept == ["users"]


# --- the command line ---------------------------------------------------------------------


def test_the_command_refuses_without_a_terminal_unless_yes(
    session_factory: sessionmaker[Session], files_dir: Path
) -> None:
    world = build_world(session_factory, files_dir)
    runner = CliRunner()

    refused = runner.invoke(main, ["erase-candidate", str(world.ada)])

    assert refused.exit_code == 1
    assert "refusing to erase without confirmation" in refused.output
    assert "A*** Q***" in refused.output and NAME not in refused.output  # masked preview
    with session_factory() as session:
        assert session.get(User, world.ada).erased_at is None  # type: ignore[union-attr]

    done = runner.invoke(main, ["erase-candidate", str(world.ada), "--yes", "--by", "ana"])

    assert done.exit_code == 0, done.output
    assert f"user {world.ada} erased on" in done.output
    assert "anonymised.users" in done.output and "files removed from disk: 2" in done.output


def test_the_command_asks_for_the_id_to_be_typed(
    session_factory: sessionmaker[Session], files_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world(session_factory, files_dir)
    monkeypatch.setattr(privacy_cli, "can_ask", lambda: True)
    runner = CliRunner()

    wrong = runner.invoke(main, ["erase-candidate", str(world.ada)], input=f"{world.ada}0\n")
    assert wrong.exit_code == 1 and "confirmation did not match: nothing erased" in wrong.output
    with session_factory() as session:
        assert session.get(User, world.ada).erased_at is None  # type: ignore[union-attr]

    right = runner.invoke(main, ["erase-candidate", str(world.ada)], input=f"{world.ada}\n")
    assert right.exit_code == 0, right.output
    assert "anonymised.users" in right.output


def test_the_command_reports_an_unknown_id_on_one_line(database_url: str) -> None:
    result = CliRunner().invoke(main, ["erase-candidate", "424242", "--yes"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: no user with id 424242"


def test_progress_hears_of_each_step_of_the_erasure(
    session_factory: sessionmaker[Session], files_dir: Path
) -> None:
    world = build_world(session_factory, files_dir)
    heard: list[tuple[str, int, int]] = []
    erase_candidate(
        session_factory,
        world.ada,
        actor="tester",
        files_dir=files_dir,
        progress=lambda *a: heard.append(a),
    )
    assert heard[0] == ("jobs stopped", 1, 8) and heard[-1] == ("exports rewritten", 8, 8)
    assert [done for _, done, _ in heard] == list(range(1, 9))
