"""The overview: queues, throughput, workers and what needs attention."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import render_template
from sqlalchemy.orm import Session

from hiring_jobs.queue import control
from web.admin import bp
from web.admin.common import jobs_app
from web.charts import bar_chart
from web.db import get_session
from web.queries import overview, periodic
from web.security import login_required


def overview_data(session: Session) -> dict[str, Any]:
    """Everything the page shows; the queue-stats API returns the same numbers."""
    stats = overview.queue_stats(session)
    hour = overview.throughput(session, window=timedelta(hours=1), minutes=5)
    day = overview.throughput(session, window=timedelta(days=1), minutes=60)
    found_workers = overview.workers(session)
    live = [worker for worker in found_workers if worker.live]
    stalled = overview.stalled_jobs(session)
    missed = periodic.missed_warnings(periodic.schedules(session, jobs_app()))
    controlled = control.queue_states(session)
    unknown_workers = control.unreported_live_workers(session)
    return {
        "queues": stats,
        "hour": hour,
        "day": day,
        "hour_summary": overview.summarize(hour),
        "day_summary": overview.summarize(day),
        "workers": found_workers,
        "live_workers": live,
        "stalled_jobs": stalled,
        "warnings": overview.warnings(stats, len(live), stalled, missed)
        + control_warnings(controlled, all_known=bool(live) and not unknown_workers),
        "queue_control": {state.name: state for state in controlled},
        "unserved_queues": []
        if unknown_workers
        else [state.name for state in controlled if state.waiting and not state.serving],
    }


def control_warnings(states: list[control.QueueState], *, all_known: bool) -> list[str]:
    """Paused queues, and queues whose waiting jobs no live worker would start: said only
    when there are live workers and each has reported what it serves (with none at all,
    overview.warnings already says so for every queue)."""
    warnings = []
    for state in states:
        if state.paused:
            warnings.append(f"Queue {state.name} is paused: {state.waiting:,} jobs wait.")
        elif state.waiting and not state.serving and all_known:
            warnings.append(
                f"Queue {state.name} has {state.waiting:,} waiting jobs and no live worker"
                " serving it."
            )
    return warnings


@bp.get("/")
@login_required
def home() -> str:
    data = overview_data(get_session())
    return render_template(
        "admin/overview.html",
        **data,
        hour_chart=bar_chart(data["hour"], label_format="%H:%M", label_every=2),
        day_chart=bar_chart(data["day"], label_format="%H:00", label_every=3),
    )
