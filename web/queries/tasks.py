"""Per-task figures over a time window (Flower's task charts), from the attempts table.

Every run writes a job_attempts row at its end (start, end, outcome, duration), and the
jobs running now are counted from procrastinate_jobs; the index on
(task_name, started_at) serves each task's series. Percentiles are computed by
PostgreSQL over the window's rows: a window is at most a week of one task, or of every
task for the summary, read once per page load.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from hiring_jobs.sql import QUEUE, run
from web.sql import ADMIN

# Outcomes that count as a failed run (the retry policy may still run the job again).
FAILED_OUTCOMES = ("failed", "timed_out", "interrupted")


@dataclasses.dataclass(frozen=True)
class Window:
    key: str
    label: str
    span: timedelta
    step: timedelta
    label_format: str
    label_every: int

    @property
    def step_label(self) -> str:
        minutes = int(self.step.total_seconds() // 60)
        return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h"


WINDOWS = {
    window.key: window
    for window in (
        Window("1h", "last hour", timedelta(hours=1), timedelta(minutes=5), "%H:%M", 2),
        Window("24h", "last 24 hours", timedelta(days=1), timedelta(hours=1), "%H:00", 3),
        Window("7d", "last 7 days", timedelta(days=7), timedelta(hours=6), "%d %b", 4),
    )
}
DEFAULT_WINDOW = "24h"

_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


@dataclasses.dataclass(frozen=True)
class TaskBucket:
    start: datetime
    succeeded: int
    failed: int
    p50_ms: float | None
    p95_ms: float | None

    @property
    def total(self) -> int:
        return self.succeeded + self.failed


def window_of(key: str | None) -> Window:
    """The window named in the query string; ValueError for an unknown one."""
    key = key or DEFAULT_WINDOW
    if key not in WINDOWS:
        raise ValueError(f"window must be one of {', '.join(WINDOWS)}")
    return WINDOWS[key]


def bucket_starts(window: Window, now: datetime | None = None) -> list[datetime]:
    """The window's buckets, oldest first; the last one holds `now`."""
    now = now or datetime.now(UTC)
    last = _ORIGIN + ((now - _ORIGIN) // window.step) * window.step
    count = int(window.span / window.step)
    return [last - window.step * (count - 1 - i) for i in range(count)]


def summary(session: Session, window: Window) -> list[dict[str, Any]]:
    starts = bucket_starts(window)
    params = {"since": starts[0], "failed": list(FAILED_OUTCOMES)}
    rows = [dict(row._mapping) for row in run(session, ADMIN["task_summary"], params)]
    per_task: dict[str, dict[datetime, int]] = {}
    bucket_params = {"since": starts[0], "step": window.step, "origin": _ORIGIN}
    for row in run(session, ADMIN["task_buckets"], bucket_params):
        per_task.setdefault(row.task_name, {})[row.bucket] = row.runs
    running = {row.task_name: row.running for row in run(session, QUEUE["running_per_task"])}
    rows += [_no_runs(task) for task in sorted(running.keys() - {r["task_name"] for r in rows})]
    for row in rows:
        row["running"] = running.get(row["task_name"], 0)
        finished = row["succeeded"] + row["failed"]
        row["failure_rate"] = row["failed"] / finished if finished else None
        counts = per_task.get(row["task_name"], {})
        row["sparkline"] = [counts.get(start, 0) for start in starts]
    return rows


def _no_runs(task_name: str) -> dict[str, Any]:
    """A task running now whose runs in the window all still run (rows are written at the end)."""
    return dict.fromkeys(("p50_ms", "p95_ms", "max_ms", "last_started"), None) | {
        "task_name": task_name,
        "runs": 0,
        "succeeded": 0,
        "failed": 0,
    }


def series(session: Session, task: str, window: Window) -> list[TaskBucket]:
    """The task's buckets over the window, oldest first, empty ones included."""
    starts = bucket_starts(window)
    params = {
        "task": task,
        "since": starts[0],
        "step": window.step,
        "origin": _ORIGIN,
        "failed": list(FAILED_OUTCOMES),
    }
    found = {row.bucket: row for row in run(session, ADMIN["task_series"], params)}
    buckets = []
    for start in starts:
        row = found.get(start)
        buckets.append(
            TaskBucket(start, row.succeeded, row.failed, row.p50_ms, row.p95_ms)
            if row is not None
            else TaskBucket(start, 0, 0, None, None)
        )
    return buckets


def workers_of(session: Session, task: str, window: Window) -> list[dict[str, Any]]:
    params = {"task": task, "since": bucket_starts(window)[0], "failed": list(FAILED_OUTCOMES)}
    return [dict(row._mapping) for row in run(session, ADMIN["task_workers"], params)]
