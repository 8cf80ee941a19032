"""Queues in JSON: their state, and pause, resume and slot changes (web/API.md)."""

from __future__ import annotations

from flask import abort, jsonify, request
from flask.typing import ResponseReturnValue

from hiring_jobs.queue import control
from web.api import bp
from web.common import actor
from web.db import get_session
from web.security import login_required, operator_required
from web.validation import json_body, text_field


@bp.get("/queues")
@login_required
def queues() -> ResponseReturnValue:
    return jsonify(queues=[state.as_dict() for state in control.queue_states(get_session())])


@bp.get("/queues/<queue>")
@login_required
def queue(queue: str) -> ResponseReturnValue:
    try:
        [state] = control.queue_states(get_session(), only=queue)
    except control.ControlError as exc:
        abort(404, description=str(exc))
    return jsonify(state.as_dict())


def _apply(queue: str, change: control.Change) -> ResponseReturnValue:
    """{"worker": NAME} (optional) limits the change to one worker process."""
    body = json_body() if request.get_data() else {}
    worker = text_field(body, "worker", max_length=200) or None
    session = get_session()
    try:
        change(session, queue, by=actor(), worker=worker)
    except control.ControlError as exc:
        session.rollback()
        abort(400, description=str(exc))
    session.commit()
    [state] = control.queue_states(session, only=queue)
    return jsonify(state.as_dict())


@bp.post("/queues/<queue>/pause")
@operator_required
def pause_queue(queue: str) -> ResponseReturnValue:
    return _apply(queue, control.pause)


@bp.post("/queues/<queue>/resume")
@operator_required
def resume_queue(queue: str) -> ResponseReturnValue:
    return _apply(queue, control.resume)


@bp.post("/queues/<queue>/limit")
@operator_required
def limit_queue(queue: str) -> ResponseReturnValue:
    """{"slots": N} per worker process (0 to 1000), or null for the slots workers started with."""
    body = json_body()
    if "slots" not in body:
        abort(400, description="send slots: a whole number from 0 to 1000, or null")
    slots = body["slots"]
    if slots is not None and (isinstance(slots, bool) or not isinstance(slots, int)):
        abort(400, description="slots must be a whole number from 0 to 1000, or null")
    return _apply(
        queue, lambda s, q, *, by, worker: control.set_limit(s, q, slots, by=by, worker=worker)
    )
