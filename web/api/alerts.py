"""Alerts for scripts: incidents and rules as JSON, and acknowledging an incident."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from hiring_jobs import alerts
from hiring_jobs.models import AlertRule
from web.api import bp
from web.common import actor
from web.db import get_session
from web.security import login_required, operator_required


@bp.get("/alerts")
@login_required
def alert_list() -> ResponseReturnValue:
    session = get_session()
    rules = session.scalars(select(AlertRule).order_by(AlertRule.name)).all()
    return jsonify(
        incidents=alerts.recent_incidents(session),
        rules=[
            {
                "id": rule.id,
                "name": rule.name,
                "kind": rule.kind.value,
                "params": alerts.params_of(rule),
                "email_to": alerts.recipients(rule),
                "webhook_url": rule.webhook_url or None,
                "enabled": rule.enabled,
            }
            for rule in rules
        ],
    )


@bp.post("/alerts/incidents/<int:incident_id>/acknowledge")
@operator_required
def alert_acknowledge(incident_id: int) -> ResponseReturnValue:
    session = get_session()
    try:
        incident = alerts.acknowledge(session, incident_id, by=actor())
    except alerts.AlertError as exc:
        session.rollback()
        status = 404 if "no alert incident" in str(exc) else 409
        return jsonify(error=str(exc), status=status), status
    session.commit()
    return jsonify(
        id=incident.id,
        acknowledged_by=incident.acknowledged_by,
        acknowledged_at=incident.acknowledged_at,
    )
