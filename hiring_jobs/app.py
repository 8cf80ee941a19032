"""The Procrastinate app: one per process, shared by the CLI, the web app and the workers.

The stock CLI works on it too: `procrastinate --app=hiring_jobs.app.app worker`.
"""

from __future__ import annotations

import time
import weakref
from typing import Any, LiteralString

import psycopg
from procrastinate import App, PsycopgConnector, connector
from procrastinate.psycopg_connector import wrap_exceptions
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from hiring_jobs.db import database_url
from hiring_jobs.queue import manager
from hiring_jobs.queue.attempts import record_attempts
from hiring_jobs.queue.context import bind_job_context
from hiring_jobs.queue.execution import execute
from hiring_jobs.settings import get_settings
from hiring_jobs.tracing import trace_job

# Pool size when nothing else is said: the web app and the CLI defer on their own
# SQLAlchemy connections, so the pool serves listen/notify, fetching and admin queries.
DEFAULT_POOL_SIZE = 4
# A pooled connection back in the pool for less than this is not pinged again when it is
# checked out. Procrastinate pings on every checkout (one more round trip per query); under
# load connections come back within milliseconds, while one idle for longer (a database
# restart may have killed it) is still checked.
CHECK_IDLE_SECONDS = 1.0
# Worker connections move job state only (fetch, finish, retry, heartbeats, attempt
# records): their commits do not wait for the WAL flush. Safe for what ends a run
# because delivery is at least once: PostgreSQL writes WAL in order, so a crash loses at
# most the last moments of job-state changes, and a lost "succeeded" or retry runs the
# job again (rescue of stalled jobs), after the run. Not for what starts one or keeps it
# alive: the fetch and the lease renewals set synchronous_commit on for their own commit
# (hiring_jobs/sql/queue.sql), as a fetch lost while its job runs would let a second
# worker run it at the same time. Never for enqueueing: `queue.defer` uses the caller's
# own connection.
#
# JIT off: queue statements are short index lookups, but their generic plans carry huge
# cost estimates on a big table (a LIMIT taken from a column is estimated as a tenth of
# the table), so a server with JIT enabled compiled the fetch on every execution: 300-900
# ms per fetch with 100,000 jobs waiting, measured on PostgreSQL 15 with LLVM.
#
# Plans that go stale: a connection keeps the generic plan of each statement it
# prepared, made for the table as it was then. A worker started on an empty queue kept,
# once a burst of 60,000 jobs arrived, a fetch that found its 8 rows by scanning the
# table (20-50 ms a call) and that read every waiting job through another partial index
# and sorted them (25 ms), until an ANALYZE (never, on a server without autovacuum; up to
# a minute late with it): completion fell from 850 to 130-300 jobs/s (`hiring-jobs
# bench --sections backlog`). Sequential scans are off on these connections (every
# worker statement has an index to use; a table without one is still scanned), and a
# connection is replaced after JOB_STATE_CONNECTION_SECONDS, so its statements are
# planned again for the table as it is. Planning every execution instead
# (plan_cache_mode) doubled the server's CPU per job.
JOB_STATE_SETTINGS = "SET synchronous_commit TO off; SET jit TO off; SET enable_seqscan TO off"
JOB_STATE_CONNECTION_SECONDS = 60.0

_returned_at: weakref.WeakKeyDictionary[AsyncConnection[Any], float] = weakref.WeakKeyDictionary()


def make_connector(
    *, max_size: int = DEFAULT_POOL_SIZE, job_state: bool = False, **pool_args: Any
) -> PsycopgConnector:
    """Procrastinate's connector on a tuned pool: autocommit, pings only after idling.

    `job_state=True` is for worker processes (see JOB_STATE_SETTINGS).
    """
    # The URL is resolved when the pool opens, not at import: importing the app
    # must not start the embedded server or need a database.
    if job_state:
        pool_args.setdefault("max_lifetime", JOB_STATE_CONNECTION_SECONDS)
    return QueueConnector(
        conninfo=database_url,
        min_size=1,
        max_size=max_size,
        pool_factory=_tuned_pool,
        configure=_configure_job_state if job_state else _configure,
        **pool_args,
    )


class QueueConnector(PsycopgConnector):
    """Procrastinate's connector, with a notification loop that costs less per message.

    Every job inserted sends a notification to every listening worker process: 100,000
    jobs deferred at once are 100,000 messages each. Upstream's loop waits for each one
    through `asyncio.wait_for` (a task and a timer per message): 2.1 s of CPU per 100,000
    messages against 0.25 s for psycopg's own iterator (QueueJobManager.listen_for_jobs
    skips the JSON and the log record of the common message too). `_loop_notify`,
    `_get_cursor` and `_wrap_json` are private: tests/queue/test_manager.py fails when an
    upgrade changes them.
    """

    @wrap_exceptions()
    async def execute_query_all_unprepared_async(
        self, query: LiteralString, **arguments: Any
    ) -> list[dict[str, Any]]:
        """`execute_query_all_async`, never as a prepared statement: planned on each call
        for the table as it is then (a prepared plan keeps the table as it was)."""
        async with self._get_cursor() as cursor:
            await cursor.execute(query, self._wrap_json(arguments), prepare=False)
            return await cursor.fetchall()

    @wrap_exceptions()
    async def _loop_notify(
        self,
        on_notification: connector.Notify,
        connection: psycopg.AsyncConnection,
        timeout: float = connector.LISTEN_TIMEOUT,
    ) -> None:
        while True:
            try:
                # Upstream pings after `timeout` without a message; this pings every
                # `timeout` (the connection is checked as often, busy or not).
                async for notification in connection.notifies(timeout=timeout):
                    await on_notification(
                        channel=notification.channel, payload=notification.payload
                    )
                await connection.execute("SELECT 1")
            except psycopg.OperationalError:
                break  # the connection is dead: listen_notify reconnects


async def _configure(conn: AsyncConnection[Any]) -> None:
    # Every Procrastinate query is one statement (its SQL functions are atomic), so
    # autocommit saves the BEGIN and COMMIT round trips of each. Not passed as
    # kwargs={"autocommit": True}: listen_notify then fails on a duplicate keyword.
    await conn.set_autocommit(True)


async def _configure_job_state(conn: AsyncConnection[Any]) -> None:
    await _configure(conn)
    await conn.execute(JOB_STATE_SETTINGS)


def _tuned_pool(**pool_args: Any) -> AsyncConnectionPool:
    # Procrastinate's documented `pool_factory` hook; it passes check=check_connection,
    # which we replace by a check that skips connections returned moments ago.
    return AsyncConnectionPool(**{**pool_args, "check": _check_if_idle, "reset": _note_return})


async def _check_if_idle(conn: AsyncConnection[Any]) -> None:
    returned = _returned_at.get(conn)
    if returned is None or time.monotonic() - returned >= CHECK_IDLE_SECONDS:
        await AsyncConnectionPool.check_connection(conn)


async def _note_return(conn: AsyncConnection[Any]) -> None:
    _returned_at[conn] = time.monotonic()


app = App(
    connector=make_connector(),
    # Every worker, ours or the stock CLI's, records every attempt (errors, results, timing)
    # and runs tasks the same way (child processes, limits, leases: queue/execution.py).
    # Outermost first: log context (and request id), the attempt's trace span (when
    # tracing is configured), then the attempt record, then the execution, so a timed-out
    # or stopped attempt is recorded like any other.
    worker_defaults={"worker_middleware": [bind_job_context, trace_job, record_attempts, execute]},
    # HIRING_JOBS_TASK_MODULES adds modules that register more tasks on this app.
    import_paths=["hiring_jobs.tasks", *get_settings().task_modules],
)
# Fetch, finish and heartbeat with leases, fencing and poison-row handling, for every
# worker loop (installed before any task is deferred: tasks read it at defer time).
manager.install(app)
