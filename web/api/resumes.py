"""POST /api/resumes: store an uploaded PDF and defer its parsing, in one transaction."""

from __future__ import annotations

from flask import abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from hiring_jobs import audit
from hiring_jobs.models import User
from hiring_jobs.queue.defer import defer
from hiring_jobs.services.resumes import InvalidUpload, create_resume
from web.api import bp
from web.common import actor
from web.db import get_session
from web.security import app_required
from web.validation import parse_id


@bp.post("/resumes")
@app_required
def upload_resume() -> ResponseReturnValue:
    """multipart/form-data: `file` (a PDF) and `user_id`. 201 with resume and job ids."""
    upload = request.files.get("file")
    if upload is None:
        abort(400, description="send multipart/form-data with a `file` and a `user_id`")
    user_id = parse_id(request.form.get("user_id", ""), "user_id")
    data = upload.read()
    limit: int = current_app.config["MAX_UPLOAD_BYTES"]
    if len(data) > limit:
        abort(413)
    session = get_session()
    if session.get(User, user_id) is None:
        abort(404, description=f"no user {user_id}")
    try:
        resume = create_resume(
            session,
            current_app.config["FILES_DIR"],
            user_id=user_id,
            data=data,
            filename=upload.filename or "",  # kept for display only, never used as a path
            max_bytes=limit,
        )
    except InvalidUpload as exc:
        abort(400, description=str(exc))
    job_id = defer(session, "resume.parse", resume_id=resume.id)
    audit.record(
        session,
        actor=actor(),
        action="resume.upload",
        target=f"resume {resume.id}",
        job_count=1,
        details={"job_id": job_id},
    )
    session.commit()
    return jsonify(resume_id=resume.id, job_id=job_id), 201
