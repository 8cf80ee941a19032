"""Alert upkeep: the rules checked every minute, and webhook calls for incident events."""

from __future__ import annotations

import urllib.error
import urllib.request

from hiring_jobs import alerts, db
from hiring_jobs.app import app
from hiring_jobs.models import AlertIncident, AlertRule
from hiring_jobs.queue import retry
from hiring_jobs.queue.queues import Priority, Queue
from hiring_jobs.queue.retry import PermanentError, RetryPolicy
from hiring_jobs.settings import get_settings
from hiring_jobs.tasks.family import TaskFamily

WEBHOOK_TIMEOUT_SECONDS = 10.0
# A receiver that is down for a while still gets the call: 8 tries over about 20 minutes.
WEBHOOK_RETRY = RetryPolicy(max_retries=7, base_seconds=5, cap_seconds=600)
# Answers that another try cannot change (the URL or the receiver's checks are wrong).
PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 405, 410, 413, 422})

_task = TaskFamily("queue", Queue.MAINTENANCE, retry.NEVER, Priority.NORMAL).task


@app.periodic(cron="* * * * *", periodic_id="evaluate_alerts")
@_task("evaluate_alerts")
def evaluate_alerts(timestamp: int) -> dict[str, int]:
    with db.session_scope() as session:
        return alerts.evaluate(session)


@_task("deliver_alert_webhook", retry=WEBHOOK_RETRY)
def deliver_alert_webhook(incident_id: int, event: str) -> dict[str, int | str]:
    """POST the incident event as JSON, signed; a failed call raises and is retried."""
    with db.session_scope() as session:
        incident = session.get(AlertIncident, incident_id)
        if incident is None:
            return {"skipped": f"incident {incident_id} no longer exists"}
        rule = session.get(AlertRule, incident.rule_id)
        assert rule is not None  # incidents go with their rule (ON DELETE CASCADE)
        url, body = rule.webhook_url, alerts.webhook_payload(rule, incident, event)
    if not url:
        return {"skipped": "the rule has no webhook any more"}
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header(alerts.EVENT_HEADER, event)
    request.add_header(alerts.DELIVERY_HEADER, f"{incident_id}:{event}")
    secret = get_settings().alert_webhook_secret
    if secret:
        request.add_header(alerts.SIGNATURE_HEADER, alerts.signature(secret, body))
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            return {"status": response.status}
    except urllib.error.HTTPError as exc:
        if exc.code in PERMANENT_STATUSES:
            raise PermanentError(f"webhook {url} answered {exc.code}") from None
        raise ConnectionError(f"webhook {url} answered {exc.code}") from None
