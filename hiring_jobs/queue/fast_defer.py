"""A faster batch insert of jobs, for `queue.defer.batch_defer` to use on large batches.

Procrastinate's `batch_defer` builds, evolves and logs a `Job` object per job, and sends a
composite-type array; on 10,000 jobs that Python work costs more than the INSERT. Here the
jobs of one task share their options, so one INSERT over an array of arguments does it.

Going around Procrastinate: this writes `procrastinate_jobs` directly instead of calling
`procrastinate_defer_jobs_v1`, with the same columns, so the same triggers run (the
`deferred` event, the NOTIFY at commit, the scheduled event). A queueing-lock conflict
raises `AlreadyEnqueued`, as upstream.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import psycopg
from procrastinate import exceptions, jobs

from hiring_jobs.sql import QUEUE

QUEUEING_LOCK_INDEX = "procrastinate_jobs_queueing_lock_idx_v1"


def batch_insert(
    connection: psycopg.Connection[Any], job: jobs.Job, kwargs_list: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert one job per kwargs with `job`'s task and options; ids in input order."""
    params = {
        "queue": job.queue,
        "task": job.task_name,
        "priority": job.priority,
        "lock": job.lock,
        "queueing_lock": job.queueing_lock,
        "scheduled_at": job.scheduled_at,
        "args": [json.dumps(kwargs) for kwargs in kwargs_list],
    }
    try:
        rows = connection.execute(QUEUE["insert_jobs"], params).fetchall()
    except psycopg.errors.UniqueViolation as exc:
        if exc.diag.constraint_name == QUEUEING_LOCK_INDEX:
            raise exceptions.AlreadyEnqueued(
                "Job cannot be enqueued: there is already a job in the queue "
                f"with the queueing lock {job.queueing_lock}"
            ) from exc
        raise
    # Identity values follow the insertion order, which follows the arguments' order.
    return sorted(row[0] for row in rows)
