"""Request helpers shared by the admin views and the API (the API never imports views)."""

from __future__ import annotations

from typing import Any

from flask import abort
from procrastinate import App
from werkzeug.datastructures import MultiDict

from hiring_jobs import audit
from hiring_jobs.app import app as procrastinate_app
from hiring_jobs.queue import cron, operations
from web.db import get_session
from web.queries import bulk, periodic
from web.queries import jobs as job_queries
from web.queries import reveal as reveal_queries
from web.security import current_user
from web.validation import id_list

# Pages and answers that show an unmasked value are never cached.
NO_STORE = {"Cache-Control": "no-store"}


def jobs_app() -> App:
    """The Procrastinate app with every task module imported (task names, cron tasks)."""
    procrastinate_app.perform_import_paths()
    return procrastinate_app


def task_names() -> list[str]:
    return sorted(jobs_app().tasks)


def actor() -> str:
    user = current_user()
    assert user is not None  # every action view is behind operator_required
    return user.username


def job_story(job_id: int) -> dict[str, Any]:
    """One job's page data; 404 when the job never existed or was deleted."""
    story = job_queries.job_story(get_session(), job_id)
    if story is None:
        abort(404, description=f"no job {job_id}: it never existed or was deleted")
    return story


def bulk_plan(form: MultiDict[str, str]) -> bulk.BulkPlan:
    """The action, the filter and the chosen ids from a bulk form (or JSON made into one)."""
    try:
        action = operations.BulkAction(form.get("action", ""))
    except ValueError:
        abort(400, description="action must be retry, cancel or delete")
    try:
        job_filter = job_queries.JobFilter.from_args(form)
    except job_queries.FilterError as exc:
        abort(400, description=str(exc))
    # "Preview on all matching" sends the ticked boxes too: that scope ignores them.
    ids = () if form.get("scope") == "filter" else id_list(form.getlist("ids"))
    return bulk.BulkPlan(action, job_filter, ids)


def run_periodic_now(key: str) -> int:
    """Defer the cron task named by `task:periodic_id` now; audited; returns the job id."""
    task = periodic.find(jobs_app(), key)
    if task is None:
        abort(404, description=f"no cron task {key}")
    session = get_session()
    job_id = periodic.run_now(session, task)
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


def reveal_value(source: str, row_id: int, *, via: str) -> reveal_queries.Revealed:
    """400 for an unknown source, 404 for an unknown id; audited, committed."""
    session = get_session()
    try:
        revealed = reveal_queries.reveal(
            session, actor=actor(), source=source, row_id=row_id, via=via
        )
    except reveal_queries.UnknownSource as exc:
        abort(400, description=str(exc))
    except reveal_queries.NotFound as exc:
        abort(404, description=str(exc))
    session.commit()
    return revealed


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
