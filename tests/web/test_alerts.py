"""The alerts page: rules and incidents listed for every login; adding, disabling,
deleting and acknowledging for operators only, with CSRF and an audit row."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs import alerts
from hiring_jobs.models import AlertIncident, AlertRule, AuditLogEntry
from tests.web.helpers import defer_jobs, post, post_json

XSS = "<script>alert(1)</script>"


def _add(client: FlaskClient, **form: str) -> str:
    values = {
        "name": "slow queues",
        "kind": "oldest_waiting",
        "params": "seconds=0",
        "email_to": "ops@example.com",
        "webhook_url": "",
        **form,
    }
    response = post(client, "/admin/alerts/rules", values)
    assert response.status_code == 302
    return client.get(response.headers["Location"]).data.decode()


def test_an_operator_adds_a_rule_it_opens_an_incident_and_is_acknowledged(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    page = _add(operator)
    assert "Alert rule slow queues added" in page and "seconds=0" in page
    defer_jobs(session_factory, "tests.echo", [{"value": 1}])
    with session_factory() as session, session.begin():
        alerts.evaluate(session)
    page = operator.get("/admin/alerts").data.decode()
    assert "queue default: the oldest ready job has waited" in page
    with session_factory() as session:
        incident = session.scalars(select(AlertIncident)).one()
    response = post(operator, f"/admin/alerts/incidents/{incident.id}/acknowledge")
    page = operator.get(response.headers["Location"]).data.decode()
    assert f"Incident {incident.id} acknowledged." in page
    again = post(operator, f"/admin/alerts/incidents/{incident.id}/acknowledge")
    assert "was acknowledged by admin" in operator.get(again.headers["Location"]).data.decode()
    with session_factory() as session:
        actions = session.scalars(
            select(AuditLogEntry.action)
            .where(AuditLogEntry.action.startswith("alert."))
            .order_by(AuditLogEntry.id)
        ).all()
    assert actions == ["alert.rule_add", "alert.acknowledge"]


def test_a_bad_rule_is_refused_with_the_reason_and_nothing_is_stored(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    page = _add(operator, params="seconds=soon")
    assert "seconds must be a whole number" in page
    page = _add(operator, kind="everything")
    assert "kind must be one of" in page
    with session_factory() as session:
        assert session.scalars(select(AlertRule)).all() == []


def test_disable_enable_and_delete(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    _add(operator)
    with session_factory() as session:
        rule_id = session.scalars(select(AlertRule.id)).one()
    for change, shown in (("disable", "disabled"), ("enable", "enabled")):
        response = post(operator, f"/admin/alerts/rules/{rule_id}/{change}")
        assert shown in operator.get(response.headers["Location"]).data.decode()
    post(operator, f"/admin/alerts/rules/{rule_id}/delete")
    with session_factory() as session:
        assert session.scalars(select(AlertRule)).all() == []
    response = post(operator, "/admin/alerts/rules/999/delete")
    assert "no alert rule 999" in operator.get(response.headers["Location"]).data.decode()


def test_a_viewer_sees_alerts_but_cannot_change_them(viewer: FlaskClient) -> None:
    page = viewer.get("/admin/alerts").data.decode()
    assert "Incidents" in page and "Add a rule" not in page
    assert (
        post(viewer, "/admin/alerts/rules", {"name": "x", "kind": "stalled_jobs"}).status_code
        == 403
    )


def test_changes_need_the_csrf_token_and_names_are_escaped(operator: FlaskClient) -> None:
    response = operator.post("/admin/alerts/rules", data={"name": "x", "kind": "stalled_jobs"})
    assert response.status_code in (400, 403)
    page = _add(operator, name=XSS)
    assert XSS not in page and "&lt;script&gt;" in page


def test_the_api_lists_alerts_and_acknowledges_with_clear_errors(
    operator: FlaskClient, viewer: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    _add(operator)
    defer_jobs(session_factory, "tests.echo", [{"value": 1}])
    with session_factory() as session, session.begin():
        alerts.evaluate(session)
    body = viewer.get("/api/alerts").get_json()
    [rule] = body["rules"]
    assert rule["kind"] == "oldest_waiting" and rule["params"] == {"queue": "", "seconds": 0}
    assert rule["email_to"] == ["ops@example.com"]
    [incident] = body["incidents"]
    assert incident["subject"] == "default" and incident["acknowledged_at"] is None
    url = f"/api/alerts/incidents/{incident['id']}/acknowledge"
    assert post_json(viewer, url).status_code == 403
    acknowledged = post_json(operator, url)
    assert acknowledged.status_code == 200 and acknowledged.get_json()["acknowledged_by"] == "admin"
    assert post_json(operator, url).status_code == 409
    assert post_json(operator, "/api/alerts/incidents/999/acknowledge").status_code == 404
