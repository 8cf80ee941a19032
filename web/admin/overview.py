"""The overview: queues, throughput, workers and what needs attention."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import render_template
from sqlalchemy.orm import Session

from web.admin import bp
from web.charts import bar_chart
from web.common import jobs_app
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
    return {
        "queues": stats,
        "hour": hour,
        "day": day,
        "hour_summary": overview.summarize(hour),
        "day_summary": overview.summarize(day),
        "workers": found_workers,
        "live_workers": live,
        "stalled_jobs": stalled,
        "warnings": overview.warnings(stats, len(live), stalled, missed),
    }


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
