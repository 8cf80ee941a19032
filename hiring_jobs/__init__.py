"""hiring_jobs: background jobs for a hiring platform, kept in PostgreSQL (Procrastinate).

What an application uses, importable from here; everything else is internal:

- `session_scope()`: a SQLAlchemy session that commits at the end (rolls back on error);
- `defer`, `batch_defer`, `defer_async` (with `DeferOptions`): enqueue in that session's
  transaction;
- `TaskFamily` (with `Queue`, `Priority`, the `retry` policies, `TimeLimits`, `Key` and
  `Rate`): declare tasks;
- `PermanentError`: raise it in a task to fail at once, without retries;
- `job_status` / `JobStatus`: a job's state, result or error, by id.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hiring_jobs.db import session_scope
    from hiring_jobs.queue import retry
    from hiring_jobs.queue.defer import DeferOptions, batch_defer, defer, defer_async
    from hiring_jobs.queue.keys import Key
    from hiring_jobs.queue.queues import Priority, Queue
    from hiring_jobs.queue.rate_limit import Rate
    from hiring_jobs.queue.retry import PermanentError
    from hiring_jobs.queue.status import JobStatus, job_status
    from hiring_jobs.queue.time_limits import TimeLimits
    from hiring_jobs.tasks.family import TaskFamily

# Imported on first use: `import hiring_jobs.settings` (the CLI, the embedded server, worker
# children) stays as cheap as before and no submodule import can run into a cycle here.
_HOMES = {
    "session_scope": "hiring_jobs.db",
    "retry": "hiring_jobs.queue",
    "DeferOptions": "hiring_jobs.queue.defer",
    "batch_defer": "hiring_jobs.queue.defer",
    "defer": "hiring_jobs.queue.defer",
    "defer_async": "hiring_jobs.queue.defer",
    "Key": "hiring_jobs.queue.keys",
    "Priority": "hiring_jobs.queue.queues",
    "Queue": "hiring_jobs.queue.queues",
    "PermanentError": "hiring_jobs.queue.retry",
    "Rate": "hiring_jobs.queue.rate_limit",
    "JobStatus": "hiring_jobs.queue.status",
    "job_status": "hiring_jobs.queue.status",
    "TimeLimits": "hiring_jobs.queue.time_limits",
    "TaskFamily": "hiring_jobs.tasks.family",
}
__all__ = [  # the names of _HOMES, listed for readers and linters
    "DeferOptions",
    "JobStatus",
    "Key",
    "PermanentError",
    "Priority",
    "Queue",
    "Rate",
    "TaskFamily",
    "TimeLimits",
    "batch_defer",
    "defer",
    "defer_async",
    "job_status",
    "retry",
    "session_scope",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'hiring_jobs' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
