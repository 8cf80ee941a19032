"""The numbers on the overview page, the queue-stats API and /health/detailed.

Each query is bounded by an index: per queue and status the count stops at COUNT_CAP + 1,
the oldest waiting job is one index probe per queue, throughput reads rolled-up minutes.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from procrastinate import App
from sqlalchemy.orm import Session

from hiring_jobs.queue import control
from hiring_jobs.queue.throughput import per_bucket
from hiring_jobs.settings import get_settings
from hiring_jobs.sql import QUEUE, run
from web.queries import periodic
from web.queries.jobs import COUNT_CAP, CappedCount

# A queue whose oldest ready job waited this long is not being served.
UNSERVED_AFTER_SECONDS = 300.0


@dataclasses.dataclass(frozen=True)
class QueueStats:
    name: str
    counts: dict[str, CappedCount]
    oldest_waiting_seconds: float | None

    @property
    def waiting(self) -> int:
        return self.counts["todo"].value

    def as_dict(self) -> dict[str, Any]:
        return {
            "queue": self.name,
            "counts": {status: count.as_dict() for status, count in self.counts.items()},
            "oldest_waiting_seconds": self.oldest_waiting_seconds,
        }


def queue_names(session: Session) -> list[str]:
    return [row.name for row in run(session, QUEUE["queue_names"])]


def queue_stats(session: Session) -> list[QueueStats]:
    rows = run(session, QUEUE["queue_status_counts"], {"cap": COUNT_CAP + 1})
    counts: dict[str, dict[str, CappedCount]] = {}
    for row in rows:
        counts.setdefault(row.queue, {})[row.status] = CappedCount(
            min(row.n, COUNT_CAP), row.n > COUNT_CAP
        )
    oldest = oldest_waiting(session, list(counts))
    return [
        QueueStats(name, by_status, oldest.get(name)) for name, by_status in sorted(counts.items())
    ]


def oldest_waiting(session: Session, queues: list[str]) -> dict[str, float]:
    now = datetime.now(UTC)
    rows = run(session, QUEUE["oldest_waiting"], {"queues": queues})
    return {row.queue: (now - row.since).total_seconds() for row in rows if row.since}


@dataclasses.dataclass(frozen=True)
class Bucket:
    start: datetime
    succeeded: int
    failed: int

    @property
    def total(self) -> int:
        return self.succeeded + self.failed

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.total if self.total else None


def throughput(session: Session, *, window: timedelta, minutes: int) -> list[Bucket]:
    """Finished jobs per bucket over the window, oldest bucket first, empty ones included."""
    now = datetime.now(UTC)
    step = timedelta(minutes=minutes)
    origin = datetime(2000, 1, 1, tzinfo=UTC)
    first = origin + ((now - window - origin) // step + 1) * step
    starts = [first + step * i for i in range(int(window / step))]
    # Rolled-up minutes plus the live tail (hiring_jobs.queue.throughput), per bucket.
    counts = per_bucket(session, first, step)
    return [Bucket(start, *counts.get(index, (0, 0))) for index, start in enumerate(starts)]


def summarize(buckets: list[Bucket]) -> dict[str, Any]:
    succeeded = sum(b.succeeded for b in buckets)
    failed = sum(b.failed for b in buckets)
    total = succeeded + failed
    return {
        "succeeded": succeeded,
        "failed": failed,
        "finished": total,
        "failure_rate": failed / total if total else None,
    }


@dataclasses.dataclass(frozen=True)
class WorkerRow:
    id: int
    last_heartbeat: datetime
    heartbeat_age: float
    running: int

    @property
    def live(self) -> bool:
        return self.heartbeat_age <= get_settings().stalled_after_seconds


def workers(session: Session) -> list[WorkerRow]:
    return [
        WorkerRow(row.id, row.last_heartbeat, float(row.heartbeat_age), row.running)
        for row in run(session, QUEUE["workers"])
    ]


def stalled_jobs(session: Session) -> list[dict[str, Any]]:
    rows = run(session, QUEUE["stalled_jobs"], {"timeout": get_settings().stalled_after_seconds})
    return [dict(row._mapping) for row in rows]


def warnings(
    stats: list[QueueStats],
    live_workers: int,
    stalled: list[dict[str, Any]],
    missed: list[str],
) -> list[str]:
    """Things an operator should look at now, in words."""
    found: list[str] = []
    for queue in stats:
        if queue.waiting and not live_workers:
            found.append(
                f"Queue {queue.name} has {queue.counts['todo']} waiting jobs and no live worker."
            )
        elif (queue.oldest_waiting_seconds or 0) > UNSERVED_AFTER_SECONDS:
            minutes = int((queue.oldest_waiting_seconds or 0) // 60)
            found.append(
                f"Queue {queue.name}: the oldest ready job has waited {minutes} min;"
                " no live worker seems to serve this queue."
            )
    if stalled:
        found.append(f"{len(stalled)} running jobs belong to workers that stopped heartbeating.")
    found.extend(missed)
    return found


def overview_data(session: Session, app: App) -> dict[str, Any]:
    """Everything the page shows; the queue-stats API returns the same numbers."""
    stats = queue_stats(session)
    hour = throughput(session, window=timedelta(hours=1), minutes=5)
    day = throughput(session, window=timedelta(days=1), minutes=60)
    found_workers = workers(session)
    live = [worker for worker in found_workers if worker.live]
    stalled = stalled_jobs(session)
    missed = periodic.missed_warnings(periodic.schedules(session, app, next_runs=0))
    controlled = control.queue_states(session)
    unknown_workers = control.unreported_live_workers(session)
    return {
        "queues": stats,
        "hour": hour,
        "day": day,
        "hour_summary": summarize(hour),
        "day_summary": summarize(day),
        "workers": found_workers,
        "live_workers": live,
        "stalled_jobs": stalled,
        "warnings": warnings(stats, len(live), stalled, missed)
        + control_warnings(controlled, all_known=bool(live) and not unknown_workers),
        "queue_control": {state.name: state for state in controlled},
        "unserved_queues": []
        if unknown_workers
        else [state.name for state in controlled if state.waiting and not state.serving],
    }


def control_warnings(states: list[control.QueueState], *, all_known: bool) -> list[str]:
    """Paused queues, and queues whose waiting jobs no live worker would start: said only
    when there are live workers and each has reported what it serves (with none at all,
    warnings() already says so for every queue)."""
    warnings = []
    for state in states:
        if state.paused:
            warnings.append(f"Queue {state.name} is paused: {state.waiting:,} jobs wait.")
        elif state.waiting and not state.serving and all_known:
            warnings.append(
                f"Queue {state.name} has {state.waiting:,} waiting jobs and no live worker"
                " serving it."
            )
    return warnings
