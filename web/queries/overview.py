"""The numbers on the overview page, the queue-stats API and /health/detailed.

Each query is bounded by an index: per queue and status the count stops at COUNT_CAP + 1,
the oldest waiting job is one index probe per queue, throughput reads rolled-up minutes.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from hiring_jobs.queue.throughput import per_minute
from web.queries.jobs import COUNT_CAP, CappedCount
from web.queries.tables import STATUSES

STALLED_AFTER_SECONDS = 30.0
# A queue whose oldest ready job waited this long is not being served.
UNSERVED_AFTER_SECONDS = 300.0

# Distinct queue names by a loose index scan on procrastinate_jobs_queue_name_idx_v1.
_QUEUES = """
WITH RECURSIVE q(name) AS (
    (SELECT queue_name FROM procrastinate_jobs ORDER BY queue_name LIMIT 1)
    UNION ALL
    SELECT (SELECT queue_name FROM procrastinate_jobs WHERE queue_name > q.name
            ORDER BY queue_name LIMIT 1)
    FROM q WHERE q.name IS NOT NULL
)
SELECT name FROM q WHERE name IS NOT NULL
"""


def _capped_count(status: str) -> str:
    # The status is a literal (from STATUSES, never user input) so that the planner can
    # use the partial index that holds it: finished jobs (migration 0011), waiting jobs
    # (the fetch index) or running ones (Procrastinate's).
    return (
        f"SELECT CAST('{status}' AS procrastinate_job_status) AS status, count(*) AS n"
        f" FROM (SELECT 1 FROM procrastinate_jobs j WHERE j.queue_name = q.name"
        f" AND j.status = '{status}' LIMIT {COUNT_CAP + 1}) capped"
    )


_QUEUE_STATUS_COUNTS = f"""
WITH RECURSIVE q(name) AS (
    (SELECT queue_name FROM procrastinate_jobs ORDER BY queue_name LIMIT 1)
    UNION ALL
    SELECT (SELECT queue_name FROM procrastinate_jobs WHERE queue_name > q.name
            ORDER BY queue_name LIMIT 1)
    FROM q WHERE q.name IS NOT NULL
)
SELECT q.name AS queue, c.status, c.n
FROM q
CROSS JOIN LATERAL ({" UNION ALL ".join(_capped_count(status) for status in STATUSES)}) c
WHERE q.name IS NOT NULL
"""

# Oldest ready job per queue (ids follow defer order), waiting since it was deferred or,
# if scheduled later, since its scheduled time.
_OLDEST_WAITING = """
SELECT q.name AS queue, GREATEST(
    (SELECT min(e.at) FROM procrastinate_events e
     WHERE e.job_id = r.id AND e.type = 'deferred'), r.scheduled_at) AS since
FROM unnest(CAST(:queues AS text[])) AS q(name)
CROSS JOIN LATERAL (
    SELECT j.id, j.scheduled_at FROM procrastinate_jobs j
    WHERE j.queue_name = q.name AND j.status = 'todo'
      AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
    ORDER BY j.id LIMIT 1
) r
"""

_WORKERS = """
SELECT w.id, w.last_heartbeat, extract(epoch FROM now() - w.last_heartbeat) AS heartbeat_age,
       (SELECT count(*) FROM procrastinate_jobs j
        WHERE j.worker_id = w.id AND j.status = 'doing') AS running
FROM procrastinate_workers w
ORDER BY w.id
"""

_STALLED_JOBS = """
SELECT j.id, j.task_name, j.queue_name, j.worker_id
FROM procrastinate_jobs j
LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
WHERE j.status = 'doing'
  AND (w.id IS NULL OR w.last_heartbeat < now() - make_interval(secs => :timeout))
ORDER BY j.id
LIMIT 100
"""


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
    return [row.name for row in session.execute(text(_QUEUES))]


def queue_stats(session: Session) -> list[QueueStats]:
    rows = session.execute(text(_QUEUE_STATUS_COUNTS))
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
    rows = session.execute(text(_OLDEST_WAITING), {"queues": queues})
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
    totals = [[0, 0] for _ in starts]
    # Rolled-up minutes plus the live tail (hiring_jobs.queue.throughput), summed per bucket.
    for minute, (succeeded, failed) in per_minute(session, first).items():
        index = (minute - first) // step
        if 0 <= index < len(totals):
            totals[index][0] += succeeded
            totals[index][1] += failed
    return [Bucket(start, ok, bad) for start, (ok, bad) in zip(starts, totals, strict=True)]


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
        return self.heartbeat_age <= STALLED_AFTER_SECONDS


def workers(session: Session) -> list[WorkerRow]:
    return [
        WorkerRow(row.id, row.last_heartbeat, float(row.heartbeat_age), row.running)
        for row in session.execute(text(_WORKERS))
    ]


def stalled_jobs(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(text(_STALLED_JOBS), {"timeout": STALLED_AFTER_SECONDS})
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
