"""Queues: each queue's state (paused, slots, waiting, running, the workers serving it), and
pause, resume and slot changes, fleet-wide or for one worker process (queue/control.py)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from hiring_jobs.queue import control
from web.admin import bp
from web.common import actor
from web.db import get_session
from web.security import login_required, operator_required


@bp.get("/queues")
@login_required
def queues() -> str:
    session = get_session()
    return render_template(
        "admin/queues.html",
        queues=control.queue_states(session),
        # Workers that never reported what they serve: "no worker" cannot be said then.
        unknown_workers=control.unreported_live_workers(session),
    )


@bp.get("/queues/<queue>")
@login_required
def queue(queue: str) -> str:
    try:
        [state] = control.queue_states(get_session(), only=queue)
    except control.ControlError as exc:
        abort(404, description=str(exc))
    return render_template("admin/queue.html", queue=state)


def _control_action(queue: str, done: str, change: control.Change) -> ResponseReturnValue:
    session = get_session()
    worker = request.form.get("worker") or None
    try:
        change(session, queue, by=actor(), worker=worker)
    except control.ControlError as exc:
        session.rollback()
        flash(str(exc), "error")
    else:
        session.commit()
        flash(done + (f" on worker {worker}." if worker else " on every worker."), "ok")
    if request.form.get("next") == "list":
        return redirect(url_for("admin.queues"))
    return redirect(url_for("admin.queue", queue=queue))


@bp.post("/queues/<queue>/pause")
@operator_required
def pause_queue(queue: str) -> ResponseReturnValue:
    return _control_action(queue, f"Queue {queue} is paused: running jobs finish", control.pause)


@bp.post("/queues/<queue>/resume")
@operator_required
def resume_queue(queue: str) -> ResponseReturnValue:
    return _control_action(queue, f"Queue {queue} is resumed", control.resume)


@bp.post("/queues/<queue>/limit")
@operator_required
def limit_queue(queue: str) -> ResponseReturnValue:
    raw = request.form.get("slots", "").strip()
    if raw and not (raw.isascii() and raw.isdigit() and len(raw) <= 4):
        abort(400, description=f"slots must be a whole number from 0 to {control.MAX_SLOTS}")
    slots = int(raw) if raw else None
    done = f"Queue {queue}: " + (f"{slots} slots per worker" if raw else "slots as started")
    return _control_action(
        queue,
        done,
        lambda s, q, *, by, worker: control.set_limit(s, q, slots, by=by, worker=worker),
    )
