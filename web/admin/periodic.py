"""Cron tasks: schedule, last run and outcome, next runs; "run now" defers one at once;
enable, disable and the catch-up policy for missed ticks (queue/cron.py), audited."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from hiring_jobs.queue import audit, cron
from web.admin import bp
from web.admin.common import actor, jobs_app
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


def change_cron(key: str, change: str, form: dict[str, str]) -> None:
    """enable, disable or catch-up (form: catch_up, window_minutes); audited; 4xx if bad."""
    session = get_session()
    try:
        if change in ("enable", "disable"):
            cron.set_enabled(session, jobs_app(), key, change == "enable", by=actor())
        else:
            raw = (form.get("window_minutes") or "").strip()
            if raw and not (raw.isascii() and raw.isdigit() and len(raw) <= 6):
                abort(400, description="the window is a whole number of minutes")
            window = int(raw) * 60 if raw else None
            catch_up = form.get("catch_up", "")
            cron.set_catch_up(session, jobs_app(), key, catch_up, by=actor(), window_seconds=window)
    except cron.CronError as exc:
        session.rollback()
        abort(404 if "no cron task" in str(exc) else 400, description=str(exc))
    session.commit()


@bp.post("/periodic/<key>/<any(enable, disable, 'catch-up'):change>")
@operator_required
def change_periodic(key: str, change: str) -> ResponseReturnValue:
    change_cron(key, change, request.form.to_dict())
    done = {"enable": "enabled", "disable": "disabled"}.get(change, "given a new catch-up policy")
    flash(f"{key} is {done}.", "ok")
    return redirect(url_for("admin.periodic"))
