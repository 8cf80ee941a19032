"""A worker process records who it is once Procrastinate has registered it.

Procrastinate's `procrastinate_workers` row holds an id and a heartbeat. The workers page
also needs the process's name, host, pid, per-queue slots and pool settings, idle or not,
and a job's page links its `worker_id` to that name: this writes them to
`worker_processes`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from typing import Any

from procrastinate import App
from procrastinate.worker import Worker

from hiring_jobs.queue.slots import QueueSlots
from hiring_jobs.settings import Settings

logger = logging.getLogger(__name__)

REGISTRATION_POLL_SECONDS = 0.05
REGISTRATION_WAIT_SECONDS = 120.0

# One statement: the row, and the rows of registrations Procrastinate has since removed.
RECORD_WORKER_PROCESS = """
WITH gone AS (
    DELETE FROM worker_processes p
    WHERE NOT EXISTS (SELECT 1 FROM procrastinate_workers w WHERE w.id = p.worker_id)
)
INSERT INTO worker_processes (worker_id, worker_name, hostname, pid, concurrency, slots, pool)
VALUES (%(worker_id)s, %(worker_name)s, %(hostname)s, %(pid)s, %(concurrency)s,
        %(slots)s::jsonb, %(pool)s::jsonb)
ON CONFLICT (worker_id) DO UPDATE
   SET worker_name = EXCLUDED.worker_name, hostname = EXCLUDED.hostname,
       pid = EXCLUDED.pid, concurrency = EXCLUDED.concurrency, slots = EXCLUDED.slots,
       pool = EXCLUDED.pool
"""


def pool_details(settings: Settings, *, processes: int, batch_size: int) -> dict[str, Any]:
    """How a worker process runs its jobs, as the workers page shows it."""
    return {
        "processes": processes,
        "batch_size": batch_size,
        "max_tasks_per_child": settings.max_tasks_per_child,
        "max_memory_per_child_mib": settings.max_memory_per_child_mib,
        "shutdown_timeout_seconds": settings.shutdown_timeout,
        "heartbeat_seconds": settings.heartbeat_seconds,
    }


async def record_when_registered(
    app: App, worker: Worker, slots: QueueSlots, name: str, pool: dict[str, Any]
) -> int | None:
    """Wait until `worker` has its id (Procrastinate registers it as `run()` starts), then
    record the process under it; returns the id, or None if it never registered."""
    waited = 0.0
    while worker.worker_id is None:
        if waited >= REGISTRATION_WAIT_SECONDS:
            return None
        await asyncio.sleep(REGISTRATION_POLL_SECONDS)
        waited += REGISTRATION_POLL_SECONDS
    worker_id = worker.worker_id
    try:
        await app.connector.execute_query_async(
            RECORD_WORKER_PROCESS,
            worker_id=worker_id,
            worker_name=name,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            concurrency=slots.total,
            slots=json.dumps(slots.limits()),
            pool=json.dumps(pool),
        )
    except Exception:  # the page shows less; the worker must keep working
        logger.exception("could not record worker %s as %s", worker_id, name)
        return None
    return worker_id
