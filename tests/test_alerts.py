"""Alert rules kept in PostgreSQL: each kind holds when it should, an incident is said once
(email through a real SMTP server, a signed webhook to a real HTTP server, retried) and its
recovery once more."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs import alerts
from hiring_jobs.models import AlertIncident, AlertKind, AlertRule, AuditLogEntry
from hiring_jobs.settings import get_settings
from tests.services.test_email import Inbox, running_smtp, use_smtp
from tests.support.jobs import run_worker_until_idle
from tests.support.processes import wait_for
from tests.web.helpers import defer_jobs, failed_job

SECRET = "webhook-shared-secret"


class Receiver(BaseHTTPRequestHandler):
    """Records each POST; answers the next scripted status (then 200)."""

    calls: list[dict[str, Any]]
    script: list[int]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.calls.append({"headers": dict(self.headers), "body": body})
        status = self.script.pop(0) if self.script else 200
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[type[Receiver]]:
    handler = type("ScriptedReceiver", (Receiver,), {"calls": [], "script": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_port}/hooks/alerts"  # type: ignore[attr-defined]
    yield handler
    server.shutdown()


@pytest.fixture
def inbox(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    handler = Inbox()
    monkeypatch.setenv("HIRING_JOBS_ALERT_WEBHOOK_SECRET", SECRET)
    with running_smtp(handler) as server:
        use_smtp(monkeypatch, server.port)
        yield handler
    get_settings.cache_clear()


def _rule(factory: sessionmaker[Session], kind: AlertKind, params: str = "", **kw: str) -> int:
    with factory() as session, session.begin():
        return alerts.add_rule(
            session,
            name=kw.get("name", kind.value),
            kind=kind.value,
            params=params,
            email_to=kw.get("email_to", ""),
            webhook_url=kw.get("webhook_url", ""),
            by="tester",
        ).id


def _evaluate(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory() as session, session.begin():
        return alerts.evaluate(session)


def _incidents(factory: sessionmaker[Session]) -> list[AlertIncident]:
    with factory() as session:
        return list(session.scalars(select(AlertIncident).order_by(AlertIncident.id)))


def _deliver(factory: sessionmaker[Session]) -> None:
    """Run the email and webhook jobs (not the jobs the rules watch, on `default`)."""
    run_worker_until_idle(queues=["email", "maintenance"])


def _webhook_jobs_due_now(factory: sessionmaker[Session]) -> None:
    with factory() as session, session.begin():
        session.execute(
            text(
                "UPDATE procrastinate_jobs SET scheduled_at = now()"
                " WHERE task_name = :task AND status = 'todo'"
            ),
            {"task": alerts.WEBHOOK_TASK},
        )


def test_an_incident_is_said_once_by_email_and_signed_webhook_then_its_recovery(
    inbox: Inbox, webhook: type[Receiver], session_factory: sessionmaker[Session]
) -> None:
    _rule(
        session_factory,
        AlertKind.QUEUE_UNSERVED,
        "queue=default",
        email_to="ops@example.com, lead@example.com",
        webhook_url=webhook.url,  # type: ignore[attr-defined]
    )
    [waiting] = defer_jobs(session_factory, "tests.echo", [{"value": 1}])
    assert _evaluate(session_factory) == {"opened": 1, "resolved": 0}
    assert _evaluate(session_factory) == {"opened": 0, "resolved": 0}  # still the same one
    _deliver(session_factory)
    _deliver(session_factory)
    [incident] = _incidents(session_factory)
    assert incident.subject == "default" and incident.resolved_at is None
    assert incident.summary == "queue default: 1 ready jobs and no live worker"
    assert sorted(m["To"] for m in inbox.messages) == ["lead@example.com", "ops@example.com"]
    subjects = [m["Subject"].strip() for m in inbox.messages]  # a long one is folded
    assert all(s.startswith("[alert] queue_unserved: queue default") for s in subjects), subjects
    body_text = inbox.messages[0].get_body(("plain",)).get_content()
    assert f"/admin/alerts#incident-{incident.id}" in body_text
    [call] = webhook.calls
    body = json.loads(call["body"])
    assert (body["event"], body["subject"], body["incident_id"]) == (
        "opened",
        "default",
        incident.id,
    )
    expected = "sha256=" + hmac.new(SECRET.encode(), call["body"], hashlib.sha256).hexdigest()
    assert call["headers"]["X-Hiring-Jobs-Signature"] == expected
    assert call["headers"]["X-Hiring-Jobs-Event"] == "opened"

    with session_factory() as session, session.begin():
        session.execute(text("DELETE FROM procrastinate_jobs WHERE id = :id"), {"id": waiting})
    assert _evaluate(session_factory) == {"opened": 0, "resolved": 1}
    assert _evaluate(session_factory) == {"opened": 0, "resolved": 0}
    _deliver(session_factory)
    [incident] = _incidents(session_factory)
    assert incident.resolved_at is not None
    recovered = [m for m in inbox.messages if m["Subject"].strip().startswith("[recovered]")]
    assert len(recovered) == 2 and len(inbox.messages) == 4
    assert [json.loads(c["body"])["event"] for c in webhook.calls] == ["opened", "resolved"]


def test_a_failing_webhook_is_retried_with_the_same_delivery_and_signature(
    inbox: Inbox, webhook: type[Receiver], session_factory: sessionmaker[Session]
) -> None:
    webhook.script = [503, 500]
    _rule(session_factory, AlertKind.OLDEST_WAITING, "seconds=0", webhook_url=webhook.url)  # type: ignore[attr-defined]
    defer_jobs(session_factory, "tests.echo", [{"value": 1}])
    assert _evaluate(session_factory)["opened"] == 1
    for _ in range(3):
        _deliver(session_factory)
        _webhook_jobs_due_now(session_factory)
    assert [c["headers"]["X-Hiring-Jobs-Delivery"] for c in webhook.calls] == [
        f"{_incidents(session_factory)[0].id}:opened"
    ] * 3
    assert len({c["headers"]["X-Hiring-Jobs-Signature"] for c in webhook.calls}) == 1
    with session_factory() as session:
        statuses = session.scalars(
            text("SELECT status FROM procrastinate_jobs WHERE task_name = :t"),
            {"t": alerts.WEBHOOK_TASK},
        ).all()
    assert statuses == ["succeeded"]


def test_a_wrong_webhook_url_fails_for_good_without_retries(
    inbox: Inbox, webhook: type[Receiver], session_factory: sessionmaker[Session]
) -> None:
    webhook.script = [404]
    _rule(session_factory, AlertKind.OLDEST_WAITING, "seconds=0", webhook_url=webhook.url)  # type: ignore[attr-defined]
    defer_jobs(session_factory, "tests.echo", [{"value": 1}])
    _evaluate(session_factory)
    _deliver(session_factory)
    with session_factory() as session:
        status = session.scalar(
            text("SELECT status FROM procrastinate_jobs WHERE task_name = :t"),
            {"t": alerts.WEBHOOK_TASK},
        )
    assert status == "failed" and len(webhook.calls) == 1


def test_a_task_failure_rate_over_the_window_opens_one_incident_per_task(
    session_factory: sessionmaker[Session],
) -> None:
    _rule(session_factory, AlertKind.TASK_FAILURE_RATE, "rate=0.5, min_runs=2, window_minutes=5")
    failed_job(session_factory, "one")
    assert _evaluate(session_factory)["opened"] == 0  # one run is below min_runs
    failed_job(session_factory, "two")
    assert _evaluate(session_factory)["opened"] == 1
    [incident] = _incidents(session_factory)
    assert incident.subject == "tests.fail"
    assert "2 of 2 runs failed in the last 5 min" in incident.summary


def test_stalled_jobs_dead_letters_and_waiting_jobs_each_hold_when_they_should(
    session_factory: sessionmaker[Session],
) -> None:
    _rule(session_factory, AlertKind.STALLED_JOBS)
    _rule(session_factory, AlertKind.DEAD_LETTERS_GROWING, "min_new=2")
    _rule(session_factory, AlertKind.OLDEST_WAITING, "seconds=3600")
    assert _evaluate(session_factory)["opened"] == 0
    failed_job(session_factory, "a")
    [stalled] = defer_jobs(session_factory, "tests.echo", [{"value": 1}])
    with session_factory() as session, session.begin():
        session.execute(
            text("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = :id"), {"id": stalled}
        )
    assert _evaluate(session_factory)["opened"] == 1  # stalled only: 1 dead letter, none waits
    failed_job(session_factory, "b")
    [waiting] = defer_jobs(session_factory, "tests.echo", [{"value": 2}])
    with session_factory() as session, session.begin():
        session.execute(
            text(
                "UPDATE procrastinate_events SET at = now() - interval '2 hours'"
                " WHERE job_id = :id AND type = 'deferred'"
            ),
            {"id": waiting},
        )
    assert _evaluate(session_factory)["opened"] == 2
    summaries = sorted(i.summary for i in _incidents(session_factory))
    assert summaries[0] == "1 running jobs belong to workers that stopped heartbeating"
    assert summaries[1] == "2 new dead letters in the last 60 min"
    assert summaries[2].startswith("queue default: the oldest ready job has waited 7")


def test_a_missed_cron_tick_opens_an_incident_per_cron_task(
    session_factory: sessionmaker[Session],
) -> None:
    _rule(session_factory, AlertKind.CRON_MISSED)
    assert _evaluate(session_factory)["opened"] == 0  # a fresh system has missed nothing
    with session_factory() as session, session.begin():
        session.execute(
            text(
                "INSERT INTO job_attempts (job_id, attempt, task_name, queue, outcome, started_at)"
                " VALUES (1, 1, 'x', 'default', 'succeeded', :at)"
            ),
            {"at": datetime.now(UTC) - timedelta(days=2)},
        )
    opened = _evaluate(session_factory)["opened"]
    subjects = {i.subject for i in _incidents(session_factory)}
    assert opened == len(subjects) > 1
    assert "maintenance.purge_job_history:daily" in subjects


def test_bad_rules_are_refused_in_words(session_factory: sessionmaker[Session]) -> None:
    for kind, params, url, message in (
        ("nonsense", "", "", "kind must be one of"),
        ("task_failure_rate", "colour=red", "", "parameters of task_failure_rate are"),
        ("task_failure_rate", "rate=lots", "", "rate must be a number"),
        ("oldest_waiting", "", "ftp://x", "must start with http"),
    ):
        with session_factory() as session, pytest.raises(alerts.AlertError, match=message):
            alerts.add_rule(
                session, name="r", kind=kind, params=params, email_to="", webhook_url=url, by="t"
            )


def test_disabling_resolves_quietly_and_acknowledging_is_audited(
    session_factory: sessionmaker[Session],
) -> None:
    rule_id = _rule(session_factory, AlertKind.OLDEST_WAITING, "seconds=0")
    defer_jobs(session_factory, "tests.echo", [{"value": 1}])
    _evaluate(session_factory)
    [incident] = _incidents(session_factory)
    with session_factory() as session, session.begin():
        alerts.acknowledge(session, incident.id, by="ada")
    with session_factory() as session, session.begin(), pytest.raises(alerts.AlertError):
        alerts.acknowledge(session, incident.id, by="bob")
    with session_factory() as session, session.begin():
        alerts.set_enabled(session, rule_id, False, by="ada")
    assert _evaluate(session_factory) == {"opened": 0, "resolved": 0}
    [incident] = _incidents(session_factory)
    assert incident.acknowledged_by == "ada" and incident.resolved_at is not None
    with session_factory() as session:
        actions = session.scalars(
            select(AuditLogEntry.action)
            .where(AuditLogEntry.action.startswith("alert."))
            .order_by(AuditLogEntry.id)
        ).all()
        assert session.scalar(select(func.count()).select_from(AlertRule)) == 1
    assert actions == ["alert.rule_add", "alert.acknowledge", "alert.rule_disable"]


def test_a_rule_whose_check_fails_does_not_stop_the_others(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    _rule(session_factory, AlertKind.CRON_MISSED)
    _rule(session_factory, AlertKind.OLDEST_WAITING, "seconds=0")
    defer_jobs(session_factory, "tests.echo", [{"value": 1}])

    def broken(session: Session, params: object) -> list[alerts.Finding]:
        session.execute(text("SELECT 1 / 0"))  # fails inside the database
        return []

    monkeypatch.setitem(alerts.CHECKS, AlertKind.CRON_MISSED, broken)  # type: ignore[index]
    assert _evaluate(session_factory) == {"opened": 1, "resolved": 0}
    [incident] = _incidents(session_factory)
    assert incident.subject == "default"


def test_two_evaluations_at_once_say_an_incident_once(
    session_factory: sessionmaker[Session],
) -> None:
    """The second evaluation waits on the first one's open incident (the partial unique
    index) and, once that commits, finds it open: no second incident, no second email."""
    _rule(session_factory, AlertKind.OLDEST_WAITING, "seconds=0", email_to="ops@example.com")
    defer_jobs(session_factory, "tests.echo", [{"value": 1}])
    first = session_factory()
    first.begin()
    assert alerts.evaluate(first)["opened"] == 1  # not committed yet
    second: dict[str, Any] = {}

    def evaluate_meanwhile() -> None:
        with session_factory() as session, session.begin():
            second.update(alerts.evaluate(session))

    thread = threading.Thread(target=evaluate_meanwhile)
    thread.start()
    wait_for(lambda: _waiting_on_a_lock(session_factory), timeout=60, what="the second to wait")
    first.commit()
    first.close()
    thread.join(timeout=60)
    assert second == {"opened": 0, "resolved": 0}
    assert len(_incidents(session_factory)) == 1
    with session_factory() as session:
        emails = session.scalar(
            text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'email.send'")
        )
    assert emails == 1


def _waiting_on_a_lock(factory: sessionmaker[Session]) -> bool:
    with factory() as session:
        return bool(
            session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            )
        )
