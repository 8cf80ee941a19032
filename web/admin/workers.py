"""Workers: heartbeats, what each one runs now, and the processes seen in the last hour."""

from __future__ import annotations

from flask import render_template

from web.admin import bp
from web.db import get_session
from web.queries import workers as worker_queries
from web.security import login_required


@bp.get("/workers")
@login_required
def workers() -> str:
    return render_template("admin/workers.html", **worker_queries.workers_data(get_session()))
