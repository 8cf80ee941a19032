"""Every attempt recorded: a worker middleware writes a job_attempts row around each run.

Procrastinate keeps no error, traceback, result or timing on the job; this is where the
dead-letter queue, job status and the admin pages read them from. Being a *worker*
middleware, it wraps sync and async tasks alike, so no task has to remember anything.

Each attempt costs two writes: its `running` row before the task runs (the workers page
and the rescue of stalled jobs read it) and the update at its end. The attempts of one
worker that start (or end) while the previous such write is in flight are written
together, in one statement (queue/coalesce.py): the jobs of a fetched batch start at the
same moment, so under load this is one INSERT and one UPDATE per batch instead of per job.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import socket
import traceback
import weakref
from typing import Any

from procrastinate import JobContext, exceptions
from procrastinate.connector import BaseAsyncConnector
from procrastinate.middleware import AsyncCallNext
from procrastinate.worker import Worker

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

HOSTNAME = socket.gethostname()

START_ATTEMPT = QUEUE["start_attempt"]
FINISH_ATTEMPT = QUEUE["finish_attempt"]
START_ATTEMPTS = QUEUE["start_attempts"]
FINISH_ATTEMPTS = QUEUE["finish_attempts"]


async def record_attempts(call_next: AsyncCallNext, context: JobContext, worker: Worker) -> Any:
    job = context.job
    writer = _writer(worker, context)
    attempt_id = await writer.start(context)
    logger.info("attempt %d of job %s (%s) started", job.attempts + 1, job.id, job.task_name)
    try:
        result = await call_next()
    except BaseException as exc:
        await writer.finish(attempt_id, outcome=outcome_of(exc), error=exc)
        logger.info("attempt of job %s ended: %s: %s", job.id, type(exc).__name__, exc)
        raise
    task = context.app.tasks.get(job.task_name)
    stored = result if task is None or execution_of(task).store_result else None
    await writer.finish(attempt_id, outcome=AttemptOutcome.SUCCEEDED, result=stored)
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
    """One worker's attempt rows: starts written together, ends written together."""

    def __init__(self, connector: BaseAsyncConnector) -> None:
        self._connector = connector
        self._starts: Coalescer[Row, int] = Coalescer(
            one=self._start_one, many=self._start_many, name="start attempts"
        )
        self._ends: Coalescer[Row, None] = Coalescer(
            one=self._finish_one, many=self._finish_many, name="finish attempts"
        )

    async def start(self, context: JobContext) -> int:
        """Write the attempt's `running` row; return its id."""
        job = context.job
        return await self._starts.submit(
            {
                "job_id": job.id,
                "attempt": job.attempts + 1,
                "task_name": job.task_name,
                "queue": job.queue,
                "worker_name": context.worker_name,
                "hostname": HOSTNAME,
                "pid": os.getpid(),
                "request_id": current_request_id(),
            }
        )

    async def finish(
        self,
        attempt_id: int,
        *,
        outcome: AttemptOutcome,
        error: BaseException | None = None,
        result: Any = None,
    ) -> None:
        """Record the attempt's end; never raises: the job's outcome matters more."""
        try:
            await self._ends.submit(
                {
                    "attempt_id": attempt_id,
                    "outcome": outcome.value,
                    "result": _result_json(result),
                    **error_fields(error),
                }
            )
        except Exception:
            logger.exception("could not record the end of attempt %s", attempt_id)

    async def _start_one(self, row: Row) -> int:
        found = await self._connector.execute_query_one_async(
            START_ATTEMPT,  # type: ignore[arg-type]
            **row,
        )
        return int(found["id"])

    async def _start_many(self, rows: list[Row]) -> list[int]:
        found = await self._connector.execute_query_all_async(
            START_ATTEMPTS,  # type: ignore[arg-type]
            **_columns(rows),
        )
        return [int(row["id"]) for row in found]

    async def _finish_one(self, row: Row) -> None:
        await self._connector.execute_query_async(
            FINISH_ATTEMPT,  # type: ignore[arg-type]
            **row,
        )

    async def _finish_many(self, rows: list[Row]) -> list[None]:
        await self._connector.execute_query_async(
            FINISH_ATTEMPTS,  # type: ignore[arg-type]
            **_columns(rows),
        )
        return [None] * len(rows)


def _columns(rows: list[Row]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in rows[0]}


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
