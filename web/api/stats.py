"""Queue stats, workers, cron tasks, outbox and audit log in JSON."""

from __future__ import annotations

import dataclasses

from flask import jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from hiring_jobs.models import AuditLogEntry
from web.api import bp
from web.common import change_cron, jobs_app, run_periodic_now
from web.db import get_session
from web.masking import masked_fields
from web.queries import overview, periodic
from web.queries import workers as worker_queries
from web.queries.outbox import list_outbox, recipient_names
from web.security import login_required, operator_required
from web.validation import int_arg, json_body


@bp.get("/stats")
@login_required
def stats() -> ResponseReturnValue:
    data = overview.overview_data(get_session(), jobs_app())
    return jsonify(
        queues=[queue.as_dict() for queue in data["queues"]],
        last_hour=data["hour_summary"],
        last_day=data["day_summary"],
        live_workers=len(data["live_workers"]),
        stalled_jobs=data["stalled_jobs"],
        warnings=data["warnings"],
    )


@bp.get("/workers")
@login_required
def workers() -> ResponseReturnValue:
    data = worker_queries.workers_data(get_session())
    return jsonify(
        workers=[
            dataclasses.asdict(worker)
            | {
                "live": worker.live,
                "running_jobs": data["running"].get(worker.id, []),
                # Name, host, pid, concurrency, slots and pool, as the process recorded them.
                "process": data["registered"].get(worker.id),
            }
            for worker in data["workers"]
        ],
        processes_last_hour=data["processes"],
        stalled_jobs=data["stalled_jobs"],
    )


@bp.get("/periodic")
@login_required
def periodic_tasks() -> ResponseReturnValue:
    found = periodic.schedules(get_session(), jobs_app())
    return jsonify(periodic=[schedule.as_dict() for schedule in found])


@bp.post("/periodic/<key>/<any(enable, disable, 'catch-up'):change>")
@operator_required
def change_periodic(key: str, change: str) -> ResponseReturnValue:
    """catch-up takes {"catch_up": "skip"|"once"|"each", "window_minutes": N}."""
    body = json_body() if change == "catch-up" else {}
    change_cron(key, change, {k: str(v) for k, v in body.items() if v is not None})
    [found] = [s for s in periodic.schedules(get_session(), jobs_app()) if s.key == key]
    return jsonify(found.as_dict())


@bp.post("/periodic/<key>/run")
@operator_required
def run_periodic(key: str) -> ResponseReturnValue:
    return jsonify(key=key, job_id=run_periodic_now(key)), 201


@bp.get("/outbox")
@login_required
def outbox() -> ResponseReturnValue:
    session = get_session()
    rows = list_outbox(session, before=int_arg("before"))
    names = recipient_names(session, (row.recipient for row in rows))
    return jsonify(
        emails=[
            masked_fields(
                {
                    "id": row.id,
                    "recipient": row.recipient,
                    "subject": row.subject,
                    "template": row.template,
                    "job_id": row.job_id,
                    "created_at": row.created_at,
                },
                names.get(row.recipient, ()),
            )
            for row in rows
        ]
    )


@bp.get("/audit")
@login_required
def audit() -> ResponseReturnValue:
    query = select(AuditLogEntry).order_by(AuditLogEntry.id.desc()).limit(100)
    if (before := int_arg("before")) is not None:
        query = query.where(AuditLogEntry.id < before)
    rows = get_session().scalars(query)
    return jsonify(
        entries=[
            masked_fields(
                {
                    "id": row.id,
                    "at": row.at,
                    "actor": row.actor,
                    "action": row.action,
                    "target": row.target,
                    "job_count": row.job_count,
                    "details": row.details,
                }
            )
            for row in rows
        ]
    )
