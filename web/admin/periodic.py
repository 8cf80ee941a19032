"""Cron tasks: schedule, last run and outcome, next runs; "run now" defers one at once."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from web.admin import bp
from web.common import jobs_app, run_periodic_now
from web.db import get_session
from web.queries import periodic as periodic_queries
from web.security import login_required, operator_required


@bp.get("/periodic")
@login_required
def periodic() -> str:
    found = periodic_queries.schedules(get_session(), jobs_app())
    return render_template("admin/periodic.html", schedules=found)


@bp.post("/periodic/<key>/run")
@operator_required
def run_now(key: str) -> ResponseReturnValue:
    job_id = run_periodic_now(key)
    flash(f"Deferred {key} now as job {job_id}.", "ok")
    return redirect(url_for("admin.periodic"))
