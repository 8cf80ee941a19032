"""Document tasks run by a real worker: files written once, bad images fail at once,
cleanup removes rows and files together."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

import hiring_jobs.tasks.documents as document_tasks
from hiring_jobs.models import DeliveryStatus, EmailDelivery, FileKind, StoredFile
from hiring_jobs.queue.defer import defer
from hiring_jobs.services.files import store_file
from hiring_jobs.settings import get_settings
from tests.services.test_email import parse, use_no_smtp
from tests.support.factories import make_user
from tests.support.jobs import jobs, run_worker_until_idle


def _defer_twice(session_factory: sessionmaker[Session], task: Any, **kwargs: Any) -> None:
    for _ in range(2):
        with session_factory() as session, session.begin():
            defer(session, task, **kwargs)


def _files(session_factory: sessionmaker[Session]) -> list[StoredFile]:
    with session_factory() as session:
        return list(session.scalars(select(StoredFile).order_by(StoredFile.id)))


def _store(session: Session, data: bytes, kind: FileKind, **values: Any) -> StoredFile:
    content_type = "application/pdf" if kind == FileKind.CV_PDF else "image/png"
    return store_file(
        session, get_settings().files_dir, kind=kind, data=data, content_type=content_type, **values
    )


def _png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color=(10, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def ada(session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> int:
    """A user whose mail goes to the outbox (no SMTP server): her id."""
    use_no_smtp(monkeypatch)
    with session_factory() as session, session.begin():
        return make_user(session, full_name="Ada Lovelace", email="ada@example.com").id


def test_a_cv_requested_twice_is_generated_and_emailed_once(
    session_factory: sessionmaker[Session], ada: int
) -> None:
    user_id = ada
    _defer_twice(
        session_factory, document_tasks.generate_cv_pdf, user_id=user_id, send_by_email=True
    )

    run_worker_until_idle(queues=["documents", "email"])

    [cv] = _files(session_factory)
    assert (cv.kind, cv.owner_id) == (FileKind.CV_PDF, user_id)
    assert (get_settings().files_dir / cv.path).read_bytes().startswith(b"%PDF-")
    with session_factory() as session:
        [delivery] = session.scalars(select(EmailDelivery)).all()
    assert delivery.status == DeliveryStatus.OUTBOX
    [attachment] = parse(delivery.raw_message or "").iter_attachments()
    assert attachment.get_filename() == "Ada Lovelace CV.pdf"


def test_a_cv_job_queued_with_the_former_email_flag_still_mails_the_pdf(
    session_factory: sessionmaker[Session], ada: int
) -> None:
    with session_factory() as session, session.begin():
        # A row as jobs queued before the rename carry it: the flag named `email`.
        defer(session, "documents.generate_cv_pdf", user_id=ada, email=True)

    run_worker_until_idle(queues=["documents", "email"])

    with session_factory() as session:
        assert {job["status"] for job in jobs(session)} == {"succeeded"}
        [delivery] = session.scalars(select(EmailDelivery)).all()
    assert delivery.recipient == "ada@example.com"


def test_a_thumbnail_once_and_a_non_image_fails_without_retry(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        image = _store(session, _png((512, 256)), FileKind.IMAGE)
        not_image = _store(session, b"%PDF-1.7\nnot an image", FileKind.IMAGE)
        image_id, not_image_id = image.id, not_image.id
    _defer_twice(session_factory, document_tasks.generate_thumbnail, file_id=image_id, width=64)
    with session_factory() as session, session.begin():
        bad = defer(session, document_tasks.generate_thumbnail, file_id=not_image_id)

    run_worker_until_idle(queues=["documents"])

    [thumbnail] = [f for f in _files(session_factory) if f.kind == FileKind.THUMBNAIL]
    assert Image.open(get_settings().files_dir / thumbnail.path).size == (64, 32)
    with session_factory() as session:
        row = session.execute(
            text("SELECT status, attempts FROM procrastinate_jobs WHERE id = :id"), {"id": bad}
        ).one()
    assert tuple(row) == ("failed", 1)


def test_the_weekly_pdf_cleanup_removes_old_cvs_with_their_files(
    session_factory: sessionmaker[Session],
) -> None:
    tick = datetime(2024, 6, 3, tzinfo=UTC)
    with session_factory() as session, session.begin():
        old = _store(session, b"%PDF-old", FileKind.CV_PDF)
        recent = _store(session, b"%PDF-recent", FileKind.CV_PDF)
        image = _store(session, _png((2, 2)), FileKind.IMAGE)
        session.execute(
            text("UPDATE stored_files SET created_at = :at WHERE id <> :recent"),
            {"at": tick - timedelta(days=8), "recent": recent.id},
        )
    _defer_twice(session_factory, document_tasks.cleanup_old_pdfs, timestamp=int(tick.timestamp()))

    run_worker_until_idle(queues=["documents"])

    assert [f.id for f in _files(session_factory)] == [recent.id, image.id]
    files_dir = get_settings().files_dir
    assert not (files_dir / old.path).exists() and (files_dir / recent.path).exists()


def test_the_daily_file_cleanup(session_factory: sessionmaker[Session]) -> None:
    tick = datetime.now(UTC) + timedelta(days=2)  # everything is past the grace period
    files_dir = get_settings().files_dir
    with session_factory() as session, session.begin():
        expired = _store(session, b"x", FileKind.IMAGE, expires_at=tick - timedelta(hours=1))
        kept = _store(session, _png((2, 2)), FileKind.IMAGE)
        lost = _store(session, b"lost", FileKind.IMAGE)
    (files_dir / lost.path).unlink()
    stray = files_dir / "image" / "stray.png"
    stray.write_bytes(b"no row")
    _defer_twice(session_factory, document_tasks.cleanup_files, timestamp=int(tick.timestamp()))

    run_worker_until_idle(queues=["documents"])

    assert [f.id for f in _files(session_factory)] == [kept.id]
    assert not stray.exists() and not (files_dir / expired.path).exists()
    assert (files_dir / kept.path).exists()
    with session_factory() as session:
        assert {job["status"] for job in jobs(session)} == {"succeeded"}
