"""QueueJobManager: poison rows end at once, outcomes are fenced, leases expire.

Also the upgrade check of where we go around Procrastinate: the SQL functions we call
under our row locks still exist with the signatures we use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import psycopg
import pytest
from procrastinate import jobs, sql
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.app import JOB_STATE_SETTINGS, app, make_connector
from hiring_jobs.queue import manager as manager_module
from hiring_jobs.queue.defer import defer
from hiring_jobs.queue.manager import QueueJobManager
from hiring_jobs.sql import QUEUE
from tests.support import tasks
from tests.support.jobs import run_batching_worker_until_idle, run_worker_until_idle
from tests.support.reads import flush_counts, rows_read


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def _insert_raw(conn: psycopg.Connection, task_name: str, args_json: str) -> int:
    row = conn.execute(
        "INSERT INTO procrastinate_jobs (queue_name, task_name, args)"
        " VALUES ('default', %s, %s::jsonb) RETURNING id",
        (task_name, args_json),
    ).fetchone()
    assert row is not None
    return int(row[0])


POISON = [
    ("tests.echo", "[1, 2]", "job arguments must be a JSON object, got list"),
    ("tests.echo", '"s5"', "job arguments must be a JSON object, got str"),
    ("tests.echo", "42", "job arguments must be a JSON object, got int"),
    ("no.such_task", "{}", "no task named 'no.such_task' is registered"),
    ("", "{}", "the job has no task name"),
    ("tests.record", '{"user_id": "abc", "message": "m"}', "argument 'user_id' must be int"),
    ("tests.record", '{"user_id": 1}', "missing a required argument: 'message'"),
    ("tests.echo", '{"value": 1, "extra": 2}', "unexpected keyword argument 'extra'"),
]


@pytest.mark.parametrize("loop", ["ours", "procrastinate's"])
def test_poison_rows_fail_at_once_with_an_attempt_that_says_why(
    conn: psycopg.Connection, loop: str
) -> None:
    ids = [_insert_raw(conn, task, args) for task, args, _ in POISON]
    good = _insert_raw(conn, "tests.echo", '{"value": 7}')

    if loop == "ours":
        asyncio.run(run_batching_worker_until_idle(batch_size=8, concurrency=4))
    else:
        run_worker_until_idle(concurrency=4)

    for job_id, (_, _, reason) in zip(ids, POISON, strict=True):
        status, attempts = conn.execute(
            "SELECT j.status, array_agg(a.outcome || ': ' || a.error_message)"
            " FROM procrastinate_jobs j JOIN job_attempts a ON a.job_id = j.id"
            " WHERE j.id = %s GROUP BY 1",
            (job_id,),
        ).fetchone() or (None, None)
        assert status == "failed", (job_id, reason)
        assert len(attempts) == 1 and attempts[0].startswith("failed: "), attempts
        assert reason in attempts[0]
    assert conn.execute(
        "SELECT status FROM procrastinate_jobs WHERE id = %s", (good,)
    ).fetchone() == ("succeeded",)


def test_a_database_data_error_is_permanent(session_factory: sessionmaker[Session]) -> None:
    from hiring_jobs.queue.retry import DEFAULT

    with session_factory() as session, session.begin():
        job_id = defer(session, tasks.echo, value=1)
    job = jobs.Job(
        id=job_id, queue="default", lock=None, queueing_lock=None, task_name="tests.echo"
    )
    import psycopg.errors
    import sqlalchemy.exc

    for error in (
        psycopg.errors.InvalidTextRepresentation("invalid input syntax for type bigint"),
        sqlalchemy.exc.DataError("SELECT", {}, psycopg.errors.NumericValueOutOfRange("big")),
    ):
        assert DEFAULT.get_retry_decision(exception=error, job=job) is None


def _register_worker(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT worker_id FROM procrastinate_register_worker_v1()").fetchone()
    assert row is not None
    return int(row[0])


def test_a_retry_by_a_worker_that_lost_the_job_is_ignored(conn: psycopg.Connection) -> None:
    stale, current = _register_worker(conn), _register_worker(conn)
    job_id = _insert_raw(conn, "tests.echo", '{"value": 1}')
    conn.execute(
        "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s WHERE id = %s",
        (current, job_id),
    )

    async def retry_as(worker_id: int) -> None:
        connector = make_connector()
        await connector.open_async()
        try:
            job = jobs.Job(
                id=job_id, queue="default", lock=None, queueing_lock=None,
                task_name="tests.echo", worker_id=worker_id,
            )  # fmt: skip
            await QueueJobManager(connector, app).retry_job(job)
        finally:
            await connector.close_async()

    asyncio.run(retry_as(stale))
    assert conn.execute(
        "SELECT status, worker_id FROM procrastinate_jobs WHERE id = %s", (job_id,)
    ).fetchone() == ("doing", current), "the stale worker changed nothing"
    asyncio.run(retry_as(current))
    assert conn.execute(
        "SELECT status FROM procrastinate_jobs WHERE id = %s", (job_id,)
    ).fetchone() == ("todo",)


def test_a_lease_expires_after_two_heartbeats_without_a_renewal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(manager_module.time, "monotonic", lambda: now[0])
    job_manager = QueueJobManager(make_connector(), app)
    job_manager._renewed[7] = 100.0
    now[0] = 119.9
    assert not job_manager.lease_expired(7, heartbeat_seconds=10)
    now[0] = 120.1
    assert job_manager.lease_expired(7, heartbeat_seconds=10)
    assert not job_manager.lease_expired(8, heartbeat_seconds=10), "unknown: not ours to judge"


def test_the_procrastinate_functions_we_call_keep_their_signatures(
    conn: psycopg.Connection,
) -> None:
    """Fails when a Procrastinate upgrade changes what queue/manager.py relies on."""
    found = {
        name: args
        for name, args in conn.execute(
            "SELECT proname, pg_get_function_identity_arguments(oid) FROM pg_proc"
            " WHERE proname IN ('procrastinate_finish_job_v1', 'procrastinate_retry_job_v2',"
            " 'procrastinate_register_worker_v1', 'procrastinate_update_heartbeat_v1')"
        ).fetchall()
    }
    assert found == {
        "procrastinate_register_worker_v1": "",
        "procrastinate_update_heartbeat_v1": "worker_id bigint",
        "procrastinate_finish_job_v1": "job_id bigint, end_status procrastinate_job_status,"
        " delete_job boolean",
        "procrastinate_retry_job_v2": "job_id bigint, retry_at timestamp with time zone,"
        " new_priority integer, new_queue_name character varying,"
        " new_lock character varying",
    }


def test_registration_and_heartbeat_call_what_procrastinate_calls() -> None:
    """Fails when an upgrade changes Procrastinate's statements: re-check register_worker
    and renew_lease (hiring_jobs/sql/queue.sql), which add a durable commit to them."""
    assert sql.queries["register_worker"].strip() == (
        "SELECT * FROM procrastinate_register_worker_v1()"
    )
    assert sql.queries["update_heartbeat"].strip() == (
        "SELECT procrastinate_update_heartbeat_v1(%(worker_id)s)"
    )
    assert "procrastinate_register_worker_v1()" in manager_module.REGISTER_WORKER
    assert "procrastinate_update_heartbeat_v1(%(worker_id)s)" in manager_module.RENEW_LEASE


# What finish_owned_jobs (hiring_jobs/sql/queue.sql) restates, whitespace collapsed.
FINISH_JOB_V1_BODY = (
    "DECLARE _job_id bigint; BEGIN IF end_status NOT IN ('succeeded', 'failed', 'aborted')"
    ' THEN RAISE \'End status should be either "succeeded", "failed" or "aborted"'
    " (job id: %)', job_id; END IF; IF delete_job THEN DELETE FROM procrastinate_jobs"
    " WHERE id = job_id AND status IN ('todo', 'doing') RETURNING id INTO _job_id; ELSE"
    " UPDATE procrastinate_jobs SET status = end_status, abort_requested = false,"
    " attempts = CASE status WHEN 'doing' THEN attempts + 1 ELSE attempts END"
    " WHERE id = job_id AND status IN ('todo', 'doing') RETURNING id INTO _job_id; END IF;"
    ' IF _job_id IS NULL THEN RAISE \'Job was not found or not in "doing" or "todo"'
    " status (job id: %)', job_id; END IF; END;"
)


def test_the_finish_we_restate_is_still_procrastinates(conn: psycopg.Connection) -> None:
    """Fails when an upgrade changes procrastinate_finish_job_v1: re-check finish_owned_jobs."""
    row = conn.execute(
        "SELECT prosrc FROM pg_proc WHERE proname = 'procrastinate_finish_job_v1'"
    ).fetchone()
    assert row is not None
    assert " ".join(row[0].split()) == FINISH_JOB_V1_BODY


def test_a_finish_by_a_worker_that_lost_the_job_is_ignored_and_lets_go_of_the_worker(
    conn: psycopg.Connection,
) -> None:
    stale, current = _register_worker(conn), _register_worker(conn)
    job_id = _insert_raw(conn, "tests.echo", '{"value": 1}')
    conn.execute(
        "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s WHERE id = %s",
        (current, job_id),
    )

    async def finish_as(worker_id: int) -> set[int]:
        connector = make_connector()
        await connector.open_async()
        try:
            manager = QueueJobManager(connector, app)
            return await manager.finish_owned_jobs([(job_id, "succeeded")], worker_id)
        finally:
            await connector.close_async()

    assert asyncio.run(finish_as(stale)) == set()
    assert conn.execute(
        "SELECT status, worker_id, attempts FROM procrastinate_jobs WHERE id = %s", (job_id,)
    ).fetchone() == ("doing", current, 0), "the stale worker changed nothing"
    assert asyncio.run(finish_as(current)) == {job_id}
    assert conn.execute(
        "SELECT status, worker_id, attempts FROM procrastinate_jobs WHERE id = %s", (job_id,)
    ).fetchone() == ("succeeded", None, 1)
    events = conn.execute(
        "SELECT type::text FROM procrastinate_events WHERE job_id = %s ORDER BY id", (job_id,)
    ).fetchall()
    assert events[-1] == ("succeeded",), "Procrastinate's status trigger recorded the end"


def test_workers_hear_of_inserted_jobs_and_abort_requests(conn: psycopg.Connection) -> None:
    """The listener's shortcut for "a job was inserted" (no JSON, no log record) and the
    parsed path for everything else, through the connector's own notification loop."""
    heard: list[jobs.Notification] = []
    after_abort = asyncio.Event()
    wake = "SELECT pg_notify('procrastinate_any_queue_v1', '{\"type\": \"job_inserted\"}')"

    async def on_notification(*, channel: str, notification: jobs.Notification) -> None:
        if heard and heard[-1]["type"] == "abort_job_requested":
            after_abort.set()
        heard.append(notification)

    async def listen() -> int:
        connector = make_connector()
        await connector.open_async()
        listener = QueueJobManager(connector, app)
        listening = asyncio.ensure_future(listener.listen_for_jobs(on_notification=on_notification))
        try:
            for _ in range(300):  # until LISTEN has run
                conn.execute(wake)
                await asyncio.sleep(0.1)
                if heard:
                    break
            job_id = _insert_raw(conn, "tests.echo", '{"value": 1}')  # Procrastinate's trigger
            conn.execute("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = %s", (job_id,))
            conn.execute(
                "UPDATE procrastinate_jobs SET abort_requested = true WHERE id = %s", (job_id,)
            )
            conn.execute(wake)
            await asyncio.wait_for(after_abort.wait(), timeout=30)
        finally:
            listening.cancel()
            await connector.close_async()
        return job_id

    job_id = asyncio.run(listen())
    aborts = [n for n in heard if n["type"] == "abort_job_requested"]
    assert [n["job_id"] for n in aborts] == [job_id]
    assert {n["type"] for n in heard} == {"job_inserted", "abort_job_requested"}
    assert heard[-1]["type"] == "job_inserted"


def test_the_notification_loop_we_replace_is_still_procrastinates() -> None:
    """Fails when an upgrade changes PsycopgConnector._loop_notify (hiring_jobs/app.py
    replaces it) or how listen_notify calls it."""
    import inspect

    from procrastinate import PsycopgConnector

    assert list(inspect.signature(PsycopgConnector._loop_notify).parameters) == [
        "self",
        "on_notification",
        "connection",
        "timeout",
    ]
    source = inspect.getsource(PsycopgConnector.listen_notify)
    assert "await self._loop_notify(" in source
    loop = inspect.getsource(PsycopgConnector._loop_notify)
    assert "utils.gen_with_timeout(" in loop and 'connection.execute("SELECT 1")' in loop


def test_the_cursor_helpers_an_unprepared_query_uses_are_still_procrastinates() -> None:
    """Fails when an upgrade changes PsycopgConnector._get_cursor or _wrap_json, which
    QueueConnector.execute_query_all_unprepared_async (hiring_jobs/app.py) uses as
    execute_query_all_async does."""
    import inspect

    from procrastinate import PsycopgConnector

    source = inspect.getsource(PsycopgConnector.execute_query_all_async)
    assert "async with self._get_cursor() as cursor:" in source
    assert "await cursor.execute(query, self._wrap_json(arguments))" in source


@pytest.mark.parametrize("statement", ["finish_owned_jobs", "delete_owned_jobs"])
def test_a_finish_planned_on_statistics_of_an_empty_queue_reads_only_its_jobs(
    database_url: str, statement: str
) -> None:
    """ANALYZE between bursts sees no waiting job; the finish then read every waiting job
    through Procrastinate's index on `todo` and `doing` jobs (36 ms a finish with 100,000
    waiting). It finds its jobs by primary key whatever the statistics say."""
    backlog = 20_000
    with (
        psycopg.connect(database_url, autocommit=True) as conn,
        psycopg.connect(database_url, autocommit=True) as worker,
    ):
        worker.execute(JOB_STATE_SETTINGS)  # a worker's connection
        worker.execute("SET plan_cache_mode = force_generic_plan")  # the plan it keeps
        worker_id = _scalar(conn, "SELECT worker_id FROM procrastinate_register_worker_v1()")
        conn.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status)"
            " SELECT 'default', 'tests.echo', '{}', 'succeeded' FROM generate_series(1, 1000)"
        )
        conn.execute("VACUUM ANALYZE procrastinate_jobs")  # the queue is empty
        conn.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args)"
            " SELECT 'default', 'tests.echo', '{}' FROM generate_series(1, %s)",
            (backlog,),
        )
        before = rows_read(conn, "procrastinate_jobs")
        for _ in range(10):
            ids = [
                row[0]
                for row in conn.execute(
                    "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s"
                    " WHERE id IN (SELECT id FROM procrastinate_jobs WHERE status = 'todo'"
                    "              ORDER BY id LIMIT 8) RETURNING id",
                    (worker_id,),
                )
            ]
            finished = worker.execute(
                QUEUE[statement],
                {"ids": ids, "statuses": ["succeeded"] * 8, "worker_id": worker_id},
                prepare=True,
            ).fetchall()
            assert len(finished) == 8
        flush_counts(worker)
        read = rows_read(conn, "procrastinate_jobs") - before
    assert read < backlog / 4, f"10 finishes of 8 jobs (and their fetches) read {read} rows"


def _scalar(conn: psycopg.Connection, query: str) -> int:
    row = conn.execute(query).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return int(row[0])
