"""Prometheus text exposition (format 0.0.4) of queue state and recent attempts.

Counting every finished job on each scrape is the COUNT(*) that kills dashboards, so:
- waiting and running jobs are exact (index-only counts on small sets);
- jobs by status over the whole table are PostgreSQL's planner estimates;
- attempts, failures and durations cover the last hour of job_attempts (a sliding window,
  read as gauges: use them directly, not with rate()).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from hiring_jobs.sql import QUEUE, run
from web.queries import overview

DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

_ATTEMPTS = f"""
SELECT queue, task_name, outcome, count(*) AS n,
       coalesce(sum(duration_ms), 0) / 1000.0 AS seconds,
       {
    ", ".join(
        f'count(*) FILTER (WHERE duration_ms <= {b * 1000}) AS "le_{i}"'
        for i, b in enumerate(DURATION_BUCKETS)
    )
}
FROM job_attempts
WHERE started_at >= now() - interval '1 hour'
GROUP BY queue, task_name, outcome
"""


def render(session: Session, *, dead_letters_pending: int | None) -> str:
    lines: list[str] = []
    _jobs(session, lines)
    _attempts(session, lines)
    _queues_and_workers(session, lines)
    if dead_letters_pending is not None:
        _gauge(lines, "hiring_jobs_dead_letters_pending", "Failed jobs nobody reviewed yet.")
        lines.append(f"hiring_jobs_dead_letters_pending {dead_letters_pending}")
    return "\n".join(lines) + "\n"


def _jobs(session: Session, lines: list[str]) -> None:
    _gauge(lines, "hiring_jobs_jobs", "Waiting (todo) and running (doing) jobs, exact.")
    for row in run(session, QUEUE["active_jobs"]):
        lines.append(
            _sample("hiring_jobs_jobs", {"queue": row.queue_name, "status": row.status}, row.n)
        )
    _gauge(lines, "hiring_jobs_jobs_estimated", "Jobs by status, planner estimate.")
    for row in run(session, QUEUE["job_status_estimates"]):
        lines.append(_sample("hiring_jobs_jobs_estimated", {"status": row.status}, row.n))


def _attempts(session: Session, lines: list[str]) -> None:
    rows = list(session.execute(text(_ATTEMPTS)))
    _gauge(lines, "hiring_jobs_attempts_last_hour", "Attempts started in the last hour.")
    for row in rows:
        labels = {"queue": row.queue, "task": row.task_name, "outcome": row.outcome}
        lines.append(_sample("hiring_jobs_attempts_last_hour", labels, row.n))
    _gauge(lines, "hiring_jobs_failures_last_hour", "Failed attempts in the last hour.")
    for row in rows:
        if row.outcome in {"failed", "timed_out", "interrupted"}:
            labels = {"queue": row.queue, "task": row.task_name, "outcome": row.outcome}
            lines.append(_sample("hiring_jobs_failures_last_hour", labels, row.n))
    _histogram(lines, rows)


def _histogram(lines: list[str], rows: Iterable[Any]) -> None:
    name = "hiring_jobs_attempt_duration_seconds"
    lines.append(f"# HELP {name} Durations of attempts finished in the last hour.")
    lines.append(f"# TYPE {name} histogram")
    merged: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        if row.outcome == "running":
            continue
        values = merged.setdefault((row.queue, row.task_name), [0.0] * (len(DURATION_BUCKETS) + 2))
        for i in range(len(DURATION_BUCKETS)):
            values[i] += getattr(row, f"le_{i}")
        values[-2] += row.n
        values[-1] += float(row.seconds)
    for (queue, task), values in sorted(merged.items()):
        labels = {"queue": queue, "task": task}
        for bound, count in zip(DURATION_BUCKETS, values, strict=False):
            lines.append(_sample(f"{name}_bucket", labels | {"le": str(bound)}, count))
        lines.append(_sample(f"{name}_bucket", labels | {"le": "+Inf"}, values[-2]))
        lines.append(_sample(f"{name}_count", labels, values[-2]))
        lines.append(_sample(f"{name}_sum", labels, values[-1]))


def _queues_and_workers(session: Session, lines: list[str]) -> None:
    names = overview.queue_names(session)
    _gauge(lines, "hiring_jobs_oldest_waiting_seconds", "Age of the oldest ready job per queue.")
    for queue, age in sorted(overview.oldest_waiting(session, names).items()):
        lines.append(_sample("hiring_jobs_oldest_waiting_seconds", {"queue": queue}, age))
    found = overview.workers(session)
    _gauge(lines, "hiring_jobs_workers", "Registered workers by heartbeat state.")
    live = sum(1 for worker in found if worker.live)
    lines.append(_sample("hiring_jobs_workers", {"state": "live"}, live))
    lines.append(_sample("hiring_jobs_workers", {"state": "stalled"}, len(found) - live))
    _gauge(lines, "hiring_jobs_stalled_jobs", "Running jobs whose worker stopped heartbeating.")
    lines.append(f"hiring_jobs_stalled_jobs {len(overview.stalled_jobs(session))}")


def _gauge(lines: list[str], name: str, help_text: str) -> None:
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} gauge")


def _sample(name: str, labels: dict[str, str], value: float) -> str:
    inner = ",".join(f'{key}="{_escape(str(val))}"' for key, val in labels.items())
    number = int(value) if float(value).is_integer() else round(float(value), 6)
    return f"{name}{{{inner}}} {number}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
