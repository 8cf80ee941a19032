"""Workers: heartbeats, what each one runs now, and the processes seen in the last hour."""

from __future__ import annotations

from typing import Any

from flask import render_template
from sqlalchemy.orm import Session

from web.admin import bp
from web.db import get_session
from web.queries import overview
from web.queries import workers as worker_queries
from web.security import login_required


def workers_data(session: Session) -> dict[str, Any]:
    return {
        "workers": overview.workers(session),
        "running": worker_queries.running_by_worker(session),
        "registered": worker_queries.registrations(session),
        "slot_use": worker_queries.slot_use,
        "processes": worker_queries.processes_seen(session),
        "stalled_jobs": overview.stalled_jobs(session),
        "stalled_after": overview.STALLED_AFTER_SECONDS,
    }


@bp.get("/workers")
@login_required
def workers() -> str:
    return render_template("admin/workers.html", **workers_data(get_session()))
