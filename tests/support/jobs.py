"""Helpers to run and inspect jobs in tests."""

from __future__ import annotations

import asyncio
from typing import Any

from procrastinate import PsycopgConnector
from sqlalchemy import text
from sqlalchemy.orm import Session

from hiring_jobs.app import app, make_connector
from hiring_jobs.queue import batching, control, slots


def run_worker_until_idle(
    queues: list[str] | None = None, concurrency: int = 1, *, periodic: bool = False
) -> None:
    """Run a real worker in this process until no job is left to start, then return.

    Periodic tasks are not deferred unless asked for: a test sees only its own jobs.
    """
    app.perform_import_paths()  # registers the periodic tasks, before we hide them
    registry = app.periodic_registry
    saved = registry.periodic_tasks
    if not periodic:
        registry.periodic_tasks = {}
    try:
        app.run_worker(
            wait=False, queues=queues, concurrency=concurrency, install_signal_handlers=False
        )
    finally:
        registry.periodic_tasks = saved


async def run_batching_worker_until_idle(
    *, batch_size: int, concurrency: int, connector: PsycopgConnector | None = None
) -> None:
    """A worker as `hiring-jobs worker` runs it (batched fetch and finish, job-state
    connector), in this process, until no job is left to start."""
    app.perform_import_paths()
    registry = app.periodic_registry
    saved, registry.periodic_tasks = registry.periodic_tasks, {}
    if connector is None:
        connector = make_connector(max_size=concurrency + 3, job_state=True)
    try:
        with app.replace_connector(connector):
            async with app.open_async():
                worker = batching.make_worker(
                    app,
                    slots=slots.parse("", concurrency=concurrency),
                    batch_size=batch_size,
                    **{**app.worker_defaults, "wait": False},
                    install_signal_handlers=False,
                )
                await asyncio.wait_for(worker.run(), timeout=120)
    finally:
        registry.periodic_tasks = saved


def jobs(session: Session, task_name: str | None = None) -> list[dict[str, Any]]:
    rows = session.execute(
        text(
            "SELECT id, task_name, status, args, queue_name, queueing_lock, priority"
            " FROM procrastinate_jobs"
            " WHERE CAST(:task AS text) IS NULL OR task_name = :task ORDER BY id"
        ),
        {"task": task_name},
    )
    return [dict(row._mapping) for row in rows]


def live_worker(database_url: str, spec: str, name: str) -> int:
    """A worker process's registration as a real one makes it: Procrastinate's row, then
    queue control's report (QueueControl.refresh, the code workers run)."""
    connector = PsycopgConnector(conninfo=database_url)

    async def register() -> int:
        await connector.open_async()
        try:
            row = await connector.execute_query_one_async(
                "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now()) RETURNING id"  # type: ignore[arg-type]
            )
            parsed = slots.parse(spec)
            gate = control.QueueControl(parsed, slots.SlotCounter(parsed), wake=lambda: None)
            await gate.refresh(connector, row["id"], name)
            return int(row["id"])
        finally:
            await connector.close_async()

    return asyncio.run(register())
