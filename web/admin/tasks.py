"""Tasks: per-task run rate, failure rate and runtime over a window (Flower's task charts),
drawn server-side from the attempts table."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from hiring_jobs.inspect_cli import registered_tasks
from hiring_jobs.sql import run
from web.admin import bp
from web.charts import bar_chart, line_chart, sparkline
from web.db import get_session
from web.queries import tasks as task_queries
from web.security import login_required
from web.sql import ADMIN


def _window() -> task_queries.Window:
    try:
        return task_queries.window_of(request.args.get("window"))
    except ValueError as exc:
        abort(400, description=str(exc))


@bp.get("/tasks")
@login_required
def tasks() -> ResponseReturnValue:
    window = _window()
    rows = task_queries.summary(get_session(), window)
    ran = {row["task_name"] for row in rows}
    idle = [task for task in registered_tasks() if task["name"] not in ran]
    return render_template(
        "admin/tasks.html",
        rows=rows,
        idle=idle,
        window=window,
        windows=task_queries.WINDOWS.values(),
        sparkline=sparkline,
    )


@bp.get("/tasks/<task_name>")
@login_required
def task(task_name: str) -> ResponseReturnValue:
    window = _window()
    session = get_session()
    declared = next((t for t in registered_tasks() if t["name"] == task_name), None)
    if (
        declared is None
        and not run(session, ADMIN["task_has_attempts"], {"task": task_name}).scalar()
    ):
        abort(404, description=f"no task {task_name}: not registered and never ran")
    buckets = task_queries.series(session, task_name, window)
    return render_template(
        "admin/task.html",
        task_name=task_name,
        declared=declared,
        window=window,
        windows=task_queries.WINDOWS.values(),
        totals=_totals(buckets),
        rate_chart=bar_chart(
            buckets, label_format=window.label_format, label_every=window.label_every
        ),
        runtime_chart=line_chart(
            [b.start for b in buckets],
            {"p50": [b.p50_ms for b in buckets], "p95": [b.p95_ms for b in buckets]},
            label_format=window.label_format,
            label_every=window.label_every,
            unit="ms",
        ),
        workers=task_queries.workers_of(session, task_name, window),
    )


def _totals(buckets: list[task_queries.TaskBucket]) -> dict[str, Any]:
    succeeded = sum(b.succeeded for b in buckets)
    failed = sum(b.failed for b in buckets)
    finished = succeeded + failed
    return {
        "succeeded": succeeded,
        "failed": failed,
        "failure_rate": failed / finished if finished else None,
    }


def _ever_ran(session: Session, task_name: str) -> bool:
    return bool(run(session, ADMIN["task_has_attempts"], {"task": task_name}).scalar())
