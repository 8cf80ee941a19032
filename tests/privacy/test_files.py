"""Removing personal files: rows in the caller's transaction, files from disk after it
commits, and a crash in between finished by the next run (privacy/files.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import ErasureRecord, FileKind, PendingFileDeletion, StoredFile
from hiring_jobs.privacy.files import RemovedFiles, drop_files, remove_pending_files
from hiring_jobs.services import files
from hiring_jobs.settings import get_settings
from tests.support.factories import make_user


@pytest.fixture
def files_dir(database_url: str) -> Path:
    return get_settings().files_dir


def _store(session: Session, files_dir: Path, data: bytes = b"%PDF-1.4 resume") -> StoredFile:
    owner = make_user(session)
    return files.store_file(
        session,
        files_dir,
        kind=FileKind.RESUME,
        data=data,
        content_type="application/pdf",
        original_name="Ada Lovelace CV.pdf",
        owner_id=owner.id,
    )


def _count(session: Session, model: type[object]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_dropped_files_leave_the_disk_only_after_the_commit(
    session_factory: sessionmaker[Session], files_dir: Path
) -> None:
    with session_factory() as session, session.begin():
        stored = [_store(session, files_dir) for _ in range(3)]
        paths = [files_dir / row.path for row in stored]
        assert drop_files(session, stored[:2], reason="test") == 2
        assert all(path.exists() for path in paths)  # nothing unlinked inside the transaction

    outcome = remove_pending_files(session_factory, files_dir)

    assert outcome == RemovedFiles(removed=2, already_gone=0)
    assert [path.exists() for path in paths] == [False, False, True]
    with session_factory() as session:
        assert session.scalars(select(StoredFile.path)).all() == [stored[2].path]
        assert _count(session, PendingFileDeletion) == 0


def test_a_rolled_back_drop_keeps_the_row_and_the_file(
    session_factory: sessionmaker[Session], files_dir: Path
) -> None:
    with session_factory() as session, session.begin():
        stored = _store(session, files_dir)
        path = files_dir / stored.path
    with session_factory() as session:
        drop_files(session, [session.get_one(StoredFile, stored.id)], reason="test")
        session.rollback()

    assert remove_pending_files(session_factory, files_dir) == RemovedFiles()
    assert path.exists()
    with session_factory() as session:
        assert session.get(StoredFile, stored.id) is not None


def test_a_crash_between_the_commit_and_the_removal_is_finished_by_the_next_run(
    session_factory: sessionmaker[Session], files_dir: Path
) -> None:
    with session_factory() as session, session.begin():
        stored = _store(session, files_dir)
        path = files_dir / stored.path
        drop_files(session, [stored], reason="erasure")
    # The process dies here: the rows are committed, the file is still on disk.
    with session_factory() as session:
        [pending] = session.scalars(select(PendingFileDeletion)).all()
        assert session.get(StoredFile, stored.id) is None
    assert (pending.path, pending.reason) == (stored.path, "erasure")
    assert path.exists()

    assert remove_pending_files(session_factory, files_dir).removed == 1
    assert not path.exists()
    assert remove_pending_files(session_factory, files_dir) == RemovedFiles()


def test_a_file_already_gone_is_counted_and_its_row_cleared(
    session_factory: sessionmaker[Session], files_dir: Path
) -> None:
    with session_factory() as session, session.begin():
        stored = _store(session, files_dir)
        (files_dir / stored.path).unlink()
        drop_files(session, [stored], reason="test")

    assert remove_pending_files(session_factory, files_dir) == RemovedFiles(already_gone=1)
    with session_factory() as session:
        assert _count(session, PendingFileDeletion) == 0


def test_paths_outside_the_files_directory_are_refused(
    session_factory: sessionmaker[Session],
    files_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    files_dir.mkdir(parents=True, exist_ok=True)
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours")
    (files_dir / "escape").symlink_to(outside)
    relative_escape = Path("..") / ".." / "outside.txt"  # files_dir is tmp_path/data/files
    assert (files_dir / relative_escape).resolve() == outside.resolve()
    with session_factory() as session, session.begin():
        for path in (str(relative_escape), str(outside), "escape"):
            session.add(PendingFileDeletion(path=path, reason="test"))

    with caplog.at_level(logging.ERROR, logger="hiring_jobs.privacy.files"):
        outcome = remove_pending_files(session_factory, files_dir)

    assert outcome == RemovedFiles()
    assert outside.read_text() == "not ours"
    assert (files_dir / "escape").is_symlink()
    assert sum("outside the files directory" in r.getMessage() for r in caplog.records) == 3


def test_an_erasure_is_marked_done_once_its_last_file_is_gone(
    session_factory: sessionmaker[Session], files_dir: Path
) -> None:
    with session_factory() as session, session.begin():
        erasure = ErasureRecord(user_id=1, requested_by="test")
        session.add(erasure)
        session.flush()
        drop_files(
            session,
            [_store(session, files_dir) for _ in range(2)],
            reason="erasure",
            erasure_id=erasure.id,
        )
        erasure_id = erasure.id
    with session_factory() as session:
        assert session.get_one(ErasureRecord, erasure_id).files_removed_at is None

    assert remove_pending_files(session_factory, files_dir).removed == 2

    with session_factory() as session:
        assert session.get_one(ErasureRecord, erasure_id).files_removed_at is not None


def test_removal_works_in_batches(
    session_factory: sessionmaker[Session], files_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hiring_jobs.privacy.files.BATCH", 2)
    with session_factory() as session, session.begin():
        stored = [_store(session, files_dir) for _ in range(5)]
        paths = [files_dir / row.path for row in stored]
        drop_files(session, stored, reason="test")

    assert remove_pending_files(session_factory, files_dir).removed == 5
    assert not any(path.exists() for path in paths)
