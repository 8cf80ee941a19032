"""Every attempt recorded: a worker middleware writes one job_attempts row per run.

Procrastinate keeps no error, traceback, result or timing on the job; this is where the
dead-letter queue, job status and the admin pages read them from. Being a *worker*
middleware, it wraps sync and async tasks alike, so no task has to remember anything.

Each attempt is written once, at its end, with its start time: what runs now is known
without it (a `doing` job, the `started` event Procrastinate's trigger writes when the job
is fetched, and its worker's registration), and one insert per run instead of an insert
and an update writes one row version, with its index entries, instead of two (WAL per
no-op job 4,119 -> 3,684 B, `hiring-jobs bench --sections writes`). A run whose end
cannot be written (its worker killed) gets its row from the rescue, as `interrupted`. The
ends of one worker's attempts that arrive while the previous write is in flight are
written together, in one statement (queue/coalesce.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import os
import re
import socket
import time
import traceback
import weakref
from datetime import UTC, datetime
from typing import Any

import psycopg
from procrastinate import JobContext, exceptions
from procrastinate.connector import BaseAsyncConnector
from procrastinate.middleware import AsyncCallNext
from procrastinate.worker import Worker
from psycopg_pool import PoolTimeout

from hiring_jobs.logs import current_request_id
from hiring_jobs.models import AttemptOutcome
from hiring_jobs.queue.coalesce import Coalescer
from hiring_jobs.queue.execution import LeaseLost, execution_of
from hiring_jobs.queue.time_limits import HardTimeLimitExceeded, SoftTimeLimitExceeded
from hiring_jobs.sql import QUEUE

logger = logging.getLogger(__name__)

# Bounded sizes: one huge traceback or result must not bloat the table.
MAX_TRACEBACK_CHARS = 32_000
MAX_MESSAGE_CHARS = 2_000
MAX_TYPE_CHARS = 200  # job_attempts.exception_type
MAX_RESULT_BYTES = 64_000

# Waits before writing an attempt again while the database is unreachable (a restart):
# 15.5 s in all. The job's finish comes after this write; if the database stays away
# longer, the worker's lease ends, its jobs are rescued, and the rescue writes the row.
RECORD_RETRY_SECONDS = (0.5, 1.0, 2.0, 4.0, 8.0)

HOSTNAME = socket.gethostname()

RECORD_ATTEMPTS = QUEUE["record_attempts"]


@dataclasses.dataclass(frozen=True)
class Started:
    """A run as it began: what its row will say about where and when."""

    job_id: int
    attempt: int
    worker_id: int | None  # the registration that fetched the job: with the two above, the run
    task_name: str
    queue: str
    worker_name: str | None
    request_id: str | None
    started_at: datetime
    monotonic: float

    @classmethod
    def of(cls, context: JobContext) -> Started:
        job = context.job
        assert job.id is not None
        return cls(
            job_id=job.id,
            attempt=job.attempts + 1,
            worker_id=job.worker_id,
            task_name=job.task_name,
            queue=job.queue,
            worker_name=context.worker_name,
            request_id=current_request_id(),
            started_at=datetime.now(UTC),
            monotonic=time.monotonic(),
        )


async def record_attempts(call_next: AsyncCallNext, context: JobContext, worker: Worker) -> Any:
    started = Started.of(context)
    writer = _writer(worker, context)
    job = context.job
    logger.info("attempt %d of job %s (%s) started", started.attempt, job.id, job.task_name)
    try:
        result = await call_next()
    except BaseException as exc:
        await writer.record(started, outcome=outcome_of(exc), error=exc)
        logger.info("attempt of job %s ended: %s: %s", job.id, type(exc).__name__, exc)
        raise
    task = context.app.tasks.get(job.task_name)
    stored = result if task is None or execution_of(task).store_result else None
    await writer.record(started, outcome=AttemptOutcome.SUCCEEDED, result=stored)
    return result


def outcome_of(exc: BaseException) -> AttemptOutcome:
    if isinstance(exc, LeaseLost):
        return AttemptOutcome.INTERRUPTED
    if isinstance(exc, HardTimeLimitExceeded | SoftTimeLimitExceeded):
        return AttemptOutcome.TIMED_OUT
    if isinstance(exc, exceptions.JobAborted | asyncio.CancelledError):
        return AttemptOutcome.ABORTED
    return AttemptOutcome.FAILED


Row = dict[str, Any]


class AttemptWriter:
    """One worker's attempt rows, written at their end; ends that wait go together."""

    def __init__(self, connector: BaseAsyncConnector) -> None:
        self._connector = connector
        self._rows: Coalescer[Row, None] = Coalescer(
            one=self._write_one, many=self._write, name="record attempts"
        )

    async def record(
        self,
        started: Started,
        *,
        outcome: AttemptOutcome,
        error: BaseException | None = None,
        result: Any = None,
    ) -> None:
        """Write the attempt's row; never raises: the job's outcome matters more.

        While the database is unreachable the write is tried again a few times; a run
        whose row is never written is recorded by the rescue as `interrupted`.
        """
        row = attempt_row(started, outcome=outcome, error=error, result=result)
        for wait in (*RECORD_RETRY_SECONDS, None):
            try:
                await self._rows.submit(row)
                return
            except Exception as exc:
                if wait is None or not unreachable(exc):
                    logger.exception(
                        "could not record attempt %s of job %s", started.attempt, started.job_id
                    )
                    return
                logger.warning(
                    "the database is unreachable; recording attempt %s of job %s again in %s s",
                    started.attempt,
                    started.job_id,
                    wait,
                )
                await asyncio.sleep(wait)

    async def _write_one(self, row: Row) -> None:
        await self._write([row])

    async def _write(self, rows: list[Row]) -> list[None]:
        await self._connector.execute_query_async(RECORD_ATTEMPTS, **columns(rows))  # type: ignore[arg-type]
        return [None] * len(rows)


def columns(rows: list[Row]) -> dict[str, list[Any]]:
    """record_attempts' parameters: one array per column."""
    return {name: [row[name] for row in rows] for name in rows[0]}


def attempt_row(
    started: Started,
    *,
    outcome: AttemptOutcome,
    error: BaseException | None = None,
    result: Any = None,
) -> Row:
    """The job_attempts row of a run that ended now (record_attempts' parameters, one each)."""
    return {
        "job_id": started.job_id,
        "attempt": started.attempt,
        "worker_id": started.worker_id,
        "task_name": started.task_name,
        "queue": started.queue,
        "outcome": outcome.value,
        "started_at": started.started_at,
        "duration_ms": (time.monotonic() - started.monotonic) * 1000,
        "worker_name": started.worker_name,
        "hostname": HOSTNAME,
        "pid": os.getpid(),
        "request_id": started.request_id,
        "result": _result_json(result),
        **error_fields(error),
    }


def unreachable(exc: BaseException) -> bool:
    """The database could not be reached (as opposed to a statement it refused)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, psycopg.OperationalError | PoolTimeout | OSError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# One writer per worker (a worker runs on one event loop and one connector).
_writers: weakref.WeakKeyDictionary[Worker, AttemptWriter] = weakref.WeakKeyDictionary()


def _writer(worker: Worker, context: JobContext) -> AttemptWriter:
    writer = _writers.get(worker)
    if writer is None:
        writer = _writers[worker] = AttemptWriter(context.app.connector)  # type: ignore[arg-type]
    return writer


def _fit(text: str, limit: int) -> str:
    """At most `limit` characters, keeping the end (the class name is the telling part)."""
    return text if len(text) <= limit else "\u2026" + text[-(limit - 1) :]


def error_fields(error: BaseException | None) -> dict[str, str | None]:
    if error is None:
        return dict.fromkeys(("exception_type", "error_message", "traceback", "error_fingerprint"))
    exception_type = _fit(f"{type(error).__module__}.{type(error).__qualname__}", MAX_TYPE_CHARS)
    message = str(error)[:MAX_MESSAGE_CHARS]
    return {
        "exception_type": exception_type,
        "error_message": message,
        "traceback": "".join(traceback.format_exception(error))[-MAX_TRACEBACK_CHARS:],
        "error_fingerprint": fingerprint(exception_type, message),
    }


_VARIABLE_PARTS = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I), "<uuid>"),
    (re.compile(r"'[^']*'|\"[^\"]*\""), "<str>"),
    (re.compile(r"0x[0-9a-f]+|\b[0-9a-f]{16,}\b", re.I), "<hex>"),
    (re.compile(r"\d+(\.\d+)?"), "<n>"),
    (re.compile(r"\s+"), " "),
]


def normalise_message(message: str) -> str:
    """The message with its variable parts (ids, numbers, quoted values) replaced."""
    for pattern, replacement in _VARIABLE_PARTS:
        message = pattern.sub(replacement, message)
    return message.strip()[:500]


def fingerprint(exception_type: str, message: str) -> str:
    """Groups failures that are the same problem: type plus normalised message."""
    key = f"{exception_type}\n{normalise_message(message)}"
    return hashlib.sha1(key.encode()).hexdigest()


def _result_json(result: Any) -> str | None:
    if result is None:
        return None
    try:
        encoded = json.dumps(result, default=str)
    except (TypeError, ValueError):
        encoded = json.dumps({"repr": repr(result)[:1000]})
    if len(encoded) > MAX_RESULT_BYTES:
        return json.dumps({"truncated": True, "bytes": len(encoded)})
    return encoded
