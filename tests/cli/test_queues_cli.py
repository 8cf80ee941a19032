"""`hiring-jobs queues`: list queues with their state, and pause, resume and limit them."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.cli import main
from hiring_jobs.models import AuditLogEntry, QueueSetting
from tests.support.jobs import live_worker
from tests.web.helpers import defer_jobs


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def listed() -> dict[str, dict[str, Any]]:
    result = invoke("queues", "--json")
    assert result.exit_code == 0, result.output
    return {queue["name"]: queue for queue in json.loads(result.stdout)["queues"]}


def test_queues_lists_every_queue_with_its_state_and_counts(
    session_factory: sessionmaker[Session],
) -> None:
    defer_jobs(session_factory, "tests.echo", [{"value": 1}, {"value": 2}])
    found = listed()
    assert {"email", "resume", "default"} <= set(found)
    assert found["default"]["waiting"] == 2 and found["default"]["running"] == 0
    assert found["default"]["paused"] is False and found["default"]["limit"] is None
    assert found["default"]["workers"] == [], "no worker runs in this test"
    plain = invoke("queues")
    assert plain.exit_code == 0
    assert plain.stdout.splitlines()[0].split()[:6] == [
        "QUEUE", "STATE", "LIMIT", "WAITING", "RUNNING", "SERVING",
    ]  # fmt: skip


def test_pause_limit_and_resume_are_stored_audited_and_listed(
    session_factory: sessionmaker[Session],
) -> None:
    assert invoke("queues", "pause", "email", "--by", "ops").stdout == "queue email is paused\n"
    assert invoke("queues", "limit", "email", "3", "--by", "ops").exit_code == 0
    assert listed()["email"] | {"workers": []} == listed()["email"]
    assert (listed()["email"]["paused"], listed()["email"]["limit"]) == (True, 3)
    assert invoke("queues", "resume", "email", "--by", "ops").exit_code == 0
    assert invoke("queues", "limit", "email", "default", "--by", "ops").exit_code == 0
    assert (listed()["email"]["paused"], listed()["email"]["limit"]) == (False, None)
    with session_factory() as session:
        actions = session.scalars(select(AuditLogEntry.action).order_by(AuditLogEntry.id)).all()
        assert actions == ["queue.pause", "queue.limit", "queue.resume", "queue.limit"]
        assert session.scalar(select(QueueSetting.updated_by)) == "ops"


def test_bad_input_is_a_one_line_error_that_changes_nothing(
    session_factory: sessionmaker[Session],
) -> None:
    unknown = invoke("queues", "pause", "no-such-queue")
    assert unknown.exit_code == 1 and "unknown queue 'no-such-queue'" in unknown.output
    assert "Traceback" not in unknown.output
    bad_slots = invoke("queues", "limit", "email", "lots")
    assert bad_slots.exit_code == 2 and "whole number" in bad_slots.output
    gone = invoke("queues", "resume", "email", "--worker", "host-1-0")
    assert gone.exit_code == 1 and "no live worker process named 'host-1-0'" in gone.output
    with session_factory() as session:
        assert session.scalar(text("SELECT count(*) FROM queue_settings")) == 0
        assert (
            session.scalar(text("SELECT count(*) FROM audit_log WHERE action LIKE 'queue.%'")) == 0
        )


def test_queues_lists_the_live_workers_serving_each_queue_with_their_slots_now(
    database_url: str, session_factory: sessionmaker[Session]
) -> None:
    live_worker(database_url, "default=3,*=2", "host-7-0")
    live_worker(database_url, "resume=1", "host-8-0")
    found = listed()
    [default] = found["default"]["workers"]
    assert (default["worker_name"], default["slots"], default["bucket"]) == (
        "host-7-0",
        3,
        "default",
    )
    [email] = found["email"]["workers"]
    assert (email["worker_name"], email["slots"], email["bucket"]) == ("host-7-0", 2, "*")
    assert [w["worker_name"] for w in found["resume"]["workers"]] == ["host-7-0", "host-8-0"]
    assert found["resume"]["serving"] == 2
    assert "host-7-0=3" in invoke("queues").stdout
