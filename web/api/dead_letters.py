"""Dead letters in JSON: stats, groups, pending list, one failure, and the review actions."""

from __future__ import annotations

import dataclasses

from flask import abort, jsonify, request
from flask.typing import ResponseReturnValue

from hiring_jobs.queue import operations
from hiring_jobs.queue.operations import (
    DEAD_LETTER_GROUP_REVIEWS,
    DEAD_LETTER_REVIEWS,
    DeadLetterError,
)
from web.api import bp
from web.common import actor
from web.db import get_session
from web.masking import masked, masked_fields
from web.security import login_required, operator_required
from web.validation import int_arg, json_body, limit_arg, text_field

MAX_NOTES = 2000
MAX_FILTER = 200


@bp.get("/dead-letters/stats")
@login_required
def dead_letter_stats() -> ResponseReturnValue:
    return jsonify(dataclasses.asdict(operations.dead_letter_stats(get_session())))


@bp.get("/dead-letters/groups")
@login_required
def dead_letter_groups() -> ResponseReturnValue:
    groups = operations.dead_letter_groups(get_session())
    return jsonify(groups=[masked_fields(dataclasses.asdict(group)) for group in groups])


@bp.get("/dead-letters")
@login_required
def pending() -> ResponseReturnValue:
    letters = operations.pending_dead_letters(
        get_session(),
        task=request.args.get("task") or None,
        fingerprint=request.args.get("fingerprint") or None,
        before_id=int_arg("before"),
        limit=limit_arg(50, 500),
    )
    return jsonify(dead_letters=[masked_fields(dataclasses.asdict(letter)) for letter in letters])


@bp.get("/dead-letters/<int:job_id>")
@login_required
def dead_letter(job_id: int) -> ResponseReturnValue:
    session = get_session()
    try:
        letter = operations.dead_letter(session, job_id)
    except DeadLetterError as exc:
        abort(404, description=str(exc))
    reviews = [
        {
            "action": review.action.value,
            "notes": masked(review.notes),
            "reviewed_by": review.reviewed_by,
            "reviewed_at": review.reviewed_at,
            "retry_job_id": review.retry_job_id,
        }
        for review in operations.dead_letter_reviews(session, job_id)
    ]
    return jsonify(dead_letter=masked_fields(dataclasses.asdict(letter)), reviews=reviews)


def _notes() -> str:
    """The optional JSON body's `notes`."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return ""
    return text_field(body, "notes", max_length=MAX_NOTES).strip()


@bp.post(f"/dead-letters/<int:job_id>/<any({', '.join(DEAD_LETTER_REVIEWS)}):decision>")
@operator_required
def review(job_id: int, decision: str) -> ResponseReturnValue:
    session = get_session()
    try:
        new_id = operations.review_dead_letter(
            session, job_id, decision, by=actor(), notes=_notes()
        )
    except DeadLetterError as exc:
        session.rollback()
        return jsonify(error=str(exc), status=409), 409
    session.commit()
    return jsonify(job_id=job_id, action=decision, retry_job_id=new_id)


@bp.post(f"/dead-letters/groups/<any({', '.join(DEAD_LETTER_GROUP_REVIEWS)}):decision>")
@operator_required
def review_group(decision: str) -> ResponseReturnValue:
    """{"task": ..., "fingerprint": ..., "notes": ...}: every pending failure of the group."""
    body = json_body()
    task = text_field(body, "task", max_length=MAX_FILTER) or None
    fingerprint = text_field(body, "fingerprint", max_length=MAX_FILTER) or None
    session = get_session()
    try:
        if decision == "retry":
            new_ids = operations.retry_dead_letter_group(
                session, by=actor(), task=task, fingerprint=fingerprint, notes=_notes()
            )
            result = {"count": len(new_ids), "retry_job_ids": new_ids}
        else:
            count = operations.discard_dead_letter_group(
                session, by=actor(), task=task, fingerprint=fingerprint, notes=_notes()
            )
            result = {"count": count}
    except DeadLetterError as exc:
        session.rollback()
        return jsonify(error=str(exc), status=400), 400
    session.commit()
    return jsonify(action=decision, task=task, fingerprint=fingerprint, **result)
