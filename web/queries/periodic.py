"""Cron tasks: their schedule, last run, outcome, next runs, and the runs that were missed."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from croniter import croniter
from procrastinate import App
from procrastinate.periodic import PeriodicTask
from sqlalchemy import Row
from sqlalchemy.orm import Session

from hiring_jobs.queue import cron
from hiring_jobs.queue.defer import DeferOptions, defer
from hiring_jobs.schedules import next_ticks
from hiring_jobs.sql import QUEUE, run

# A tick is "missed" once it is this late: the scheduler defers within a second or two,
# and the worker's polling interval (5 s) bounds how late a busy scheduler can be.
MISSED_AFTER = timedelta(minutes=2)
NEXT_RUNS = 3


@dataclasses.dataclass(frozen=True)
class Schedule:
    task_name: str
    periodic_id: str
    cron: str
    queue: str
    last_run_at: datetime | None
    last_job_id: int | None
    last_status: str | None
    next_runs: list[datetime]
    missed_tick: datetime | None  # the latest tick that should have run and did not
    enabled: bool = True
    catch_up: str = cron.CatchUp.SKIP.value
    window_seconds: int = cron.DEFAULT_WINDOW_SECONDS

    @property
    def key(self) -> str:
        return f"{self.task_name}:{self.periodic_id}"

    @property
    def not_due_yet(self) -> bool:
        """Never ran, and no tick was due since the system started: nothing is late."""
        return self.last_run_at is None and self.missed_tick is None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"key": self.key, "not_due_yet": self.not_due_yet}


def periodic_tasks(app: App) -> list[PeriodicTask[Any, Any, Any]]:
    app.perform_import_paths()
    found = list(app.periodic_registry.periodic_tasks.values())
    return sorted(found, key=lambda p: (p.task.name, p.periodic_id))


def find(app: App, key: str) -> PeriodicTask[Any, Any, Any] | None:
    return next((p for p in periodic_tasks(app) if f"{p.task.name}:{p.periodic_id}" == key), None)


def schedules(session: Session, app: App, *, next_runs: int = NEXT_RUNS) -> list[Schedule]:
    """Every cron task's schedule; `next_runs`: how many upcoming ticks to list (the
    overview needs none, and each costs a croniter step)."""
    now = datetime.now(UTC)
    since = run(session, QUEUE["running_since"]).scalar()
    settings = cron.policies(session)
    rows = run(session, QUEUE["last_periodic_defers"])
    last = {(row.task_name, row.periodic_id): row for row in rows}
    return [
        _schedule(
            periodic,
            last.get(_key(periodic)),
            now,
            since,
            settings.get(_key(periodic), cron.Policy()),
            next_runs,
        )
        for periodic in periodic_tasks(app)
    ]


def _key(periodic: PeriodicTask[Any, Any, Any]) -> tuple[str, str]:
    return (periodic.task.name, periodic.periodic_id)


def _schedule(
    periodic: PeriodicTask[Any, Any, Any],
    row: Row[Any] | None,
    now: datetime,
    running_since: datetime | None,
    policy: cron.Policy,
    next_runs: int,
) -> Schedule:
    last_at = (
        datetime.fromtimestamp(row.defer_timestamp, UTC)
        if row is not None and row.defer_timestamp is not None
        else None
    )
    due = croniter(periodic.cron, now - MISSED_AFTER).get_prev(datetime)
    expected = running_since is not None and due >= running_since
    # A disabled task misses nothing: it was told not to run.
    missed = due if policy.enabled and expected and (last_at is None or last_at < due) else None
    queue = periodic.configure_kwargs.get("queue") or periodic.task.queue
    return Schedule(
        task_name=periodic.task.name,
        periodic_id=periodic.periodic_id,
        cron=periodic.cron,
        queue=str(queue),
        last_run_at=last_at,
        last_job_id=row.job_id if row is not None else None,
        last_status=row.status if row is not None else None,
        next_runs=next_ticks(periodic.cron, now, next_runs),
        missed_tick=missed,
        enabled=policy.enabled,
        catch_up=policy.catch_up.value,
        window_seconds=policy.window_seconds,
    )


def missed_warnings(found: list[Schedule]) -> list[str]:
    """One line for all missed ticks: a stopped scheduler misses every task at once."""
    missed = [s for s in found if s.missed_tick is not None]
    if not missed:
        return []
    names = ", ".join(s.key for s in missed[:4]) + (" and more" if len(missed) > 4 else "")
    never = sum(1 for s in missed if s.last_run_at is None)
    detail = f" ({never} never ran)" if never else ""
    return [f"{len(missed)} cron tasks missed their last tick{detail}: {names}."]


def run_now(session: Session, periodic: PeriodicTask[Any, Any, Any]) -> int:
    """Defer the task now, as its schedule would: same options, `timestamp` = now.

    The run is recorded where the scheduler records its ticks, so the page shows it as the
    last run; the scheduler's next tick replaces the row as it replaces its own. (A tick
    falling in the very same second is then not deferred again: the task just ran.)
    """
    options: DeferOptions = {}
    for key in ("queue", "priority", "lock", "queueing_lock"):
        value = periodic.configure_kwargs.get(key)
        if value is not None:
            options[key] = value  # type: ignore[literal-required]
    timestamp = int(datetime.now(UTC).timestamp())
    job_id = defer(session, periodic.task, options=options, timestamp=timestamp)
    run(
        session,
        QUEUE["record_periodic_run"],
        {
            "task": periodic.task.name,
            "periodic_id": periodic.periodic_id,
            "timestamp": timestamp,
            "job_id": job_id,
        },
    )
    return job_id
