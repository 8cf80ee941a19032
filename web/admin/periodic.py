"""Cron tasks: schedule, last run and outcome, next runs; "run now" defers one at once."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from hiring_jobs import audit
from web.admin import bp
from web.common import actor, jobs_app
from web.db import get_session
from web.queries import periodic as periodic_queries
from web.security import login_required, operator_required


@bp.get("/periodic")
@login_required
def periodic() -> str:
    found = periodic_queries.schedules(get_session(), jobs_app())
    return render_template("admin/periodic.html", schedules=found)


def run_periodic_now(key: str) -> int:
    """Defer the cron task named by `task:periodic_id` now; audited; returns the job id."""
    task = periodic_queries.find(jobs_app(), key)
    if task is None:
        abort(404, description=f"no cron task {key}")
    session = get_session()
    job_id = periodic_queries.run_now(session, task)
    audit.record(
        session,
        actor=actor(),
        action="periodic.run_now",
        target=key,
        job_count=1,
        details={"job_id": job_id},
    )
    session.commit()
    return job_id


@bp.post("/periodic/<key>/run")
@operator_required
def run_now(key: str) -> ResponseReturnValue:
    job_id = run_periodic_now(key)
    flash(f"Deferred {key} now as job {job_id}.", "ok")
    return redirect(url_for("admin.periodic"))
