"""The audit log: who did what, when, to how many jobs."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import select

from hiring_jobs.models import AuditLogEntry
from web.admin import bp
from web.db import get_session
from web.security import login_required
from web.validation import int_arg

PAGE_SIZE = 100


@bp.get("/audit")
@login_required
def audit_log() -> str:
    query = select(AuditLogEntry).order_by(AuditLogEntry.id.desc()).limit(PAGE_SIZE + 1)
    if (before := int_arg("before")) is not None:
        query = query.where(AuditLogEntry.id < before)
    rows = list(get_session().scalars(query))
    older = rows[PAGE_SIZE - 1].id if len(rows) > PAGE_SIZE else None
    return render_template("admin/audit.html", entries=rows[:PAGE_SIZE], older=older)
