"""The overview: queues, throughput, workers and what needs attention."""

from __future__ import annotations

from flask import render_template

from web.admin import bp
from web.charts import bar_chart
from web.common import jobs_app
from web.db import get_session
from web.queries import overview
from web.security import login_required


@bp.get("/")
@login_required
def home() -> str:
    data = overview.overview_data(get_session(), jobs_app())
    return render_template(
        "admin/overview.html",
        **data,
        hour_chart=bar_chart(data["hour"], label_format="%H:%M", label_every=2),
        day_chart=bar_chart(data["day"], label_format="%H:00", label_every=3),
    )
