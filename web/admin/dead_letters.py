"""Dead letters: failures grouped by task and error, reviewed one by one or a group at once.

The work is hiring_jobs.queue.operations' (shared with the CLI and the API); it writes
the reviews and the audit rows. These views only read forms and show results.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from hiring_jobs.models import DeadLetterReview
from hiring_jobs.queue import operations
from hiring_jobs.queue.operations import (
    DEAD_LETTER_GROUP_REVIEWS,
    DEAD_LETTER_REVIEWS,
    DeadLetterError,
)
from web.admin import bp
from web.common import actor
from web.db import get_session
from web.queries.related import known_names
from web.security import login_required, operator_required
from web.validation import int_arg

PAGE_SIZE = 50
HISTORY_SIZE = 100
MAX_NOTES = 2000
MAX_GROUP_FIELD = 200  # task names and error fingerprints are shorter
PAST = {"discard": "discarded", "resolve": "resolved"}


@bp.get("/dead-letters")
@login_required
def dead_letters() -> str:
    groups = operations.dead_letter_groups(get_session())
    return render_template(
        "admin/dead_letters.html", groups=groups, pending=sum(g.count for g in groups)
    )


@bp.get("/dead-letters/jobs")
@login_required
def dead_letter_jobs() -> str:
    task = request.args.get("task") or None
    fingerprint = request.args.get("fingerprint") or None
    letters = operations.pending_dead_letters(
        get_session(),
        task=task,
        fingerprint=fingerprint,
        before_id=int_arg("before"),
        limit=PAGE_SIZE + 1,
    )
    older = letters[PAGE_SIZE - 1].job_id if len(letters) > PAGE_SIZE else None
    return render_template(
        "admin/dead_letter_jobs.html",
        letters=letters[:PAGE_SIZE],
        older=older,
        task=task,
        fingerprint=fingerprint,
    )


@bp.get("/dead-letters/<int:job_id>")
@login_required
def dead_letter(job_id: int) -> str:
    session = get_session()
    try:
        letter = operations.dead_letter(session, job_id)
    except DeadLetterError as exc:
        abort(404, description=str(exc))
    return render_template(
        "admin/dead_letter.html",
        letter=letter,
        reviews=operations.dead_letter_reviews(session, job_id),
        names=known_names(session, letter.args),
    )


@bp.get("/dead-letters/history")
@login_required
def review_history() -> str:
    query = select(DeadLetterReview).order_by(DeadLetterReview.id.desc()).limit(HISTORY_SIZE)
    return render_template("admin/review_history.html", reviews=get_session().scalars(query))


def _group_field(name: str) -> str | None:
    value = request.form.get(name, "")
    if len(value) > MAX_GROUP_FIELD:
        abort(400, description=f"{name} is longer than {MAX_GROUP_FIELD} characters")
    return value or None


def notes() -> str:
    return request.form.get("notes", "").strip()[:MAX_NOTES]


@bp.post(f"/dead-letters/<int:job_id>/<any({', '.join(DEAD_LETTER_REVIEWS)}):decision>")
@operator_required
def review(job_id: int, decision: str) -> ResponseReturnValue:
    session = get_session()
    try:
        new_id = operations.review_dead_letter(session, job_id, decision, by=actor(), notes=notes())
        if new_id is not None:
            message = f"Job {job_id} re-queued as job {new_id}."
        else:
            message = f"Job {job_id} marked {PAST[decision]}."
    except DeadLetterError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("admin.dead_letter", job_id=job_id))
    session.commit()
    flash(message, "ok")
    return redirect(url_for("admin.dead_letter", job_id=job_id))


@bp.post(f"/dead-letters/group/<any({', '.join(DEAD_LETTER_GROUP_REVIEWS)}):decision>")
@operator_required
def review_group(decision: str) -> ResponseReturnValue:
    task = _group_field("task")
    fingerprint = _group_field("fingerprint")
    session = get_session()
    try:
        if decision == "retry":
            count = len(
                operations.retry_dead_letter_group(
                    session, by=actor(), task=task, fingerprint=fingerprint, notes=notes()
                )
            )
        else:
            count = operations.discard_dead_letter_group(
                session, by=actor(), task=task, fingerprint=fingerprint, notes=notes()
            )
    except DeadLetterError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("admin.dead_letters"))
    session.commit()
    verb = "Re-queued" if decision == "retry" else "Discarded"
    flash(f"{verb} {count:,} failed jobs.", "ok")
    return redirect(url_for("admin.dead_letters"))
