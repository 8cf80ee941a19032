"""The Procrastinate app: one per process, shared by the CLI, the web app and the workers.

The stock CLI works on it too: `procrastinate --app=hiring_jobs.app.app worker`.
"""

from __future__ import annotations

from typing import Any

from procrastinate import App, PsycopgConnector

from hiring_jobs.db import database_url
from hiring_jobs.queue.attempts import record_attempts
from hiring_jobs.queue.context import bind_job_context
from hiring_jobs.queue.time_limits import enforce_time_limits
from hiring_jobs.settings import get_settings

# Pool size when nothing else is said: the web app and the CLI defer on their own
# SQLAlchemy connections, so the pool serves listen/notify, fetching and admin queries.
DEFAULT_POOL_SIZE = 4


def make_connector(*, max_size: int = DEFAULT_POOL_SIZE, **pool_args: Any) -> PsycopgConnector:
    # The URL is resolved when the pool opens, not at import: importing the app
    # must not start the embedded server or need a database.
    return PsycopgConnector(conninfo=database_url, min_size=1, max_size=max_size, **pool_args)


app = App(
    connector=make_connector(),
    # Every worker, ours or the stock CLI's, records every attempt (errors, results, timing).
    # Outermost first: log context (and request id), then the attempt record, then the
    # time limits, so a timed-out attempt is recorded like any other.
    worker_defaults={"worker_middleware": [bind_job_context, record_attempts, enforce_time_limits]},
    # HIRING_JOBS_TASK_MODULES adds modules that register more tasks on this app.
    import_paths=["hiring_jobs.tasks", *get_settings().task_modules],
)
