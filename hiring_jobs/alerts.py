"""Alerts: rules kept in PostgreSQL, checked every minute, said once per incident.

Each rule kind is one SQL query returning the subjects for which the rule holds now (a
task, a queue, or '' for a system-wide condition) with a one-line summary. `evaluate`
compares them with the rule's open incidents: a new subject opens an incident, a subject
that no longer holds resolves it. Opening and resolving each notify once, in the same
transaction as the incident row: an email per recipient (the email service's outbox and
retries, keyed per incident and event) and a webhook job (tasks/alerts.py: retried, signed
with HMAC-SHA256). The partial unique index on open incidents makes "once" a database
fact even if two evaluations overlap.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hiring_jobs import audit
from hiring_jobs.models import AlertIncident, AlertKind, AlertRule
from hiring_jobs.queue.defer import defer
from hiring_jobs.services import email
from hiring_jobs.settings import get_settings
from hiring_jobs.sql import ALERTS, QUEUE, run

logger = logging.getLogger(__name__)

WEBHOOK_TASK = "queue.deliver_alert_webhook"
SIGNATURE_HEADER = "X-Hiring-Jobs-Signature"
EVENT_HEADER = "X-Hiring-Jobs-Event"
DELIVERY_HEADER = "X-Hiring-Jobs-Delivery"

# Each kind's parameters and their defaults; a rule's `params` overrides them.
PARAMS: Mapping[AlertKind, Mapping[str, Any]] = {
    # task '' = every task, each its own incident.
    AlertKind.TASK_FAILURE_RATE: {"task": "", "window_minutes": 15, "rate": 0.5, "min_runs": 5},
    AlertKind.QUEUE_UNSERVED: {"queue": ""},
    AlertKind.OLDEST_WAITING: {"queue": "", "seconds": 600},
    AlertKind.STALLED_JOBS: {"min_jobs": 1},
    AlertKind.CRON_MISSED: {},
    AlertKind.DEAD_LETTERS_GROWING: {"window_minutes": 60, "min_new": 10},
}


@dataclasses.dataclass(frozen=True)
class Finding:
    subject: str
    summary: str


def params_of(rule: AlertRule) -> dict[str, Any]:
    return {**PARAMS[AlertKind(rule.kind)], **(rule.params or {})}


def _rows(session: Session, statement: str, params: Mapping[str, Any]) -> list[Any]:
    return list(run(session, statement, params))


def _live_seconds() -> float:
    """A worker silent this long is dead: the stalled-job rescue's own judgement."""
    return get_settings().stalled_after_seconds


def _task_failure_rate(session: Session, p: Mapping[str, Any]) -> list[Finding]:
    return [
        Finding(
            r.subject,
            f"task {r.subject}: {r.failed} of {r.finished} runs failed in the last "
            f"{p['window_minutes']} min (threshold {float(p['rate']):.0%})",
        )
        for r in _rows(session, ALERTS["alert_task_failure_rate"], p)
    ]


def _queue_unserved(session: Session, p: Mapping[str, Any]) -> list[Finding]:
    params = {**p, "live_seconds": _live_seconds()}
    return [
        Finding(r.subject, f"queue {r.subject}: {r.waiting} ready jobs and no live worker")
        for r in _rows(session, QUEUE["alert_queue_unserved"], params)
    ]


def _oldest_waiting(session: Session, p: Mapping[str, Any]) -> list[Finding]:
    return [
        Finding(
            r.subject,
            f"queue {r.subject}: the oldest ready job has waited {int(r.waited)} s"
            f" (threshold {p['seconds']} s)",
        )
        for r in _rows(session, QUEUE["alert_oldest_waiting"], p)
    ]


def _stalled_jobs(session: Session, p: Mapping[str, Any]) -> list[Finding]:
    params = {**p, "live_seconds": _live_seconds()}
    return [
        Finding("", f"{r.stalled} running jobs belong to workers that stopped heartbeating")
        for r in _rows(session, QUEUE["alert_stalled_jobs"], params)
    ]


def _dead_letters_growing(session: Session, p: Mapping[str, Any]) -> list[Finding]:
    return [
        Finding("", f"{r.new} new dead letters in the last {p['window_minutes']} min")
        for r in _rows(session, ALERTS["alert_dead_letters_growing"], p)
    ]


def _cron_missed(session: Session, p: Mapping[str, Any]) -> list[Finding]:
    # The periodic page's own judgement of a missed tick, so the two never disagree.
    from hiring_jobs.app import app
    from web.queries.periodic import schedules

    return [
        Finding(s.key, f"cron task {s.key} missed its tick of {s.missed_tick:%Y-%m-%d %H:%M} UTC")
        for s in schedules(session, app)
        if s.missed_tick is not None
    ]


CHECKS: Mapping[AlertKind, Callable[[Session, Mapping[str, Any]], list[Finding]]] = {
    AlertKind.TASK_FAILURE_RATE: _task_failure_rate,
    AlertKind.QUEUE_UNSERVED: _queue_unserved,
    AlertKind.OLDEST_WAITING: _oldest_waiting,
    AlertKind.STALLED_JOBS: _stalled_jobs,
    AlertKind.CRON_MISSED: _cron_missed,
    AlertKind.DEAD_LETTERS_GROWING: _dead_letters_growing,
}


def check(session: Session, rule: AlertRule) -> list[Finding]:
    return CHECKS[AlertKind(rule.kind)](session, params_of(rule))


def evaluate(session: Session) -> dict[str, int]:
    """Check every enabled rule; open and resolve incidents, notifying once for each.
    Runs in the caller's transaction: the incidents and their notifications commit
    together."""
    opened = resolved = 0
    for rule in session.scalars(select(AlertRule).where(AlertRule.enabled)).all():
        try:
            # A rule whose check fails (a cron task gone, a statement timeout) must not
            # keep the others from being checked: its own savepoint, and a log line.
            with session.begin_nested():
                found = check(session, rule)
        except Exception:
            logger.exception("alert rule %s (%s) could not be checked", rule.name, rule.kind)
            continue
        findings = {f.subject: f for f in found}
        open_now = {
            incident.subject: incident
            for incident in session.scalars(
                select(AlertIncident).where(
                    AlertIncident.rule_id == rule.id, AlertIncident.resolved_at.is_(None)
                )
            )
        }
        for subject in findings.keys() - open_now.keys():
            params = {"rule_id": rule.id, "subject": subject, "summary": findings[subject].summary}
            incident_id = run(session, ALERTS["open_incident"], params).scalar()
            if incident_id is not None:
                opened += 1
                notify(session, rule, incident_id, "opened")
        for subject in open_now.keys() - findings.keys():
            if run(session, ALERTS["resolve_incident"], {"id": open_now[subject].id}).scalar():
                resolved += 1
                notify(session, rule, open_now[subject].id, "resolved")
    return {"opened": opened, "resolved": resolved}


def notify(session: Session, rule: AlertRule, incident_id: int, event: str) -> None:
    """Queue the email(s) and the webhook call for one incident event."""
    incident = session.get(AlertIncident, incident_id)
    assert incident is not None
    session.refresh(incident)
    subject, body = message(rule, incident, event)
    for recipient in recipients(rule):
        email.queue_message(
            session,
            to=recipient,
            subject=subject,
            body=body,
            # The address hashed: any length fits the key's column.
            idempotency_key=f"alert:{incident_id}:{event}:{_short_hash(recipient)}",
        )
    if rule.webhook_url:
        defer(session, WEBHOOK_TASK, incident_id=incident_id, event=event)


def _short_hash(text_value: str) -> str:
    return hashlib.sha256(text_value.lower().encode()).hexdigest()[:16]


def recipients(rule: AlertRule) -> list[str]:
    return [part.strip() for part in (rule.email_to or "").split(",") if part.strip()]


def message(rule: AlertRule, incident: AlertIncident, event: str) -> tuple[str, str]:
    page = f"{get_settings().public_url or email.DEFAULT_BASE_URL}/admin/alerts"
    if event == "opened":
        subject = f"[alert] {rule.name}: {incident.summary}"
        body = (
            f"Alert rule {rule.name!r} ({rule.kind}) holds since "
            f"{_utc(incident.opened_at)} UTC:\n\n  {incident.summary}\n\n"
            f"Acknowledge it on {page}#incident-{incident.id}\n\n"
            "You will get one more message when it recovers."
        )
    else:
        subject = f"[recovered] {rule.name}: {incident.subject or rule.kind}"
        body = (
            f"Alert rule {rule.name!r} ({rule.kind}) no longer holds since "
            f"{_utc(incident.resolved_at)} UTC.\n\nIt had opened at "
            f"{_utc(incident.opened_at)} UTC with:\n\n  {incident.summary}\n\n{page}\n"
        )
    return subject, body


def _utc(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def webhook_payload(rule: AlertRule, incident: AlertIncident, event: str) -> bytes:
    return json.dumps(
        {
            "event": event,
            "incident_id": incident.id,
            "rule": rule.name,
            "kind": str(rule.kind),
            "subject": incident.subject,
            "summary": incident.summary,
            "opened_at": incident.opened_at.isoformat(),
            "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        },
        sort_keys=True,
    ).encode()


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of the exact body with the shared secret (a receiver
    recomputes it and compares with hmac.compare_digest)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- rules and incidents, as operators change them (web page; audited) ------------------


class AlertError(ValueError):
    """A rule or action that cannot be applied, in words an operator can act on."""


def parse_params(kind: AlertKind, raw: str) -> dict[str, Any]:
    """`task=email.send, rate=0.3` -> typed values; only the kind's own names."""
    defaults = PARAMS[kind]
    found: dict[str, Any] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        name, sep, value = (piece.strip() for piece in item.partition("="))
        if not sep or name not in defaults:
            known = ", ".join(defaults) or "none"
            raise AlertError(f"{item!r}: parameters of {kind.value} are {known} (name=value)")
        found[name] = _typed(name, value, defaults[name])
    return found


def _typed(name: str, value: str, default: Any) -> Any:
    if isinstance(default, str):
        return value
    try:
        number = float(value) if isinstance(default, float) else int(value)
    except ValueError:
        kind = "a number" if isinstance(default, float) else "a whole number"
        raise AlertError(f"{name} must be {kind}, not {value!r}") from None
    if number < 0:
        raise AlertError(f"{name} must not be negative")
    return number


def add_rule(
    session: Session,
    *,
    name: str,
    kind: str,
    params: str,
    email_to: str,
    webhook_url: str,
    by: str,
) -> AlertRule:
    name = name.strip()
    if not name or len(name) > 200:
        raise AlertError("a rule needs a name of 1 to 200 characters")
    try:
        alert_kind = AlertKind(kind)
    except ValueError:
        raise AlertError(f"kind must be one of {', '.join(k.value for k in AlertKind)}") from None
    webhook_url = webhook_url.strip()
    if webhook_url and not webhook_url.startswith(("http://", "https://")):
        raise AlertError("the webhook URL must start with http:// or https://")
    addresses = [a.strip() for a in email_to.split(",") if a.strip()]
    if any("@" not in a or any(c.isspace() for c in a) for a in addresses):
        raise AlertError("email recipients are addresses separated by commas")
    if session.scalar(select(AlertRule.id).where(AlertRule.name == name)) is not None:
        raise AlertError(f"a rule named {name!r} exists already")
    rule = AlertRule(
        name=name,
        kind=alert_kind,
        params=parse_params(alert_kind, params),
        email_to=", ".join(addresses),
        webhook_url=webhook_url,
        created_by=by,
    )
    session.add(rule)
    session.flush()
    audit.record(
        session,
        actor=by,
        action="alert.rule_add",
        target=f"alert rule {rule.name}",
        details={"kind": alert_kind.value, "params": rule.params},
    )
    return rule


def _rule(session: Session, rule_id: int) -> AlertRule:
    rule = session.get(AlertRule, rule_id)
    if rule is None:
        raise AlertError(f"no alert rule {rule_id}")
    return rule


def set_enabled(session: Session, rule_id: int, enabled: bool, *, by: str) -> AlertRule:
    """Disabling resolves the rule's open incidents quietly: nobody watches them now."""
    rule = _rule(session, rule_id)
    rule.enabled = enabled
    if not enabled:
        run(session, ALERTS["resolve_rule_incidents"], {"id": rule_id})
    action = "alert.rule_enable" if enabled else "alert.rule_disable"
    audit.record(session, actor=by, action=action, target=f"alert rule {rule.name}")
    return rule


def delete_rule(session: Session, rule_id: int, *, by: str) -> None:
    rule = _rule(session, rule_id)
    audit.record(session, actor=by, action="alert.rule_delete", target=f"alert rule {rule.name}")
    session.delete(rule)
    session.flush()


def acknowledge(session: Session, incident_id: int, *, by: str) -> AlertIncident:
    incident = session.get(AlertIncident, incident_id)
    if incident is None:
        raise AlertError(f"no alert incident {incident_id}")
    if incident.acknowledged_at is not None:
        raise AlertError(f"incident {incident_id} was acknowledged by {incident.acknowledged_by}")
    incident.acknowledged_at = datetime.now(UTC)
    incident.acknowledged_by = by
    audit.record(
        session, actor=by, action="alert.acknowledge", target=f"alert incident {incident_id}"
    )
    return incident


def recent_incidents(session: Session, limit: int = 200) -> list[dict[str, Any]]:
    """Open incidents first, then the latest resolved ones."""
    return [dict(r._mapping) for r in run(session, ALERTS["recent_incidents"], {"limit": limit})]
