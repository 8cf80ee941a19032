"""A worker process records who it is once Procrastinate has registered it, and what it
applies now: the one writer of `worker_processes`.

Procrastinate's `procrastinate_workers` row holds an id and a heartbeat. The workers page
also needs the process's name, host, pid, per-queue slots and pool settings, idle or not,
and a job's page links its `worker_id` to that name; queue control (queue/control.py)
reports the slots the process applies now and the queues it holds paused, so
`hiring-jobs queues` and the pages say which workers serve a queue. Either may come first:
each statement creates the row if it is not there yet.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Iterable
from typing import Any

from procrastinate import App
from procrastinate.connector import BaseAsyncConnector
from procrastinate.worker import Worker

from hiring_jobs.queue.slots import QueueSlots
from hiring_jobs.settings import Settings
from hiring_jobs.sql import QUEUE

logger = logging.getLogger(__name__)

REGISTRATION_POLL_SECONDS = 0.05
REGISTRATION_WAIT_SECONDS = 120.0


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
        await record(app.connector, worker_id, name, slots, pool)
    except Exception:  # the page shows less; the worker must keep working
        logger.exception("could not record worker %s as %s", worker_id, name)
        return None
    return worker_id


async def record(
    connector: BaseAsyncConnector,
    worker_id: int,
    name: str,
    slots: QueueSlots,
    pool: dict[str, Any],
) -> None:
    """This process's row under `worker_id`, and rows of gone registrations removed."""
    await connector.execute_query_async(
        QUEUE["record_worker_process"],  # type: ignore[arg-type]
        **_process(worker_id, name, slots),
        pool=json.dumps(pool),
    )


async def report_applied(
    connector: BaseAsyncConnector,
    worker_id: int,
    name: str,
    slots: QueueSlots,
    applied: dict[str, int],
    paused: Iterable[str],
) -> None:
    """What this process applies now: slots per bucket, and the queues it holds paused."""
    await connector.execute_query_async(
        QUEUE["report_worker_applied"],  # type: ignore[arg-type]
        **_process(worker_id, name, slots),
        applied=json.dumps(applied),
        paused=json.dumps(sorted(paused)),
    )


def _process(worker_id: int, name: str, slots: QueueSlots) -> dict[str, Any]:
    """This process as both statements record it."""
    return {
        "worker_id": worker_id,
        "worker_name": name,
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "concurrency": slots.total,
        "slots": json.dumps(slots.limits()),
    }


async def forget(connector: BaseAsyncConnector, worker_id: int) -> None:
    """The process stops: its row goes (Procrastinate removes its registration too)."""
    await connector.execute_query_async(
        QUEUE["forget_worker_process"],  # type: ignore[arg-type]
        worker_id=worker_id,
    )
