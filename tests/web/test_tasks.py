"""The tasks page: per-task run rate, failure rate and runtime over a window, drawn as
server-side SVG from the attempts table (what Flower's task charts gave)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from tests.support.factories import make_user
from tests.web.helpers import defer_jobs, failed_job, run_worker_in_thread
from web.queries import tasks as task_queries

_ATTEMPT = """
INSERT INTO job_attempts (job_id, attempt, task_name, queue, outcome, started_at,
                          finished_at, duration_ms, worker_name, hostname, pid)
VALUES (:job_id, 1, :task, 'default', :outcome, :started, :started, :ms, 'w-1', 'host', 1)
"""


def _attempts(factory: sessionmaker[Session], task: str, rows: list[tuple[datetime, str, float]]):
    with factory() as session:
        for index, (started, outcome, ms) in enumerate(rows):
            session.execute(
                text(_ATTEMPT),
                {
                    "job_id": 10_000 + index,
                    "task": task,
                    "outcome": outcome,
                    "started": started,
                    "ms": ms,
                },
            )
        session.commit()


def test_the_list_counts_real_runs_and_failures_per_task(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        user_id = make_user(session).id
        session.commit()
    defer_jobs(
        session_factory, "tests.record", [{"user_id": user_id, "message": str(i)} for i in range(3)]
    )
    run_worker_in_thread()
    failed_job(session_factory, "broken")
    page = operator.get("/admin/tasks").data.decode()
    record = page[page.index('href="/admin/tasks/tests.record?window=24h"') :]
    record = record[: record.index("</tr>")]
    cells = re.findall(r'<td class="num">([^<]*)</td>', record)
    assert cells[:4] == ["3", "0", "0.0%", "0"]  # runs, failed, failure rate, running
    fail = page[page.index('href="/admin/tasks/tests.fail?window=24h"') :]
    fail = fail[: fail.index("</tr>")]
    assert "100.0%" in fail and "status=failed" in fail
    assert '<svg class="sparkline"' in record and "3 runs, last 24 hours" in record


def test_percentiles_failure_rate_and_buckets_match_the_attempts(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    now = datetime.now(UTC)
    window = task_queries.WINDOWS["1h"]
    this_bucket = task_queries.bucket_starts(window, now)[-1]
    earlier = this_bucket - timedelta(minutes=30) + timedelta(seconds=1)
    durations = [10.0, 20.0, 30.0, 40.0, 1000.0]
    _attempts(
        session_factory,
        "tests.charted",
        [(this_bucket + timedelta(seconds=1), "succeeded", ms) for ms in durations[:4]]
        + [(earlier, "failed", durations[4])]
        + [(now - timedelta(hours=3), "failed", 5.0)],  # outside the last hour
    )
    with session_factory() as session:
        [row] = [
            r for r in task_queries.summary(session, window) if r["task_name"] == "tests.charted"
        ]
        buckets = task_queries.series(session, "tests.charted", window)
    assert (row["runs"], row["succeeded"], row["failed"]) == (5, 4, 1)
    assert row["failure_rate"] == pytest.approx(0.2)
    assert row["p50_ms"] == pytest.approx(30.0) and row["max_ms"] == 1000.0
    assert row["sparkline"][-1] == 4 and row["sparkline"][-7] == 1 and sum(row["sparkline"]) == 5
    assert len(buckets) == 12 and buckets[-1].succeeded == 4 and buckets[-7].failed == 1
    assert buckets[-1].p50_ms == pytest.approx(25.0)  # median of 10, 20, 30, 40

    page = operator.get("/admin/tasks/tests.charted?window=1h").data.decode()
    assert page.count("<svg") >= 2 and "<polyline" in page
    assert re.search(r"<title>\d\d:\d\d UTC: 4 succeeded, 0 failed</title>", page)
    assert re.search(r"<title>\d\d:\d\d UTC: p50 25 ms</title>", page)
    assert "Not registered in this version of the code" in page
    assert "w-1" in page  # the worker process that ran it


def test_a_registered_task_shows_its_declaration_even_before_it_ran(viewer: FlaskClient) -> None:
    page = viewer.get("/admin/tasks/tests.fail").data.decode()
    assert "Declaration" in page and "tests/support/tasks.py" in page
    assert "No run in the last 24 hours." in page


def test_bad_windows_and_unknown_tasks_are_4xx(operator: FlaskClient) -> None:
    response = operator.get("/admin/tasks?window=2y")
    assert response.status_code == 400 and b"window must be one of 1h, 24h, 7d" in response.data
    assert operator.get("/admin/tasks/no.such.task").status_code == 404


def test_the_tasks_pages_need_a_login(client: FlaskClient) -> None:
    for path in ("/admin/tasks", "/admin/tasks/tests.fail"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
