"""Every attempt is recorded once, at its end, by the worker middleware: timing, outcome,
error, result."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import pytest
from procrastinate import JobContext, PsycopgConnector, exceptions
from procrastinate.jobs import Job
from psycopg_pool import PoolTimeout
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.app import JOB_STATE_SETTINGS, app, make_connector
from hiring_jobs.models import AttemptOutcome, JobAttempt
from hiring_jobs.queue import attempts
from hiring_jobs.queue.attempts import (
    AttemptWriter,
    Started,
    fingerprint,
    normalise_message,
    unreachable,
)
from hiring_jobs.queue.defer import batch_defer, defer
from hiring_jobs.sql import QUEUE, run
from tests.support import tasks
from tests.support.factories import make_user
from tests.support.jobs import jobs, run_batching_worker_until_idle, run_worker_until_idle
from tests.support.reads import flush_counts, rows_read


def _attempts(session_factory: sessionmaker[Session]) -> list[JobAttempt]:
    with session_factory() as session:
        return list(session.scalars(select(JobAttempt).order_by(JobAttempt.id)))


def test_a_successful_attempt_records_timing_worker_and_result(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        job_id = defer(session, tasks.echo, value={"parsed": 3})
    run_worker_until_idle()

    [attempt] = _attempts(session_factory)
    assert (attempt.job_id, attempt.attempt, attempt.task_name) == (job_id, 1, "tests.echo")
    assert attempt.outcome == AttemptOutcome.SUCCEEDED
    assert attempt.result == {"parsed": 3}
    assert attempt.finished_at is not None and attempt.finished_at >= attempt.started_at
    assert attempt.duration_ms is not None and attempt.duration_ms >= 0
    assert attempt.hostname and attempt.pid and attempt.worker_name
    assert attempt.exception_type is None


def test_a_failed_attempt_records_the_exception_and_traceback(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        defer(session, tasks.fail, message="SMTP relay 10.0.0.7 refused connection 42")
    run_worker_until_idle()

    [attempt] = _attempts(session_factory)
    assert attempt.outcome == AttemptOutcome.FAILED
    assert attempt.exception_type == "builtins.RuntimeError"
    assert attempt.error_message == "SMTP relay 10.0.0.7 refused connection 42"
    assert attempt.traceback and "raise RuntimeError(message)" in attempt.traceback
    assert attempt.error_fingerprint == fingerprint(
        "builtins.RuntimeError", "SMTP relay 10.0.0.99 refused connection 7"
    )


def test_retries_are_recorded_as_separate_attempts(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session, session.begin():
        user = make_user(session)
        defer(session, tasks.fail_twice_then_succeed, user_id=user.id, marker="m1")
    for _ in range(3):  # each run picks up the retry scheduled by the previous failure
        run_worker_until_idle()

    outcomes = [(a.attempt, a.outcome) for a in _attempts(session_factory)]
    assert outcomes == [
        (1, AttemptOutcome.FAILED),
        (2, AttemptOutcome.FAILED),
        (3, AttemptOutcome.SUCCEEDED),
    ]
    with session_factory() as session:
        assert [job["status"] for job in jobs(session)] == ["succeeded"]


def test_messages_are_normalised_for_grouping() -> None:
    assert normalise_message("user 123 not found in 'acme' (took 0.5s)") == (
        "user <n> not found in <str> (took <n>s)"
    )
    assert fingerprint("E", "job 1 failed") == fingerprint("E", "job 2 failed")
    assert fingerprint("E", "job 1 failed") != fingerprint("F", "job 1 failed")


# --- writes coalesced across the jobs of one worker -----------------------------------


class StatementLog:
    """Counts the statements a connector runs, by query text (wraps its query methods)."""

    def __init__(self, connector: PsycopgConnector) -> None:
        self.queries: list[str] = []
        for name in ("execute_query_async", "execute_query_one_async", "execute_query_all_async"):
            setattr(connector, name, self._counting(getattr(connector, name)))

    def _counting(self, method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def counted(query: str, **arguments: Any) -> Any:
            self.queries.append(query)
            return await method(query, **arguments)

        return counted

    def count(self, *queries: str) -> int:
        return sum(1 for query in self.queries if query in queries)


def _started(
    job_id: int, task_name: str = "tests.echo", *, worker_id: int | None = None
) -> Started:
    job = Job(
        id=job_id, queue="default", lock=None, queueing_lock=None, task_name=task_name,
        worker_id=worker_id,
    )  # fmt: skip
    context = JobContext(
        app=app, job=job, worker_name="w1", start_timestamp=0.0, abort_reason=lambda: None
    )
    return Started.of(context)


class LongNamedError(Exception):
    pass


# A name longer than job_attempts.exception_type (200 characters).
LongNamedError.__qualname__ = "E" * 250


class _NoSuchOutcome:
    """An outcome the table's CHECK constraint refuses: its attempt cannot be written."""

    value = "no such outcome"


async def _with_writer(
    body: Callable[[AttemptWriter, StatementLog], Awaitable[Any]], *, max_size: int = 4
) -> Any:
    connector = make_connector(max_size=max_size, job_state=True)
    await connector.open_async()
    try:
        log = StatementLog(connector)
        return await body(AttemptWriter(connector), log)
    finally:
        await connector.close_async()


def test_attempts_ending_together_are_written_once_each_in_one_statement(
    session_factory: sessionmaker[Session],
) -> None:
    job_ids = [101, 102, 103, 104, 105]
    errors = {102: RuntimeError("SMTP relay 10.0.0.7 refused"), 104: ValueError("bad 'x'")}

    async def body(writer: AttemptWriter, log: StatementLog) -> None:
        ends = []
        for job_id in job_ids:
            started = _started(job_id)
            if job_id in errors:
                ends.append(
                    writer.record(started, outcome=AttemptOutcome.FAILED, error=errors[job_id])
                )
            elif job_id == 105:
                ends.append(writer.record(started, outcome=AttemptOutcome.TIMED_OUT))
            else:
                ends.append(
                    writer.record(started, outcome=AttemptOutcome.SUCCEEDED, result={"job": job_id})
                )
        await asyncio.gather(*ends)
        assert log.queries == [attempts.RECORD_ATTEMPTS], "one statement for five attempts"

    asyncio.run(_with_writer(body))

    by_job = {row.job_id: row for row in _attempts(session_factory)}
    assert sorted(by_job) == job_ids, "one row per attempt"
    for job_id, row in by_job.items():
        assert (row.attempt, row.task_name, row.worker_name) == (1, "tests.echo", "w1")
        assert row.finished_at is not None and row.duration_ms is not None
        assert row.finished_at >= row.started_at
        if job_id in errors:
            error = errors[job_id]
            assert row.outcome == AttemptOutcome.FAILED
            assert row.exception_type == f"builtins.{type(error).__name__}"
            assert row.error_message == str(error)
            assert row.error_fingerprint == fingerprint(row.exception_type, str(error))
            assert row.result is None
        elif job_id == 105:
            assert (row.outcome, row.result, row.exception_type) == (
                AttemptOutcome.TIMED_OUT,
                None,
                None,
            )
        else:
            assert row.outcome == AttemptOutcome.SUCCEEDED
            assert row.result == {"job": job_id}
            assert row.exception_type is None


def test_a_failing_batch_of_attempt_writes_falls_back_to_one_by_one(
    session_factory: sessionmaker[Session],
) -> None:
    async def body(writer: AttemptWriter, log: StatementLog) -> None:
        # A task name too long for its column and an outcome the table refuses fail the
        # batch; the other attempt still lands, and nothing is raised to the worker.
        await asyncio.gather(
            writer.record(_started(201), outcome=AttemptOutcome.SUCCEEDED, result=1),
            writer.record(_started(202, task_name="t" * 300), outcome=AttemptOutcome.SUCCEEDED),
            writer.record(_started(203), outcome=_NoSuchOutcome()),  # type: ignore[arg-type]
        )
        assert log.queries == [attempts.RECORD_ATTEMPTS] * 4, "the batch, then each alone"

    asyncio.run(_with_writer(body))

    [row] = _attempts(session_factory)
    assert (row.job_id, row.outcome, row.result) == (201, AttemptOutcome.SUCCEEDED, 1)


def test_an_exception_name_too_long_for_its_column_keeps_its_end(
    session_factory: sessionmaker[Session],
) -> None:
    async def body(writer: AttemptWriter, log: StatementLog) -> None:
        await writer.record(_started(301), outcome=AttemptOutcome.FAILED, error=LongNamedError("x"))

    asyncio.run(_with_writer(body))

    [row] = _attempts(session_factory)
    assert row.outcome == AttemptOutcome.FAILED
    assert row.exception_type is not None and len(row.exception_type) == 200
    assert row.exception_type.endswith("E" * 150)


def test_an_attempt_is_written_again_after_its_connection_was_lost(
    session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    """A database restart breaks the pooled connection: the write is retried, not lost."""

    async def body(writer: AttemptWriter, log: StatementLog) -> None:
        await writer.record(_started(401), outcome=AttemptOutcome.SUCCEEDED)  # opens the pool
        with session_factory() as session, session.begin():
            killed = session.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND backend_type = 'client backend'"
                )
            ).scalar_one()
        assert killed >= 1
        await writer.record(_started(402), outcome=AttemptOutcome.FAILED, error=OSError("x"))
        assert len(log.queries) >= 3, "the second write failed once and was tried again"

    with caplog.at_level(logging.WARNING, logger="hiring_jobs.queue.attempts"):
        asyncio.run(_with_writer(body, max_size=1))

    assert [row.job_id for row in _attempts(session_factory)] == [401, 402]
    assert "the database is unreachable; recording attempt 1 of job 402 again" in caplog.text


def test_a_worker_back_from_a_blip_replaces_the_row_the_rescue_wrote_for_its_run(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        job_id = defer(session, tasks.echo, value=1)
        # Fetched by a worker that then went silent: the rescue records its run.
        session.execute(
            text("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = :id"), {"id": job_id}
        )
        run(session, QUEUE["record_interrupted_attempt"], {"job_id": job_id})
    [rescued] = _attempts(session_factory)
    assert (rescued.attempt, rescued.outcome) == (1, AttemptOutcome.INTERRUPTED)

    async def body(writer: AttemptWriter, log: StatementLog) -> None:
        started = _started(job_id)
        await writer.record(started, outcome=AttemptOutcome.SUCCEEDED, result={"late": True})

    asyncio.run(_with_writer(body))

    [row] = _attempts(session_factory)
    assert (row.id, row.outcome, row.result, row.worker_name) == (
        rescued.id,
        AttemptOutcome.SUCCEEDED,
        {"late": True},
        "w1",
    ), "one row for one run, saying how it really ended"


def test_the_rescue_does_not_record_a_run_its_worker_recorded(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        job_id = defer(session, tasks.echo, value=1)
        session.execute(
            text("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = :id"), {"id": job_id}
        )

    async def body(writer: AttemptWriter, log: StatementLog) -> None:
        await writer.record(_started(job_id), outcome=AttemptOutcome.SUCCEEDED)

    asyncio.run(_with_writer(body))  # ended, then the worker was lost before the job's finish
    with session_factory() as session, session.begin():
        run(session, QUEUE["record_interrupted_attempt"], {"job_id": job_id})

    assert [row.outcome for row in _attempts(session_factory)] == [AttemptOutcome.SUCCEEDED]


def _worker_writes(conn: psycopg.Connection, job_id: int, worker_id: int) -> None:
    """The worker's row of the run, as AttemptWriter writes it."""
    started = _started(job_id, worker_id=worker_id)
    row = attempts.attempt_row(started, outcome=AttemptOutcome.SUCCEEDED, result=7)
    conn.execute(attempts.RECORD_ATTEMPTS, attempts.columns([row]))


def _rescue_writes(conn: psycopg.Connection, job_id: int, worker_id: int) -> None:
    conn.execute(QUEUE["record_interrupted_attempt"], {"job_id": job_id})


@pytest.mark.parametrize("first", ["rescue", "worker"])
def test_a_run_recorded_by_its_worker_and_the_rescue_at_once_has_one_row(
    database_url: str, session_factory: sessionmaker[Session], first: str
) -> None:
    """Neither sees the other's uncommitted row: the unique run (job, attempt, worker
    registration) makes the second wait for the first, then take the conflict path."""
    with session_factory() as session, session.begin():
        job_id = defer(session, tasks.echo, value=1)
        worker_id = session.execute(
            text("SELECT worker_id FROM procrastinate_register_worker_v1()")
        ).scalar_one()
        session.execute(
            text("UPDATE procrastinate_jobs SET status = 'doing', worker_id = :w WHERE id = :id"),
            {"w": worker_id, "id": job_id},
        )
    writes = {"worker": _worker_writes, "rescue": _rescue_writes}
    second = "worker" if first == "rescue" else "rescue"
    with psycopg.connect(database_url) as holder, psycopg.connect(database_url) as other:
        writes[first](holder, job_id, worker_id)  # not committed yet

        def write_second() -> None:
            writes[second](other, job_id, worker_id)
            other.commit()

        blocked = threading.Thread(target=write_second)
        blocked.start()
        _wait_for_a_lock_wait(database_url)
        holder.commit()
        blocked.join(timeout=60)
        assert not blocked.is_alive()

    [row] = _attempts(session_factory)
    assert (row.outcome, row.result) == (AttemptOutcome.SUCCEEDED, 7), "the worker's row"


def _wait_for_a_lock_wait(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        for _ in range(6000):
            if conn.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone() != (0,):
                return
            time.sleep(0.01)
    raise AssertionError("the second writer never waited for the first")


def test_only_a_database_out_of_reach_is_worth_writing_again() -> None:
    def raised_from(cause: BaseException) -> BaseException:
        try:
            raise exceptions.ConnectorException() from cause
        except exceptions.ConnectorException as exc:
            return exc

    assert unreachable(raised_from(psycopg.OperationalError("server closed the connection")))
    assert unreachable(raised_from(PoolTimeout("couldn't get a connection")))
    assert not unreachable(raised_from(psycopg.errors.CheckViolation("bad outcome")))
    assert not unreachable(ValueError("bad"))


def test_a_batching_worker_coalesces_attempt_writes_and_records_each_attempt(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        # Async tasks end together when they start together; a sync task's end depends on
        # its child process's timing, which is not what this test is about.
        echo_ids = batch_defer(session, tasks.echo_async, [{"value": {"n": n}} for n in range(48)])
        fail_ids = batch_defer(
            session, tasks.fail_async, [{"message": f"bad {n}"} for n in range(16)]
        )
    connector = make_connector(max_size=11, job_state=True)
    log = StatementLog(connector)

    asyncio.run(run_batching_worker_until_idle(batch_size=8, concurrency=8, connector=connector))

    assert 1 <= log.count(attempts.RECORD_ATTEMPTS) < 64 / 2, "written together, once each"
    rows = {row.job_id: row for row in _attempts(session_factory)}
    assert sorted(rows) == sorted(echo_ids + fail_ids), "one attempt per job"
    for n, job_id in enumerate(echo_ids):
        assert (rows[job_id].outcome, rows[job_id].result) == (
            AttemptOutcome.SUCCEEDED,
            {"n": n},
        )
    for n, job_id in enumerate(fail_ids):
        assert (rows[job_id].outcome, rows[job_id].error_message) == (
            AttemptOutcome.FAILED,
            f"bad {n}",
        )


def test_a_connection_that_wrote_attempts_into_an_empty_table_reads_only_their_runs_later(
    database_url: str,
) -> None:
    """A connection keeps the plan it made for the table as it was. Planned while
    job_attempts looked empty, the search for the rescue's row of the runs written scanned
    the whole table for each write. Rescued rows have a partial index of their own
    (migration 0020): scanned in full, it holds only them."""
    history = 10_000
    next_job_id = iter(range(history + 1, history + 1_000))

    def write_eight(writer: psycopg.Connection) -> None:
        rows = [
            attempts.attempt_row(_started(next(next_job_id)), outcome=AttemptOutcome.SUCCEEDED)
            for _ in range(8)
        ]
        writer.execute(attempts.RECORD_ATTEMPTS, attempts.columns(rows), prepare=True)

    with (
        psycopg.connect(database_url, autocommit=True) as conn,
        psycopg.connect(database_url, autocommit=True) as writer,
    ):
        writer.execute(JOB_STATE_SETTINGS)  # a worker's connection
        # The plan PostgreSQL makes once and keeps (psycopg prepares from the 5th run).
        writer.execute("SET plan_cache_mode = force_generic_plan")
        conn.execute("VACUUM ANALYZE job_attempts")  # empty
        for _ in range(10):
            write_eight(writer)
        conn.execute(
            "INSERT INTO job_attempts (job_id, attempt, task_name, queue, outcome, started_at)"
            " SELECT n, 1, 'tests.echo', 'default', 'succeeded',"
            "        now() - n * interval '5 ms'"
            " FROM generate_series(1, %s) AS n",
            (history,),
        )
        before = rows_read(conn, "job_attempts")
        for _ in range(10):
            write_eight(writer)
        flush_counts(writer)
        read = rows_read(conn, "job_attempts") - before
        written = conn.execute("SELECT count(*) FROM job_attempts").fetchone()
    assert written == (history + 20 * 8,)
    assert read < history / 4, f"10 writes of 8 attempts read {read} rows"
