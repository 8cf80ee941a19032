"""Jobs in JSON: list and filter, detail, status, and the same actions as the pages."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import abort, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from hiring_jobs.queue import operations
from hiring_jobs.queue.status import job_status
from web.api import bp
from web.common import actor, bulk_plan, job_story
from web.db import get_session
from web.masking import masked_explanation, masked_fields
from web.queries import bulk as bulk_queries
from web.queries import jobs as job_queries
from web.security import login_required, operator_required
from web.validation import int_arg, json_body, limit_arg


@bp.get("/jobs")
@login_required
def list_jobs() -> ResponseReturnValue:
    try:
        job_filter = job_queries.JobFilter.from_args(request.args)
    except job_queries.FilterError as exc:
        abort(400, description=str(exc))
    session = get_session()
    page = job_queries.list_jobs(
        session,
        job_filter,
        before=int_arg("before"),
        after=int_arg("after"),
        limit=limit_arg(job_queries.PAGE_SIZE, job_queries.MAX_PAGE_SIZE),
    )
    count = job_queries.capped_count(session, *job_filter.conditions())
    return jsonify(
        jobs=[masked_fields(row) for row in page.rows],
        count=count.as_dict(),
        filter=job_filter.as_query(),
        older={"before": page.older} if page.older else None,
        newer={"after": page.newer} if page.newer else None,
    )


@bp.get("/jobs/<int:job_id>")
@login_required
def job(job_id: int) -> ResponseReturnValue:
    data = job_story(job_id)
    names = data["names"]  # used for masking, never sent
    return jsonify(
        job=masked_fields(data["job"], names),
        events=data["events"],
        attempts=[masked_fields(attempt, names) for attempt in data["attempts"]],
        related=[masked_fields(dataclasses.asdict(item), names) for item in data["related"]],
    )


@bp.get("/jobs/<int:job_id>/status")
@login_required
def status(job_id: int) -> ResponseReturnValue:
    found = job_status(get_session(), job_id)
    if found is None:
        abort(404, description=f"no job {job_id}: it never existed or was deleted")
    return jsonify(masked_fields(found.as_dict()))


@bp.get("/jobs/<int:job_id>/why")
@login_required
def why(job_id: int) -> ResponseReturnValue:
    """What holds a waiting job now, in words (hiring_jobs.queue.why)."""
    found = masked_explanation(get_session(), job_id)
    if found is None:
        abort(404, description=f"no job {job_id}: it never existed or was deleted")
    return jsonify(found)


def _act(job_id: int, run: Any) -> ResponseReturnValue:
    session = get_session()
    try:
        run(session)
    except operations.ActionError as exc:
        session.rollback()
        return jsonify(error=str(exc), status=409), 409
    session.commit()
    found = job_status(session, job_id)
    return jsonify(masked_fields(found.as_dict()) if found else {"job_id": job_id})


@bp.post("/jobs/<int:job_id>/retry")
@operator_required
def retry(job_id: int) -> ResponseReturnValue:
    return _act(job_id, lambda s: operations.retry(s, job_id, by=actor()))


@bp.post("/jobs/<int:job_id>/cancel")
@operator_required
def cancel(job_id: int) -> ResponseReturnValue:
    return _act(job_id, lambda s: operations.cancel(s, job_id, by=actor()))


@bp.post("/jobs/<int:job_id>/abort")
@operator_required
def abort_job(job_id: int) -> ResponseReturnValue:
    return _act(job_id, lambda s: operations.cancel(s, job_id, by=actor(), abort=True))


@bp.post("/jobs/bulk")
@operator_required
def bulk() -> ResponseReturnValue:
    """{"action", "filter": {...}, "ids": [...], "confirm": false} -> the preview; true: run."""
    body = json_body()
    job_filter = body.get("filter") or {}
    ids = body.get("ids") or []
    if not isinstance(job_filter, dict) or not isinstance(ids, list):
        abort(400, description="filter must be an object and ids a list")
    form = MultiDict([(str(k), str(v)) for k, v in job_filter.items()])
    form.add("action", str(body.get("action", "")))
    for job_id in ids:
        form.add("ids", str(job_id))
    plan = bulk_plan(form)
    session = get_session()
    try:
        preview = bulk_queries.preview(session, plan)
    except operations.ActionError as exc:
        abort(400, description=str(exc))
    if body.get("confirm") is not True:
        return jsonify(preview=preview, done=False)
    touched = bulk_queries.execute(session, plan, by=actor())
    session.commit()
    return jsonify(preview=preview, done=True, touched=touched)
