"""Export: one archive with every row, job and file about a candidate, and nothing of others."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.cli import main
from hiring_jobs.models import AuditLogEntry, StoredFile
from hiring_jobs.privacy import inventory
from hiring_jobs.privacy.export import export_candidate
from hiring_jobs.privacy.subjects import NoSuchUser
from hiring_jobs.settings import get_settings
from tests.privacy.test_erasure import EMAIL, NAME, PHONE, World, build_world


@pytest.fixture
def files_dir(database_url: str) -> Path:
    return get_settings().files_dir


@pytest.fixture
def world(session_factory: sessionmaker[Session], files_dir: Path) -> World:
    return build_world(session_factory, files_dir)


def _export(
    session_factory: sessionmaker[Session], user_id: int, files_dir: Path, output: Path
) -> zipfile.ZipFile:
    with session_factory() as session:
        export_candidate(session, user_id, files_dir, output)
    return zipfile.ZipFile(output)


def _read(archive: zipfile.ZipFile, name: str) -> Any:
    return json.loads(archive.read(name))


def test_the_archive_holds_every_row_about_them_without_credentials(
    session_factory: sessionmaker[Session], world: World, files_dir: Path, tmp_path: Path
) -> None:
    archive = _export(session_factory, world.ada, files_dir, tmp_path / "ada.zip")

    document = _read(archive, "candidate.json")
    tables = document["tables"]
    assert set(tables) == {t.name for t in inventory.TABLES if t.subjects}
    [user] = tables["users"]
    assert (user["email"], user["full_name"], user["phone"]) == (EMAIL, NAME, PHONE)
    assert "password_hash" not in user
    assert tables["auth_tokens"] and all("token_hash" not in row for row in tables["auth_tokens"])
    assert len(tables["applications"]) == 1 and len(tables["application_status_changes"]) == 1
    assert len(tables["connections"]) == 2  # both directions
    assert {row["kind"] for row in tables["notifications"]} == {"x", "like"}  # hers, and caused
    assert [row["recipient"] for row in tables["email_deliveries"]] == [EMAIL.lower()]
    assert tables["resumes"][0]["extracted_text"].startswith(NAME)
    assert isinstance(user["created_at"], str)  # ISO dates
    assert all(row["user_id"] == world.ada for row in tables["user_skills"])


def test_the_archive_holds_the_jobs_about_them_with_attempts_and_events(
    session_factory: sessionmaker[Session], world: World, files_dir: Path, tmp_path: Path
) -> None:
    archive = _export(session_factory, world.ada, files_dir, tmp_path / "ada.zip")

    jobs = {job["id"]: job for job in _read(archive, "jobs.json")["jobs"]}
    assert set(jobs) == {world.todo_job, world.finished_job}
    finished = jobs[world.finished_job]
    assert finished["task"] == "analytics.cache_user_analytics"
    assert finished["status"] == "succeeded" and finished["args"]["user_id"] == world.ada
    [attempt] = finished["attempts"]
    assert attempt["outcome"] == "succeeded" and "snapshot_id" in attempt["result"]
    assert [event["type"] for event in finished["events"]][:2] == ["deferred", "started"]
    assert jobs[world.todo_job]["status"] == "todo" and jobs[world.todo_job]["attempts"] == []


def test_the_archive_holds_their_files_and_no_one_elses(
    session_factory: sessionmaker[Session], world: World, files_dir: Path, tmp_path: Path
) -> None:
    archive = _export(session_factory, world.ada, files_dir, tmp_path / "ada.zip")

    files = sorted(name for name in archive.namelist() if name.startswith("files/"))
    with session_factory() as session:
        owned = session.scalars(select(StoredFile).filter_by(owner_id=world.ada)).all()
    assert len(files) == len(owned) == 2
    assert {name.split("/")[1] for name in files} == {"resume", "thumbnail"}
    resume_name = next(name for name in files if name.startswith("files/resume/"))
    assert archive.read(resume_name) == f"{NAME} {PHONE}".encode()
    listed = {entry["archive_path"] for entry in _read(archive, "candidate.json")["files"]}
    assert listed == set(files)
    everything = b"".join(archive.read(name) for name in archive.namelist())
    assert b"Bob Other" not in everything and b"bob's resume" not in everything


def test_the_same_data_gives_the_same_bytes(
    session_factory: sessionmaker[Session], world: World, files_dir: Path, tmp_path: Path
) -> None:
    first = _export(session_factory, world.ada, files_dir, tmp_path / "1.zip")
    second = _export(session_factory, world.ada, files_dir, tmp_path / "2.zip")
    assert (tmp_path / "1.zip").read_bytes() == (tmp_path / "2.zip").read_bytes()
    assert first.namelist()[:2] == ["candidate.json", "jobs.json"]
    assert second.testzip() is None


def test_an_unknown_user_is_a_clear_error_and_writes_nothing(
    session: Session, files_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(NoSuchUser, match="no user with id 31337"):
        export_candidate(session, 31337, files_dir, tmp_path / "none.zip")
    assert list(tmp_path.iterdir()) == []


def test_the_command_writes_candidate_id_zip_here_and_audits(
    session_factory: sessionmaker[Session],
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(main, ["export-candidate", str(world.ada), "--by", "ana"])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"wrote candidate-{world.ada}.zip"
    assert zipfile.ZipFile(tmp_path / f"candidate-{world.ada}.zip").testzip() is None
    with session_factory() as session:
        entry = session.scalars(select(AuditLogEntry).filter_by(action="export_candidate")).one()
    assert (entry.actor, entry.target, entry.details) == ("ana", f"user {world.ada}", {})


def test_the_command_takes_an_output_path_and_fails_on_one_line(
    world: World, tmp_path: Path
) -> None:
    runner = CliRunner()
    target = tmp_path / "out" / "ada.zip"
    written = runner.invoke(main, ["export-candidate", str(world.ada), "--output", str(target)])
    assert written.exit_code == 0, written.output
    assert target.is_file()

    unknown = runner.invoke(main, ["export-candidate", "31337"])
    assert unknown.exit_code == 1
    assert unknown.output.strip() == "Error: no user with id 31337"


def test_progress_hears_of_each_archive_entry(
    session_factory: sessionmaker[Session], world: World, files_dir: Path, tmp_path: Path
) -> None:
    heard: list[tuple[str, int, int]] = []
    with session_factory() as session:
        export_candidate(
            session, world.ada, files_dir, tmp_path / "ada.zip", progress=lambda *a: heard.append(a)
        )
    assert [step for step, _, _ in heard] == zipfile.ZipFile(tmp_path / "ada.zip").namelist()
    assert [(done, total) for _, done, total in heard] == [(n, 4) for n in range(1, 5)]
