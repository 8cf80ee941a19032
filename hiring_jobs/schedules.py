"""The periodic tasks, as registered with `@app.periodic`, and `hiring-jobs schedule`.

Crons are UTC. There is no beat process: every worker runs Procrastinate's periodic
deferrer and the database defers each tick once (`procrastinate_periodic_defers`). Ticks
missed by more than 10 minutes (no worker running) are skipped, not caught up.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import click
from croniter import croniter

from hiring_jobs.app import app


@dataclasses.dataclass(frozen=True)
class ScheduleEntry:
    task: str
    periodic_id: str
    cron: str
    queue: str
    next_runs: tuple[datetime, ...]


def periodic_schedule(now: datetime | None = None, *, runs: int = 3) -> list[ScheduleEntry]:
    """Every periodic task with its cron, queue and next `runs` times after `now` (UTC)."""
    import hiring_jobs.tasks  # noqa: F401  (registers the tasks and their schedules)

    start = (now or datetime.now(UTC)).astimezone(UTC)
    entries = []
    for periodic in app.periodic_registry.periodic_tasks.values():
        times = croniter(periodic.cron, start)
        entries.append(
            ScheduleEntry(
                task=periodic.task.name,
                periodic_id=periodic.periodic_id,
                cron=periodic.cron,
                queue=periodic.configure_kwargs.get("queue") or periodic.task.queue,
                next_runs=tuple(times.get_next(datetime) for _ in range(runs)),
            )
        )
    return sorted(entries, key=lambda entry: (entry.next_runs, entry.task))


def format_schedule(entries: list[ScheduleEntry]) -> str:
    header = ("task", "cron (UTC)", "queue", "next runs (UTC)")
    rows = [
        (e.task, e.cron, e.queue, ", ".join(_when(t, e.cron) for t in e.next_runs)) for e in entries
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + "  "
        + row[3]
        for row in [header, *rows]
    )


@click.command("schedule")
@click.option(
    "--from",
    "start",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"]),
    default=None,
    help="Show the runs after this UTC time instead of now (e.g. 2024-06-03T08:30).",
)
def schedule(start: datetime | None) -> None:
    """List the periodic tasks: cron (UTC), queue and next three runs."""
    now = start.replace(tzinfo=UTC) if start is not None else None
    click.echo(format_schedule(periodic_schedule(now)))


def _when(moment: datetime, cron: str) -> str:
    # A six-field cron (croniter's sixth field is seconds) fires within the minute.
    return f"{moment:%Y-%m-%d %H:%M:%S}" if len(cron.split()) == 6 else f"{moment:%Y-%m-%d %H:%M}"
