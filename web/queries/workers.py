"""Workers: Procrastinate knows ids and heartbeats; our attempts add host, pid and queues."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy.orm import Session

from hiring_jobs.settings import get_settings
from hiring_jobs.sql import QUEUE, run
from web.queries import overview
from web.sql import ADMIN


def registrations(session: Session) -> dict[int, dict[str, Any]]:
    return {
        row.worker_id: dict(row._mapping) for row in run(session, QUEUE["worker_registrations"])
    }


def registration(session: Session, worker_id: int | None) -> dict[str, Any] | None:
    if worker_id is None:
        return None
    row = run(session, ADMIN["worker_registration"], {"worker_id": worker_id}).one_or_none()
    return None if row is None else dict(row._mapping)


def slot_use(slots: dict[str, int], running: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Busy and total slots per bucket: a named queue, or "*" for the queues not named."""
    busy = dict.fromkeys(slots, 0)
    for job in running:
        bucket = job["queue_name"] if job["queue_name"] in slots else "*"
        busy[bucket] = busy.get(bucket, 0) + 1
    return [{"queue": queue, "busy": busy[queue], "slots": slots.get(queue)} for queue in busy]


def running_by_worker(session: Session) -> dict[int, list[dict[str, Any]]]:
    found: dict[int, list[dict[str, Any]]] = {}
    for row in run(session, QUEUE["running_by_worker"]):
        found.setdefault(row.worker_id, []).append(dict(row._mapping))
    return found


def processes_seen(
    session: Session, running: dict[int, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Processes by their recorded attempts, with how many jobs each runs now."""
    now = Counter(job["worker_name"] for jobs in running.values() for job in jobs)
    return [
        dict(row._mapping, running=now[row.worker_name])
        for row in run(session, ADMIN["processes_seen"])
    ]


def workers_data(session: Session) -> dict[str, Any]:
    running = running_by_worker(session)
    return {
        "workers": overview.workers(session),
        "running": running,
        "registered": registrations(session),
        "slot_use": slot_use,
        "processes": processes_seen(session, running),
        "stalled_jobs": overview.stalled_jobs(session),
        "heartbeat": get_settings().heartbeat_seconds,
        "stalled_after": get_settings().stalled_after_seconds,
    }
