"""Alerts: the rules checked every minute, their incidents, and acknowledging them.

Rules and incidents live in PostgreSQL (hiring_jobs/alerts.py); every change here is an
operator action with its CSRF token and an audit row in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from hiring_jobs import alerts
from hiring_jobs.models import AlertKind, AlertRule
from web.admin import bp
from web.common import actor
from web.db import get_session
from web.security import login_required, operator_required


@bp.get("/alerts")
@login_required
def alert_list() -> str:
    session = get_session()
    rules = session.scalars(select(AlertRule).order_by(AlertRule.name)).all()
    return render_template(
        "admin/alerts.html",
        rules=rules,
        incidents=alerts.recent_incidents(session),
        kinds=list(AlertKind),
        params=alerts.PARAMS,
        params_of=alerts.params_of,
    )


def _apply(change: Callable[[Session], Any], done: str) -> ResponseReturnValue:
    session = get_session()
    try:
        change(session)
    except alerts.AlertError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("admin.alert_list"))
    session.commit()
    flash(done, "ok")
    return redirect(url_for("admin.alert_list"))


@bp.post("/alerts/rules")
@operator_required
def alert_rule_add() -> ResponseReturnValue:
    form = request.form
    name = form.get("name", "")
    return _apply(
        lambda s: alerts.add_rule(
            s,
            name=name,
            kind=form.get("kind", ""),
            params=form.get("params", ""),
            email_to=form.get("email_to", ""),
            webhook_url=form.get("webhook_url", ""),
            by=actor(),
        ),
        f"Alert rule {name.strip()} added; it is checked every minute.",
    )


@bp.post("/alerts/rules/<int:rule_id>/<any(enable, disable, delete):change>")
@operator_required
def alert_rule_change(rule_id: int, change: str) -> ResponseReturnValue:
    by = actor()
    changes: dict[str, Callable[[Session], Any]] = {
        "enable": lambda s: alerts.set_enabled(s, rule_id, True, by=by),
        "disable": lambda s: alerts.set_enabled(s, rule_id, False, by=by),
        "delete": lambda s: alerts.delete_rule(s, rule_id, by=by),
    }
    return _apply(changes[change], f"Alert rule {rule_id}: {change}d.")


@bp.post("/alerts/incidents/<int:incident_id>/acknowledge")
@operator_required
def alert_acknowledge(incident_id: int) -> ResponseReturnValue:
    return _apply(
        lambda s: alerts.acknowledge(s, incident_id, by=actor()),
        f"Incident {incident_id} acknowledged.",
    )
