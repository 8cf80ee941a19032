"""Cron tasks: schedule, last run and outcome, next runs; "run now" defers one at once;
enable, disable and the catch-up policy for missed ticks (queue/cron.py), audited."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from web.admin import bp
from web.common import change_cron, jobs_app, run_periodic_now
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


@bp.post("/periodic/<key>/<any(enable, disable, 'catch-up'):change>")
@operator_required
def change_periodic(key: str, change: str) -> ResponseReturnValue:
    change_cron(key, change, request.form.to_dict())
    done = {"enable": "enabled", "disable": "disabled"}.get(change, "given a new catch-up policy")
    flash(f"{key} is {done}.", "ok")
    return redirect(url_for("admin.periodic"))
