"""The jobs pages and API: filters, keyset pages, capped counts, detail, actions, bulk."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from psycopg.types.json import Jsonb
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import AuditLogEntry, JobAttempt
from tests.support.factories import make_user
from tests.support.jobs import jobs
from tests.web.helpers import (
    defer_jobs,
    failed_job,
    post,
    post_json,
    run_worker_in_thread,
)
from web.queries import jobs as job_queries
from web.queries.tables import jobs as jobs_table

XSS = "<script>alert(1)</script>"


def listed_ids(response_data: bytes) -> list[int]:
    return [int(found) for found in re.findall(rb'href="/admin/jobs/(\d+)"', response_data)]


def records(factory: sessionmaker[Session], count: int, **extra: object) -> list[int]:
    kwargs = [{"user_id": n, "message": f"m{n}", **extra} for n in range(count)]
    return defer_jobs(factory, "tests.record", kwargs)


def test_the_list_shows_newest_first_in_keyset_pages(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    ids = records(session_factory, 120)
    first = operator.get("/admin/jobs")
    assert first.status_code == 200
    assert listed_ids(first.data) == ids[::-1][:50]
    assert f"before={ids[70]}".encode() in first.data
    second = operator.get(f"/admin/jobs?before={ids[70]}")
    assert listed_ids(second.data) == ids[::-1][50:100]
    back = operator.get(f"/admin/jobs?after={ids[69]}")
    assert listed_ids(back.data) == ids[::-1][:50]


def test_the_api_pages_the_same_way(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    ids = records(session_factory, 7)
    body = operator.get("/api/jobs?limit=3").get_json()
    assert [job["id"] for job in body["jobs"]] == ids[::-1][:3]
    assert body["count"] == {"value": 7, "capped": False, "display": "7"}
    after = operator.get(f"/api/jobs?limit=3&before={body['older']['before']}").get_json()
    assert [job["id"] for job in after["jobs"]] == ids[::-1][3:6]


def test_filters_by_status_queue_task_lock_and_arguments(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    plain = records(session_factory, 3)
    [about_123] = defer_jobs(
        session_factory, "tests.record", [{"user_id": 5, "message": "x", "application_id": 123}]
    )
    [about_124] = defer_jobs(
        session_factory, "tests.record", [{"user_id": 5, "message": "x", "application_id": 124}]
    )
    with session_factory() as session:
        session.execute(
            text("UPDATE procrastinate_jobs SET status = 'cancelled', lock = 'L1' WHERE id = :id"),
            {"id": plain[0]},
        )
        session.commit()

    def ids(query: str) -> list[int]:
        return [job["id"] for job in operator.get(f"/api/jobs?{query}").get_json()["jobs"]]

    assert ids("args=application_id%3D123") == [about_123]
    assert ids("args=%7B%22application_id%22%3A+124%7D") == [about_124]
    assert ids("status=cancelled") == [plain[0]]
    assert ids("lock=L1") == [plain[0]]
    assert ids("queue=default&task=tests.record&status=todo") == sorted(
        [*plain[1:], about_123, about_124], reverse=True
    )
    assert ids("task=nothing.like.this") == []
    page = operator.get("/admin/jobs?args=application_id%3D123")
    assert listed_ids(page.data) == [about_123]


def test_the_task_filter_takes_part_of_a_name_or_an_exact_name(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    [echoed] = defer_jobs(session_factory, "tests.echo", [{"value": 1}])
    [recorded] = records(session_factory, 1)
    [unlock] = defer_jobs(session_factory, "achievements.unlock", [{"user_id": 1, "code": "x"}])
    [stats] = defer_jobs(session_factory, "achievements.generate_stats", [{}])

    def ids(task: str) -> list[int]:
        body = operator.get("/api/jobs", query_string={"task": task}).get_json()
        return [job["id"] for job in body["jobs"]]

    assert ids("ACHIEVEMENT") == [stats, unlock]
    assert ids("tests.") == [recorded, echoed]
    assert ids("achievements.unlock") == [unlock]
    assert ids("nothing.like.this") == []


def test_search_finds_text_in_errors_as_a_bound_parameter(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    refused = failed_job(session_factory, "SMTP 550 mailbox unavailable")
    failed_job(session_factory, "100% of the disk is used")

    def ids(search: str) -> list[int]:
        body = operator.get("/api/jobs", query_string={"search": search}).get_json()
        return [job["id"] for job in body["jobs"]]

    assert ids("smtp 550") == [refused]
    assert len(ids("runtimeerror")) == 2  # the exception type counts too
    assert ids("0% of") != [] and ids("_") == [] and ids("%' OR '1'='1") == []
    page = operator.get("/admin/jobs?search=mailbox")
    assert listed_ids(page.data) == [refused]


def test_housekeeping_jobs_are_hidden_until_asked_for_or_named(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    [mine] = records(session_factory, 1)
    [rescue] = defer_jobs(session_factory, "queue.rescue_stalled_jobs", [{"timestamp": 1}])

    def toggle(page: bytes, label: str) -> str:
        found = re.search(rf'href="([^"]+)"[^>]*>{label} housekeeping jobs<', page.decode())
        assert found, f"no {label} link"
        return found.group(1).replace("&amp;", "&")

    hidden = operator.get("/admin/jobs?status=todo").data
    assert listed_ids(hidden) == [mine]
    shown = operator.get(toggle(hidden, "Show")).data
    assert listed_ids(shown) == [rescue, mine]
    assert toggle(shown, "Hide") == "/admin/jobs?status=todo"
    named = operator.get("/api/jobs?task=rescue").get_json()["jobs"]
    assert [job["id"] for job in named] == [rescue]


def test_the_list_shows_the_latest_attempts_start_finish_runtime_and_worker(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    failed = failed_job(session_factory, "relay down")
    [job] = operator.get("/api/jobs").get_json()["jobs"]
    assert job["id"] == failed and job["last_error"] == "relay down"
    assert job["started_at"] <= job["finished_at"] and job["runtime_ms"] > 0
    assert job["worker_name"] and job["hostname"]
    page = operator.get("/admin/jobs").data.decode()
    for header in ("Started / finished", "Runtime", "Worker"):
        assert f">{header}</th>" in page
    assert job["worker_name"] in page


def test_date_inputs_are_labelled_and_kept_in_utc(operator: FlaskClient) -> None:
    page = operator.get("/admin/jobs?since=2026-11-21T12:30%2B02:00").data.decode()
    assert "Deferred from (UTC)" in page and "to (UTC)" in page
    assert 'name="since" value="2026-11-21T10:30"' in page  # 12:30 at +02:00 is 10:30 UTC


def test_an_argument_search_is_a_bound_parameter_not_sql(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    records(session_factory, 2)
    sneaky = "x=1' OR '1'='1"
    response = operator.get("/api/jobs", query_string={"args": sneaky})
    assert response.status_code == 200
    assert response.get_json()["jobs"] == []


def test_an_argument_search_can_use_the_index_over_finished_jobs(
    session_factory: sessionmaker[Session],
) -> None:
    """The GIN index on arguments holds finished jobs only (migration 0019): a search the
    planner cannot prove is about finished jobs never uses it, and walked every job at
    1,000,000 jobs (650 ms a page). Scans without an index are off here, so the plan
    shows the index the search can use."""
    [job_id] = defer_jobs(session_factory, "tests.record", [{"user_id": 5, "application_id": 7}])
    search = job_queries.JobFilter(args="application_id=7")
    query = select(jobs_table.c.id).where(*search.conditions())
    with session_factory() as session:
        session.execute(text("SET LOCAL enable_seqscan = off"))
        session.execute(text("SET LOCAL enable_indexscan = off"))
        compiled = query.compile(session.get_bind())
        params = {k: Jsonb(v) if isinstance(v, dict) else v for k, v in compiled.params.items()}
        explained = session.connection().exec_driver_sql(f"EXPLAIN {compiled}", params)
        plan = [row[0] for row in explained]
        assert session.execute(query).scalars().all() == [job_id]
    assert any("hj_jobs_args_finished" in line for line in plan), "\n".join(plan)


def test_the_time_range_filters_by_defer_time(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    old, new = records(session_factory, 2)
    with session_factory() as session:
        session.execute(
            text(
                "UPDATE procrastinate_events SET at = '2020-01-01T10:00:00Z'"
                " WHERE job_id = :id AND type = 'deferred'"
            ),
            {"id": old},
        )
        session.commit()
    body = operator.get("/api/jobs?since=2020-01-01T09:00&until=2020-01-01T11:00").get_json()
    assert [job["id"] for job in body["jobs"]] == [old]
    assert [
        job["id"] for job in operator.get("/api/jobs?since=2021-01-01T00:00").get_json()["jobs"]
    ] == [new]


@pytest.mark.parametrize(
    "query", ["status=exploded", "since=yesterday", "args=no-equals-sign", "args=%7Bbroken"]
)
def test_a_bad_filter_is_a_400_with_the_reason(operator: FlaskClient, query: str) -> None:
    assert operator.get(f"/api/jobs?{query}").status_code == 400
    page = operator.get(f"/admin/jobs?{query}")
    assert page.status_code == 400
    assert b'class="flash error"' in page.data


def test_counts_are_capped(
    operator: FlaskClient, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job_queries, "COUNT_CAP", 5)
    records(session_factory, 8)
    assert b"<strong>5+</strong> jobs" in operator.get("/admin/jobs").data
    count = operator.get("/api/jobs").get_json()["count"]
    assert count == {"value": 5, "capped": True, "display": "5+"}


def test_job_arguments_and_errors_are_escaped(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    job_id = failed_job(session_factory, XSS)
    for url in (
        "/admin/jobs",
        f"/admin/jobs/{job_id}",
        "/admin/dead-letters",
        "/admin/dead-letters/jobs",
        f"/admin/dead-letters/{job_id}",
    ):
        body = operator.get(url).data
        assert XSS.encode() not in body, url
        assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in body or b"\\u003cscript" in body, url


def test_the_detail_page_tells_the_whole_story(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    job_id = failed_job(session_factory, "the parser broke")
    page = operator.get(f"/admin/jobs/{job_id}").data.decode()
    for expected in (
        "deferred",
        "started",
        "failed",
        "Attempt 1",
        "RuntimeError",
        "the parser broke",
        "Traceback",
    ):
        assert expected in page
    body = operator.get(f"/api/jobs/{job_id}").get_json()
    assert [event["type"] for event in body["events"]] == ["deferred", "started", "failed"]
    [attempt] = body["attempts"]
    assert attempt["outcome"] == "failed"
    assert "RuntimeError: the parser broke" in attempt["traceback"]
    assert operator.get("/admin/jobs/999999").status_code == 404


def test_retry_a_failed_job_then_it_succeeds_and_the_action_is_audited(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        user_id = make_user(session).id
        session.commit()
    [job_id] = defer_jobs(session_factory, "tests.record", [{"user_id": user_id, "message": "x"}])
    with session_factory() as session:
        session.execute(
            text("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = :id"), {"id": job_id}
        )
        session.execute(
            text("UPDATE procrastinate_jobs SET status = 'failed' WHERE id = :id"), {"id": job_id}
        )
        session.commit()
    response = post(operator, f"/admin/jobs/{job_id}/retry")
    assert response.status_code == 302
    assert b"waiting to run again" in operator.get(response.headers["Location"]).data
    run_worker_in_thread()
    assert operator.get(f"/api/jobs/{job_id}/status").get_json()["state"] == "SUCCESS"
    with session_factory() as session:
        entry = session.scalars(
            select(AuditLogEntry).where(AuditLogEntry.action == "job.retry")
        ).one()
    assert (entry.actor, entry.target, entry.job_count) == ("admin", f"job {job_id}", 1)


def test_attempts_are_numbered_one_per_run_across_automatic_and_manual_retries(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    """A run, a manual retry, another run: the job counts 2 attempts and lists 1 and 2."""
    job_id = failed_job(session_factory, "first run")
    assert post(operator, f"/admin/jobs/{job_id}/retry").status_code == 302
    run_worker_in_thread()  # tests.fail fails again
    body = operator.get(f"/api/jobs/{job_id}").get_json()
    assert [a["attempt"] for a in body["attempts"]] == [1, 2]
    with session_factory() as session:
        counted = session.scalar(
            text("SELECT attempts FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}
        )
    assert counted == 2
    page = operator.get(f"/admin/jobs/{job_id}").data.decode()
    assert re.search(r"<dt>Attempts</dt><dd>2</dd>", page)
    assert "Attempt 1" in page and "Attempt 2" in page and "Attempt 3" not in page


def test_bulk_retry_does_not_count_the_failed_run_twice(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    job_id = failed_job(session_factory, "bulk")
    post(
        operator,
        "/admin/jobs/bulk",
        {"action": "retry", "status": "failed", "scope": "filter", "confirm": "yes"},
    )
    run_worker_in_thread()
    body = operator.get(f"/api/jobs/{job_id}").get_json()
    assert [a["attempt"] for a in body["attempts"]] == [1, 2]


def test_actions_refuse_jobs_in_the_wrong_state(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    [job_id] = defer_jobs(session_factory, "tests.record", [{"user_id": 1, "message": "x"}])
    response = post_json(operator, f"/api/jobs/{job_id}/retry")
    assert response.status_code == 409
    assert "only failed jobs" in response.get_json()["error"]
    assert post_json(operator, f"/api/jobs/{job_id}/cancel").get_json()["state"] == "CANCELLED"
    assert post_json(operator, f"/api/jobs/{job_id}/cancel").status_code == 409
    with session_factory() as session:
        actions = session.scalars(
            select(AuditLogEntry.action)
            .where(AuditLogEntry.action != "account.bootstrap")
            .order_by(AuditLogEntry.id)
        ).all()
    assert actions == ["auth.login", "job.cancel"]


def test_abort_asks_a_running_job_to_stop(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    [job_id] = defer_jobs(session_factory, "tests.record", [{"user_id": 1, "message": "x"}])
    with session_factory() as session:
        session.execute(
            text("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = :id"), {"id": job_id}
        )
        session.commit()
    assert post(operator, f"/admin/jobs/{job_id}/abort").status_code == 302
    with session_factory() as session:
        [job] = [row for row in jobs(session) if row["id"] == job_id]
        aborted = session.scalar(
            text("SELECT abort_requested FROM procrastinate_jobs WHERE id = :id"), {"id": job_id}
        )
    assert job["status"] == "doing" and aborted is True
    assert b"abort requested" in operator.get(f"/admin/jobs/{job_id}").data


def test_bulk_preview_counts_then_the_confirmed_action_applies(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    waiting = records(session_factory, 4)
    other = defer_jobs(session_factory, "tests.defer_from_sync_task", [{"user_id": 1}])
    preview = post(
        operator,
        "/admin/jobs/bulk",
        {"action": "cancel", "task": "tests.record", "scope": "filter"},
    )
    assert preview.status_code == 200
    assert b"<strong data-preview-count>4</strong>" in preview.data
    with session_factory() as session:
        assert {row["status"] for row in jobs(session)} == {"todo"}  # a preview changes nothing
    done = post(
        operator, "/admin/jobs/bulk", {"action": "cancel", "task": "tests.record", "confirm": "yes"}
    )
    assert done.status_code == 302
    with session_factory() as session:
        statuses = {row["id"]: row["status"] for row in jobs(session)}
        entry = session.scalars(
            select(AuditLogEntry).where(AuditLogEntry.action.startswith("jobs."))
        ).one()
    assert [statuses[i] for i in waiting] == ["cancelled"] * 4
    assert statuses[other[0]] == "todo"
    assert (entry.action, entry.job_count) == ("jobs.bulk_cancel", 4)


def test_bulk_on_selected_jobs_and_delete_removes_their_attempts(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    first = failed_job(session_factory, "one")
    second = failed_job(session_factory, "two")
    body = post_json(operator, "/api/jobs/bulk", {"action": "delete", "ids": [first]})
    assert body.get_json()["preview"]["count"]["value"] == 1 and body.get_json()["done"] is False
    body = post_json(
        operator, "/api/jobs/bulk", {"action": "delete", "ids": [first], "confirm": True}
    )
    assert body.get_json()["touched"] == 1
    with session_factory() as session:
        assert [row["id"] for row in jobs(session)] == [second]
        assert session.scalars(select(JobAttempt.job_id)).all() == [second]


def test_bulk_retry_previews_only_failed_jobs(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    failed_job(session_factory, "boom")
    records(session_factory, 2)
    preview = post_json(
        operator, "/api/jobs/bulk", {"action": "retry", "filter": {"queue": "default"}}
    )
    assert preview.get_json()["preview"]["count"]["value"] == 1
    done = post_json(
        operator,
        "/api/jobs/bulk",
        {"action": "retry", "filter": {"queue": "default"}, "confirm": True},
    )
    assert done.get_json()["touched"] == 1


def test_a_bulk_action_needs_a_scope(operator: FlaskClient) -> None:
    response = post_json(operator, "/api/jobs/bulk", {"action": "delete"})
    assert response.status_code == 400
    assert (
        post_json(operator, "/api/jobs/bulk", {"action": "explode", "ids": [1]}).status_code == 400
    )
