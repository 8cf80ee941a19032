"""Defer jobs inside the caller's SQLAlchemy transaction: the one way to enqueue.

The job row is inserted on the session's own psycopg connection, so the application's
writes and the job commit or roll back together, and workers (woken by the NOTIFY that
PostgreSQL delivers at commit) never see a job whose data is not there.

Why not `task.configure(connection=...).defer()` directly: inside a running worker the
app's connector is open in async mode, and its sync path then fails on a sync
connection. A `JobManager` over a connector that is never opened only ever runs queries
on the connection we hand it, in whichever mode we call it.
See https://procrastinate.readthedocs.io/en/stable/howto/production/external_connection.html
"""

from __future__ import annotations

import logging
from typing import Any, TypedDict

from procrastinate import PsycopgConnector, SyncPsycopgConnector
from procrastinate.jobs import JobDeferrer
from procrastinate.manager import JobManager
from procrastinate.tasks import Task
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from hiring_jobs import tracing
from hiring_jobs.app import app
from hiring_jobs.logs import REQUEST_ID_ARG, current_request_id
from hiring_jobs.queue import fast_defer

logger = logging.getLogger(__name__)

# Batches this large skip Procrastinate's per-job work (see batch_defer).
FAST_BATCH_MIN = 100

# Never opened: they only run queries on the connections passed to them. The one seam
# between a SQLAlchemy session and Procrastinate (queue/operations.py uses it too).
sync_manager = JobManager(SyncPsycopgConnector())
_async_manager = JobManager(PsycopgConnector())


class DeferOptions(TypedDict, total=False):
    """Per-job overrides of the task's defaults (see Procrastinate's `Task.configure`)."""

    lock: str
    queueing_lock: str
    schedule_in: dict[str, float]
    schedule_at: Any  # a timezone-aware datetime
    queue: str
    priority: int


def defer(
    session: Session,
    task: Task[..., Any, Any] | str,
    /,
    *,
    options: DeferOptions | None = None,
    **task_kwargs: Any,
) -> int:
    """Insert one job in the session's transaction and return its id.

    `task` is a task object or a registered task name. A queueing-lock conflict raises
    `procrastinate.exceptions.AlreadyEnqueued` and leaves the session's transaction usable.
    """
    return batch_defer(session, task, [task_kwargs], options=options)[0]


def batch_defer(
    session: Session,
    task: Task[..., Any, Any] | str,
    kwargs_list: list[dict[str, Any]],
    /,
    *,
    options: DeferOptions | None = None,
) -> list[int]:
    """Insert several jobs of one task with a single statement, in the session's transaction.

    From FAST_BATCH_MIN jobs on, the insert skips Procrastinate's per-job Python work
    (queue/fast_defer.py): 10,000 jobs in about 0.4 s instead of 0.7 s.
    """
    if not kwargs_list:
        return []
    with tracing.defer_span(_name_of(task), len(kwargs_list)) as trace_args:
        kwargs_list = [
            tracing.with_trace(_with_request_id(kwargs), trace_args) for kwargs in kwargs_list
        ]
        if options and "queueing_lock" in options:
            # A conflict aborts the transaction it happens in: confine it to a savepoint
            # (SQLAlchemy emits SAVEPOINT when the connection is asked for inside the block).
            with session.begin_nested():
                return _insert(session, task, options, kwargs_list)
        return _insert(session, task, options, kwargs_list)


def _insert(
    session: Session,
    task: Task[..., Any, Any] | str,
    options: DeferOptions | None,
    kwargs_list: list[dict[str, Any]],
) -> list[int]:
    deferrer = _deferrer(task, options, sync_manager, driver(session))
    if len(kwargs_list) >= FAST_BATCH_MIN:
        ids = fast_defer.batch_insert(driver(session), deferrer.job, kwargs_list)
        logger.info("deferred %d %s jobs", len(ids), deferrer.job.task_name)
        return ids
    return deferrer.batch_defer(*kwargs_list)


async def defer_async(
    session: AsyncSession,
    task: Task[..., Any, Any] | str,
    /,
    *,
    options: DeferOptions | None = None,
    **task_kwargs: Any,
) -> int:
    """`defer` for an `AsyncSession` (async tasks, async web handlers)."""
    with tracing.defer_span(_name_of(task), 1) as trace_args:
        task_kwargs = tracing.with_trace(_with_request_id(task_kwargs), trace_args)
        if options and "queueing_lock" in options:
            async with session.begin_nested():
                deferrer = _deferrer(task, options, _async_manager, await _async_driver(session))
                return await deferrer.defer_async(**task_kwargs)
        deferrer = _deferrer(task, options, _async_manager, await _async_driver(session))
        return await deferrer.defer_async(**task_kwargs)


def _name_of(task: Task[..., Any, Any] | str) -> str:
    return task if isinstance(task, str) else task.name


def _deferrer(
    task: Task[..., Any, Any] | str,
    options: DeferOptions | None,
    manager: JobManager,
    connection: Any,
) -> JobDeferrer:
    # configure() applies the task's defaults (queue, priority, locks) and our overrides.
    configured = (
        app.configure_task(task, **(options or {}))
        if isinstance(task, str)
        else task.configure(**(options or {}))
    )
    return JobDeferrer(job_manager=manager, job=configured.job, connection=connection)


def _with_request_id(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Carry the current request id into the job (see hiring_jobs.logs)."""
    request_id = current_request_id()
    if request_id is None or REQUEST_ID_ARG in kwargs:
        return kwargs
    return {**kwargs, REQUEST_ID_ARG: request_id}


def driver(session: Session) -> Any:
    """The session's psycopg connection, inside its current transaction or savepoint."""
    return session.connection().connection.driver_connection


async def _async_driver(session: AsyncSession) -> Any:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection
