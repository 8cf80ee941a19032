"""Resume tasks: parse an upload, then analyze fit for each open application that uses it."""

from __future__ import annotations

from typing import Any

from hiring_jobs import db
from hiring_jobs.app import app
from hiring_jobs.models import ParseStatus
from hiring_jobs.queue import retry
from hiring_jobs.queue.defer import batch_defer
from hiring_jobs.queue.queues import Priority, Queue
from hiring_jobs.services import resumes
from hiring_jobs.settings import get_settings


@app.task(name="resume.parse", queue=Queue.RESUME, priority=Priority.HIGH, retry=retry.FILES)
def parse_resume(resume_id: int) -> dict[str, Any]:
    settings = get_settings()
    with db.session_scope() as session:
        outcome = resumes.parse_resume(
            session, resume_id, settings.files_dir, settings.max_upload_bytes
        )
        if outcome.status == ParseStatus.PARSED:
            # The next step commits with this one: no parsed resume is left unanalyzed.
            application_ids = resumes.open_applications_for(session, resume_id)
            batch_defer(
                session,
                analyze_candidate_fit,
                [{"application_id": application_id} for application_id in application_ids],
            )
    return outcome.as_dict()


@app.task(name="resume.analyze_candidate_fit", queue=Queue.RESUME, retry=retry.DEFAULT)
def analyze_candidate_fit(application_id: int) -> dict[str, Any]:
    with db.session_scope() as session:
        application = resumes.analyze_candidate_fit(session, application_id)
        return {"application_id": application.id, "fit_score": application.fit_score}
