"""Erasing and exporting a candidate from the admin pages (operators only, audited).

GET /admin/candidates/<id>/erase shows what an erasure would remove (the candidate
masked); POST, with the CSRF token and the id typed again, erases and shows the receipt.
GET /admin/candidates/<id>/export downloads everything held about them as one archive.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from flask import abort, current_app, render_template, request, send_file
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import sessionmaker

from hiring_jobs import audit
from hiring_jobs.privacy import erasure, erasure_preview, export
from hiring_jobs.privacy.subjects import NoSuchUser
from web.admin import bp
from web.common import actor
from web.db import get_engine, get_session
from web.security import operator_required

# Pages and downloads naming a person: no browser or proxy keeps a copy.
NO_STORE = {"Cache-Control": "no-store"}


def _files_dir() -> Path:
    return Path(current_app.config["FILES_DIR"])


def _preview(user_id: int) -> erasure_preview.Preview:
    try:
        return erasure_preview.preview(get_session(), user_id)
    except NoSuchUser as exc:
        abort(404, description=str(exc))


@bp.get("/candidates/<int:user_id>/erase")
@operator_required
def erase_candidate(user_id: int) -> ResponseReturnValue:
    page = render_template("admin/erase_candidate.html", preview=_preview(user_id), error=None)
    return page, 200, NO_STORE


@bp.post("/candidates/<int:user_id>/erase")
@operator_required
def erase_candidate_post(user_id: int) -> ResponseReturnValue:
    if request.form.get("confirm", "").strip() != str(user_id):
        error = f"Type {user_id} to confirm: nothing was erased."
        page = render_template("admin/erase_candidate.html", preview=_preview(user_id), error=error)
        return page, 400, NO_STORE
    get_session().close()  # the erasure runs its own transaction
    try:
        receipt = erasure.erase_candidate(
            sessionmaker(get_engine(), expire_on_commit=False),
            user_id,
            actor=actor(),
            files_dir=_files_dir(),
        )
    except NoSuchUser as exc:
        abort(404, description=str(exc))
    page = render_template("admin/erase_candidate.html", receipt=receipt, user_id=user_id)
    return page, 200, NO_STORE


@bp.get("/candidates/<int:user_id>/export")
@operator_required
def export_candidate(user_id: int) -> ResponseReturnValue:
    session = get_session()
    with tempfile.TemporaryDirectory(prefix="candidate-export-") as directory:
        try:
            path = export.export_candidate(
                session, user_id, _files_dir(), Path(directory) / "export.zip"
            )
        except NoSuchUser as exc:
            abort(404, description=str(exc))
        data = path.read_bytes()  # read before the directory goes
    audit.record(session, actor=actor(), action="export_candidate", target=f"user {user_id}")
    session.commit()
    response = send_file(
        io.BytesIO(data),
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"candidate-{user_id}.zip",
    )
    response.headers.update(NO_STORE)
    return response
