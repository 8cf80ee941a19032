"""Jobs: the filtered list, one job's whole story, and actions on one or many jobs."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from hiring_jobs.queue import job_progress
from hiring_jobs.queue.why import explain
from web.admin import bp
from web.admin.common import actor, task_names
from web.db import get_session
from web.queries import actions, overview
from web.queries import jobs as job_queries
from web.queries import workers as worker_queries
from web.queries.related import known_names, related_records
from web.queries.tables import STATUSES
from web.security import login_required, operator_required
from web.validation import id_list, int_arg


@bp.get("/jobs")
@login_required
def jobs() -> ResponseReturnValue:
    session = get_session()
    error = None
    try:
        job_filter = job_queries.JobFilter.from_args(request.args)
    except job_queries.FilterError as exc:
        error, job_filter = str(exc), job_queries.JobFilter()
    page = job_queries.list_jobs(
        session, job_filter, before=int_arg("before"), after=int_arg("after")
    )
    count = job_queries.capped_count(session, *job_filter.conditions())
    running = [row["id"] for row in page.rows if row["status"] == "doing"]
    return render_template(
        "admin/jobs.html",
        page=page,
        progress=job_progress.read(session, running),
        count=count,
        job_filter=job_filter,
        error=error,
        statuses=STATUSES,
        queues=overview.queue_names(session),
        tasks=task_names(),
        bulk_actions=list(actions.BulkAction),
    ), (400 if error else 200)


def job_detail_data(job_id: int) -> dict[str, Any]:
    session = get_session()
    job = job_queries.get_job(session, job_id)
    if job is None:
        abort(404, description=f"no job {job_id}: it never existed or was deleted")
    return {
        "job": job,
        "events": job_queries.job_events(session, job_id),
        "attempts": job_queries.job_attempts(session, job_id),
        "worker": worker_queries.registration(session, job["worker_id"]),
        "related": related_records(session, job_id, job["args"]),
        # What holds it, for a waiting job (live data).
        "why": explain(session, job_id) if job["status"] == "todo" else None,
        "progress": job_progress.read(session, [job_id]).get(job_id),
        # Never sent as is: masks these names in the job's arguments, errors and results.
        "names": known_names(session, job["args"]),
    }


@bp.get("/jobs/<int:job_id>")
@login_required
def job(job_id: int) -> str:
    return render_template("admin/job.html", **job_detail_data(job_id))


def _single_action(job_id: int, done: str, run: Any) -> ResponseReturnValue:
    session = get_session()
    try:
        run(session)
    except actions.ActionError as exc:
        session.rollback()
        flash(str(exc), "error")
    else:
        session.commit()
        flash(done, "ok")
    return redirect(url_for("admin.job", job_id=job_id))


@bp.post("/jobs/<int:job_id>/retry")
@operator_required
def retry(job_id: int) -> ResponseReturnValue:
    return _single_action(
        job_id,
        f"Job {job_id} is waiting to run again.",
        lambda s: actions.retry(s, job_id, by=actor()),
    )


@bp.post("/jobs/<int:job_id>/cancel")
@operator_required
def cancel(job_id: int) -> ResponseReturnValue:
    return _single_action(
        job_id, f"Job {job_id} is cancelled.", lambda s: actions.cancel(s, job_id, by=actor())
    )


@bp.post("/jobs/<int:job_id>/abort")
@operator_required
def abort_job(job_id: int) -> ResponseReturnValue:
    return _single_action(
        job_id,
        f"Job {job_id} was asked to stop (a running task stops when it next checks).",
        lambda s: actions.cancel(s, job_id, by=actor(), abort=True),
    )


def bulk_plan(form: MultiDict[str, str]) -> actions.BulkPlan:
    """The action, the filter and the chosen ids from a bulk form (or JSON made into one)."""
    try:
        action = actions.BulkAction(form.get("action", ""))
    except ValueError:
        abort(400, description="action must be retry, cancel or delete")
    try:
        job_filter = job_queries.JobFilter.from_args(form)
    except job_queries.FilterError as exc:
        abort(400, description=str(exc))
    # "Preview on all matching" sends the ticked boxes too: that scope ignores them.
    ids = () if form.get("scope") == "filter" else id_list(form.getlist("ids"))
    return actions.BulkPlan(action, job_filter, ids)


@bp.post("/jobs/bulk")
@operator_required
def bulk() -> ResponseReturnValue:
    """First POST shows how many jobs the action touches; the confirmed POST applies it."""
    plan = bulk_plan(request.form)
    if request.form.get("scope") == "selected" and not plan.ids:
        flash("Select jobs first (tick their boxes).", "error")
        return redirect(url_for("admin.jobs", **plan.job_filter.as_query()))
    session = get_session()
    try:
        preview = actions.preview(session, plan)
    except actions.ActionError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.jobs", **plan.job_filter.as_query()))
    if request.form.get("confirm") != "yes":
        return render_template("admin/bulk_preview.html", plan=plan, preview=preview)
    touched = actions.execute(session, plan, by=actor())
    session.commit()
    flash(f"{plan.action.value.capitalize()}: {touched:,} jobs.", "ok")
    return redirect(url_for("admin.jobs", **plan.job_filter.as_query()))
