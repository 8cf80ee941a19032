"""Workers: Procrastinate knows ids and heartbeats; our attempts add host, pid and queues."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hiring_jobs.settings import get_settings
from hiring_jobs.sql import QUEUE, run
from web.queries import overview
from web.sql import ADMIN


def running_by_worker(session: Session) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    for row in run(session, QUEUE["running_by_worker"]):
        found.setdefault(row.worker_id, []).append(dict(row._mapping))
    return found


def processes_seen(session: Session) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in run(session, ADMIN["processes_seen"])]


def workers_data(session: Session) -> dict[str, Any]:
    return {
        "workers": overview.workers(session),
        "running": running_by_worker(session),
        "processes": processes_seen(session),
        "stalled_jobs": overview.stalled_jobs(session),
        "heartbeat": get_settings().heartbeat_seconds,
        "stalled_after": get_settings().stalled_after_seconds,
    }
