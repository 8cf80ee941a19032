"""Benchmark tasks on hiring_jobs' app, loaded by workers through HIRING_JOBS_TASK_MODULES.

BENCH_MIDDLEWARE (worker processes only) swaps the worker middleware to measure its cost:
unset keeps production's three; "none" runs none; otherwise a comma-separated subset of
context, attempts (or the proposals attempts_once: one INSERT at the end, attempts_batched:
the same, batched across jobs ending together), time_limits, in that order.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from typing import Any

import psycopg
from procrastinate import JobContext
from procrastinate.middleware import AsyncCallNext

from hiring_jobs.app import app
from hiring_jobs.db import database_url
from hiring_jobs.logs import current_request_id
from hiring_jobs.models import AttemptOutcome
from hiring_jobs.queue import attempts
from hiring_jobs.queue.attempts import record_attempts
from hiring_jobs.queue.context import bind_job_context
from hiring_jobs.queue.time_limits import enforce_time_limits

FINISHED_ATTEMPT = """
INSERT INTO job_attempts
    (job_id, attempt, task_name, queue, outcome, started_at, finished_at, duration_ms,
     exception_type, error_message, traceback, error_fingerprint, result,
     worker_name, hostname, pid, request_id)
VALUES (%(job_id)s, %(attempt)s, %(task_name)s, %(queue)s, %(outcome)s,
        to_timestamp(%(started)s), now(), extract(epoch FROM now()) * 1000 - %(started)s * 1000,
        %(exception_type)s, %(error_message)s, %(traceback)s, %(error_fingerprint)s,
        %(result)s::jsonb, %(worker_name)s, %(hostname)s, %(pid)s, %(request_id)s)
"""


async def record_attempt_once(call_next: AsyncCallNext, context: JobContext, worker: Any) -> Any:
    """What record_attempts stores, in one INSERT when the attempt ends (a proposal, measured
    here): a running attempt is then the job's `doing` status plus its `started` event."""
    started = time.time()
    try:
        result = await call_next()
    except BaseException as exc:
        await _insert_attempt(context, started, attempts.outcome_of(exc), exc, None)
        raise
    await _insert_attempt(context, started, AttemptOutcome.SUCCEEDED, None, result)
    return result


async def _insert_attempt(
    context: JobContext,
    started: float,
    outcome: AttemptOutcome,
    error: BaseException | None,
    result: Any,
) -> None:
    job = context.job
    await context.app.connector.execute_query_async(
        FINISHED_ATTEMPT,  # type: ignore[arg-type]
        job_id=job.id,
        attempt=job.attempts + 1,
        task_name=job.task_name,
        queue=job.queue,
        outcome=outcome.value,
        started=started,
        result=attempts._result_json(result),
        worker_name=context.worker_name,
        hostname=attempts.HOSTNAME,
        pid=os.getpid(),
        request_id=current_request_id(),
        **attempts.error_fields(error),
    )


ATTEMPT_COLUMNS = (
    "job_id bigint, attempt int, task_name text, queue text, outcome text, started float8,"
    " finished float8, exception_type text, error_message text, traceback text,"
    " error_fingerprint text, result jsonb, worker_name text, hostname text, pid int,"
    " request_id text"
)
FINISHED_ATTEMPTS = """
INSERT INTO job_attempts
    (job_id, attempt, task_name, queue, outcome, started_at, finished_at, duration_ms,
     exception_type, error_message, traceback, error_fingerprint, result,
     worker_name, hostname, pid, request_id)
SELECT job_id, attempt, task_name, queue, outcome, to_timestamp(started), to_timestamp(finished),
       (finished - started) * 1000, exception_type, error_message, traceback, error_fingerprint,
       result, worker_name, hostname, pid, request_id
  FROM jsonb_to_recordset(%(rows)s::jsonb) AS r({columns})
""".replace("{columns}", ATTEMPT_COLUMNS)


class AttemptWriter:
    """Attempt rows of jobs that end while an INSERT runs go together in the next one."""

    def __init__(self) -> None:
        self._pending: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def write(self, context: JobContext, row: dict[str, Any]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((row, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush(context))
        await future

    async def _flush(self, context: JobContext) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await context.app.connector.execute_query_async(
                    FINISHED_ATTEMPTS,  # type: ignore[arg-type]
                    rows=json.dumps([row for row, _ in batch], default=str),
                )
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)


_writer = AttemptWriter()


async def record_attempts_batched(
    call_next: AsyncCallNext, context: JobContext, worker: Any
) -> Any:
    """record_attempt_once, with the INSERTs of attempts ending together batched (proposal)."""
    started = time.time()
    try:
        result = await call_next()
    except BaseException as exc:
        await _writer.write(context, _row(context, started, attempts.outcome_of(exc), exc, None))
        raise
    await _writer.write(context, _row(context, started, AttemptOutcome.SUCCEEDED, None, result))
    return result


def _row(
    context: JobContext,
    started: float,
    outcome: AttemptOutcome,
    error: BaseException | None,
    result: Any,
) -> dict[str, Any]:
    job = context.job
    encoded = attempts._result_json(result)
    return {
        "job_id": job.id,
        "attempt": job.attempts + 1,
        "task_name": job.task_name,
        "queue": job.queue,
        "outcome": outcome.value,
        "started": started,
        "finished": time.time(),
        "result": json.loads(encoded) if encoded is not None else None,
        "worker_name": context.worker_name,
        "hostname": attempts.HOSTNAME,
        "pid": os.getpid(),
        "request_id": current_request_id(),
        **attempts.error_fields(error),
    }


MIDDLEWARE = {
    "context": bind_job_context,
    "attempts": record_attempts,
    "attempts_once": record_attempt_once,
    "attempts_batched": record_attempts_batched,
    "time_limits": enforce_time_limits,
}
_local = threading.local()


@app.task(name="bench.noop", queue="default")
def noop() -> None:
    """The unit of the drain benchmarks: all cost is the queue's."""


@app.task(name="bench.probe", queue="default")
def probe(key: int) -> None:
    """Pickup latency: note when the task body starts (after fetch and middleware)."""
    started = time.time()
    store_probe(key, started)


def store_probe(key: int, started: float) -> None:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(database_url(), autocommit=True)
    conn.execute("INSERT INTO bench_probes (key, started) VALUES (%s, %s)", (key, started))


def _select_middleware(choice: str | None) -> None:
    if choice is None:
        return
    names = [] if choice == "none" else [n.strip() for n in choice.split(",") if n.strip()]
    unknown = set(names) - set(MIDDLEWARE)
    if unknown:
        raise ValueError(f"BENCH_MIDDLEWARE: unknown {sorted(unknown)}")
    app.worker_defaults["worker_middleware"] = [mw for n, mw in MIDDLEWARE.items() if n in names]


_select_middleware(os.environ.get("BENCH_MIDDLEWARE"))
