"""Jobs: the filtered list, one job's whole story, and actions on one or many jobs."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from hiring_jobs.queue import job_progress, operations
from web.admin import bp
from web.common import actor, bulk_plan, job_story, task_names
from web.db import get_session
from web.queries import bulk as bulk_queries
from web.queries import jobs as job_queries
from web.queries import overview
from web.queries.tables import STATUSES
from web.security import login_required, operator_required
from web.validation import int_arg


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
        bulk_actions=list(operations.BulkAction),
    ), (400 if error else 200)


@bp.get("/jobs/<int:job_id>")
@login_required
def job(job_id: int) -> str:
    return render_template("admin/job.html", **job_story(job_id))


def _single_action(job_id: int, done: str, run: Any) -> ResponseReturnValue:
    session = get_session()
    try:
        run(session)
    except operations.ActionError as exc:
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
        lambda s: operations.retry(s, job_id, by=actor()),
    )


@bp.post("/jobs/<int:job_id>/cancel")
@operator_required
def cancel(job_id: int) -> ResponseReturnValue:
    return _single_action(
        job_id, f"Job {job_id} is cancelled.", lambda s: operations.cancel(s, job_id, by=actor())
    )


@bp.post("/jobs/<int:job_id>/abort")
@operator_required
def abort_job(job_id: int) -> ResponseReturnValue:
    return _single_action(
        job_id,
        f"Job {job_id} was asked to stop (a running task stops when it next checks).",
        lambda s: operations.cancel(s, job_id, by=actor(), abort=True),
    )


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
        preview = bulk_queries.preview(session, plan)
    except operations.ActionError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.jobs", **plan.job_filter.as_query()))
    if request.form.get("confirm") != "yes":
        return render_template("admin/bulk_preview.html", plan=plan, preview=preview)
    touched = bulk_queries.execute(session, plan, by=actor())
    session.commit()
    flash(f"{plan.action.value.capitalize()}: {touched:,} jobs.", "ok")
    return redirect(url_for("admin.jobs", **plan.job_filter.as_query()))
