"""Stored files are private to the service's account: files 0600, directories 0700."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from hiring_jobs.access.keys import secret_key
from hiring_jobs.models import FileKind
from hiring_jobs.privacy.export import export_candidate
from hiring_jobs.services import files
from hiring_jobs.settings import get_settings
from tests.support.factories import make_user


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    """The usual 022, which alone would give 0644 files in 0755 directories."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_an_uploaded_resume_and_its_directories_are_private(
    session: Session, database_url: str
) -> None:
    files_dir = get_settings().files_dir
    stored = files.store_file(
        session,
        files_dir,
        kind=FileKind.RESUME,
        data=b"%PDF-1.4 resume",
        content_type="application/pdf",
        owner_id=make_user(session).id,
    )
    path = files.file_path(files_dir, stored)
    assert mode(path) == 0o600
    for directory in [files_dir, *path.relative_to(files_dir).parents]:
        assert mode(files_dir / directory) == 0o700, directory


def test_rewriting_a_file_makes_it_private_too(tmp_path: Path) -> None:
    target = tmp_path / "data" / "old.json"
    target.parent.mkdir()
    target.write_bytes(b"{}")
    target.chmod(0o644)
    files.write_private(target, b'{"a": 1}')
    assert mode(target) == 0o600 and target.read_bytes() == b'{"a": 1}'


def test_an_export_archive_is_private(session: Session, database_url: str, tmp_path: Path) -> None:
    user = make_user(session)
    output = export_candidate(session, user.id, get_settings().files_dir, tmp_path / "x" / "a.zip")
    assert mode(output) == 0o600 and mode(output.parent) == 0o700


def test_the_kept_secret_key_is_private_and_stable(database_url: str) -> None:
    settings = get_settings()
    key = secret_key(settings)
    assert len(key) >= 40 and secret_key(settings) == key
    assert mode(settings.data_dir / "secret-key") == 0o600
