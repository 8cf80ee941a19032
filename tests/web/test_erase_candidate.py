"""The admin erase and export actions: operators only, masked preview, typed confirmation."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import AuditLogEntry, ErasureRecord, User
from hiring_jobs.settings import get_settings
from tests.privacy.test_erasure import EMAIL, NAME, PHONE, World, build_world
from tests.web.helpers import post


@pytest.fixture
def world(session_factory: sessionmaker[Session], app: object) -> World:
    return build_world(session_factory, get_settings().files_dir)


def _erased_at(factory: sessionmaker[Session], user_id: int) -> object:
    with factory() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user.erased_at


def test_the_page_previews_the_erasure_with_the_candidate_masked(
    operator: FlaskClient, world: World
) -> None:
    response = operator.get(f"/admin/candidates/{world.ada}/erase")

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.data.decode()
    for raw in (NAME, EMAIL, EMAIL.lower(), PHONE, "Quillfeather"):
        assert raw not in page
    assert "A*** Q***" in page and "A***@E***.org" in page
    assert "deleted.applications" in page and "files.resume" in page
    assert 'name="csrf_token"' in page and 'name="confirm"' in page


def test_a_typed_confirmation_erases_and_shows_the_receipt(
    operator: FlaskClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    response = post(operator, f"/admin/candidates/{world.ada}/erase", {"confirm": str(world.ada)})

    assert response.status_code == 200, response.data
    page = response.data.decode()
    assert "erased" in page and "anonymised.users" in page
    assert "Files removed from disk: <strong>2</strong>" in page
    assert _erased_at(session_factory, world.ada) is not None
    with session_factory() as session:
        record = session.scalars(select(ErasureRecord)).one()
        entry = session.scalars(select(AuditLogEntry).filter_by(action="erase_candidate")).one()
    assert record.requested_by == entry.actor == "admin"
    assert f"data-erasure-id>{record.id}<" in page

    again = post(operator, f"/admin/candidates/{world.ada}/erase", {"confirm": str(world.ada)})
    assert "was already erased" in again.data.decode()


def test_a_wrong_or_missing_confirmation_erases_nothing(
    operator: FlaskClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    wrong = post(operator, f"/admin/candidates/{world.ada}/erase", {"confirm": f"{world.ada}0"})
    missing = post(operator, f"/admin/candidates/{world.ada}/erase")

    assert wrong.status_code == missing.status_code == 400
    assert f"Type {world.ada} to confirm: nothing was erased." in wrong.data.decode()
    assert _erased_at(session_factory, world.ada) is None


def test_without_the_csrf_token_nothing_is_erased(
    operator: FlaskClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    response = operator.post(
        f"/admin/candidates/{world.ada}/erase", data={"confirm": str(world.ada)}
    )
    assert response.status_code == 400
    assert _erased_at(session_factory, world.ada) is None


def test_a_viewer_can_neither_see_nor_erase_nor_export(
    viewer: FlaskClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    base = f"/admin/candidates/{world.ada}"
    assert viewer.get(f"{base}/erase").status_code == 403
    assert post(viewer, f"{base}/erase", {"confirm": str(world.ada)}).status_code == 403
    assert viewer.get(f"{base}/export").status_code == 403
    assert _erased_at(session_factory, world.ada) is None


def test_an_anonymous_visitor_is_sent_to_the_login(client: FlaskClient, world: World) -> None:
    response = client.get(f"/admin/candidates/{world.ada}/erase")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_an_unknown_candidate_is_a_404(operator: FlaskClient, app: object) -> None:
    assert operator.get("/admin/candidates/999999/erase").status_code == 404
    assert (
        post(operator, "/admin/candidates/999999/erase", {"confirm": "999999"}).status_code == 404
    )
    assert operator.get("/admin/candidates/999999/export").status_code == 404


def test_the_export_downloads_their_archive_and_is_audited(
    operator: FlaskClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    response = operator.get(f"/admin/candidates/{world.ada}/export")

    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert f"candidate-{world.ada}.zip" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert {"candidate.json", "jobs.json"} <= set(archive.namelist())
    with session_factory() as session:
        entry = session.scalars(select(AuditLogEntry).filter_by(action="export_candidate")).one()
    assert (entry.actor, entry.target) == ("admin", f"user {world.ada}")


def test_the_job_page_links_to_the_erase_page_for_operators_only(
    operator: FlaskClient, viewer: FlaskClient, world: World
) -> None:
    link = f"/admin/candidates/{world.ada}/erase"
    assert link in operator.get(f"/admin/jobs/{world.todo_job}").data.decode()
    assert link not in viewer.get(f"/admin/jobs/{world.todo_job}").data.decode()


def test_no_file_is_left_in_the_temporary_directory(
    operator: FlaskClient, world: World, tmp_path: Path
) -> None:
    """The download is built in a temporary directory that goes with the response."""
    before = set(Path(tempfile.gettempdir()).glob("candidate-export-*"))
    operator.get(f"/admin/candidates/{world.ada}/export")
    assert set(Path(tempfile.gettempdir()).glob("candidate-export-*")) == before
