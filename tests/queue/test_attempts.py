"""Every attempt is recorded by the worker middleware: timing, outcome, error, result."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from procrastinate import JobContext, PsycopgConnector, exceptions
from procrastinate.jobs import Job
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.app import app, make_connector
from hiring_jobs.models import AttemptOutcome, JobAttempt
from hiring_jobs.queue import attempts
from hiring_jobs.queue.attempts import AttemptWriter, fingerprint, normalise_message
from hiring_jobs.queue.defer import batch_defer, defer
from tests.support import tasks
from tests.support.factories import make_user
from tests.support.jobs import jobs, run_batching_worker_until_idle, run_worker_until_idle


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


def _context(job_id: int, task_name: str = "tests.echo") -> JobContext:
    job = Job(id=job_id, queue="default", lock=None, queueing_lock=None, task_name=task_name)
    return JobContext(
        app=app, job=job, worker_name="w1", start_timestamp=0.0, abort_reason=lambda: None
    )


class LongNamedError(Exception):
    pass


# A name longer than job_attempts.exception_type (200 characters).
LongNamedError.__qualname__ = "E" * 250


class _NoSuchOutcome:
    """An outcome the table's CHECK constraint refuses: its attempt's end cannot be written."""

    value = "no such outcome"


async def _with_writer(
    body: Callable[[AttemptWriter, StatementLog], Awaitable[Any]],
) -> Any:
    connector = make_connector(job_state=True)
    await connector.open_async()
    try:
        log = StatementLog(connector)
        return await body(AttemptWriter(connector), log)
    finally:
        await connector.close_async()


def test_attempts_starting_and_ending_together_are_written_in_one_statement_each(
    session_factory: sessionmaker[Session],
) -> None:
    job_ids = [101, 102, 103, 104, 105]
    errors = {102: RuntimeError("SMTP relay 10.0.0.7 refused"), 104: ValueError("bad 'x'")}

    async def body(writer: AttemptWriter, log: StatementLog) -> list[int]:
        ids = await asyncio.gather(*(writer.start(_context(job_id)) for job_id in job_ids))
        ends = []
        for job_id, attempt_id in zip(job_ids, ids, strict=True):
            if job_id in errors:
                ends.append(
                    writer.finish(attempt_id, outcome=AttemptOutcome.FAILED, error=errors[job_id])
                )
            elif job_id == 105:
                ends.append(writer.finish(attempt_id, outcome=AttemptOutcome.TIMED_OUT))
            else:
                ends.append(
                    writer.finish(
                        attempt_id, outcome=AttemptOutcome.SUCCEEDED, result={"job": job_id}
                    )
                )
        await asyncio.gather(*ends)
        assert log.count(attempts.START_ATTEMPTS) == 1
        assert log.count(attempts.FINISH_ATTEMPTS) == 1
        assert log.count(attempts.START_ATTEMPT, attempts.FINISH_ATTEMPT) == 0
        return ids

    ids = asyncio.run(_with_writer(body))

    rows = {row.id: row for row in _attempts(session_factory)}
    assert sorted(rows) == sorted(ids), "one row per start, each caller got its own id"
    by_job = {rows[attempt_id].job_id: rows[attempt_id] for attempt_id in ids}
    assert [rows[attempt_id].job_id for attempt_id in ids] == job_ids
    for job_id, row in by_job.items():
        assert (row.attempt, row.task_name, row.worker_name) == (1, "tests.echo", "w1")
        assert row.finished_at is not None and row.duration_ms is not None
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
    async def body(writer: AttemptWriter, log: StatementLog) -> list[int | BaseException]:
        # A task name too long for its column fails the batch; the other starts still land.
        started = await asyncio.gather(
            writer.start(_context(201)),
            writer.start(_context(202, task_name="t" * 300)),
            writer.start(_context(203)),
            return_exceptions=True,
        )
        assert log.count(attempts.START_ATTEMPTS) == 1
        assert log.count(attempts.START_ATTEMPT) == 3
        first, _, third = started
        assert isinstance(first, int) and isinstance(third, int)
        # An end that cannot be written is logged, never raised: the other ends still land.
        await asyncio.gather(
            writer.finish(first, outcome=AttemptOutcome.SUCCEEDED, result=1),
            writer.finish(third, outcome=_NoSuchOutcome(), error=RuntimeError("boom")),  # type: ignore[arg-type]
        )
        assert log.count(attempts.FINISH_ATTEMPTS) == 1
        assert log.count(attempts.FINISH_ATTEMPT) == 2
        return started

    first, too_long, third = asyncio.run(_with_writer(body))

    assert isinstance(too_long, exceptions.ConnectorException)
    rows = {row.job_id: row for row in _attempts(session_factory)}
    assert sorted(rows) == [201, 203]
    assert (rows[201].id, rows[201].outcome, rows[201].result) == (
        first,
        AttemptOutcome.SUCCEEDED,
        1,
    )
    assert (rows[203].id, rows[203].outcome) == (third, AttemptOutcome.RUNNING)


def test_an_exception_name_too_long_for_its_column_keeps_its_end(
    session_factory: sessionmaker[Session],
) -> None:
    async def body(writer: AttemptWriter, log: StatementLog) -> None:
        attempt_id = await writer.start(_context(301))
        await writer.finish(attempt_id, outcome=AttemptOutcome.FAILED, error=LongNamedError("x"))

    asyncio.run(_with_writer(body))

    [row] = _attempts(session_factory)
    assert row.outcome == AttemptOutcome.FAILED
    assert row.exception_type is not None and len(row.exception_type) == 200
    assert row.exception_type.endswith("E" * 150)


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

    starts = log.count(attempts.START_ATTEMPTS, attempts.START_ATTEMPT)
    ends = log.count(attempts.FINISH_ATTEMPTS, attempts.FINISH_ATTEMPT)
    assert log.count(attempts.START_ATTEMPTS) >= 1 and starts < 64 / 2
    assert log.count(attempts.FINISH_ATTEMPTS) >= 1 and ends < 64 / 2
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
