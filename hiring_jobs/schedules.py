"""The periodic tasks, as registered with `@app.periodic`, and `hiring-jobs schedule`.

Crons are UTC. There is no beat process: every worker runs the periodic deferrer and the
database defers each tick once (`procrastinate_periodic_defers`). `hiring-jobs cron`
enables and disables tasks and sets what happens to ticks missed while no worker ran:
skipped (the default: a tick up to 10 minutes late still runs), one catch-up run, or each
tick within a window (queue/cron.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime

import click
from croniter import croniter
from sqlalchemy.orm import Session

from hiring_jobs.app import app
from hiring_jobs.cli_support import by_option


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
        entries.append(
            ScheduleEntry(
                task=periodic.task.name,
                periodic_id=periodic.periodic_id,
                cron=periodic.cron,
                queue=periodic.configure_kwargs.get("queue") or periodic.task.queue,
                next_runs=tuple(next_ticks(periodic.cron, start, runs)),
            )
        )
    return sorted(entries, key=lambda entry: (entry.next_runs, entry.task))


def next_ticks(cron: str, start: datetime, count: int) -> list[datetime]:
    """The next `count` times `cron` fires after `start`."""
    if not count:
        return []
    times = croniter(cron, start)
    return [times.get_next(datetime) for _ in range(count)]


def format_schedule(entries: list[ScheduleEntry]) -> str:
    header = ("task:periodic_id", "cron (UTC)", "queue", "next runs (UTC)")
    rows = [
        (
            f"{e.task}:{e.periodic_id}",
            e.cron,
            e.queue,
            ", ".join(_when(t, e.cron) for t in e.next_runs),
        )
        for e in entries
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


@click.group("cron")
def cron_group() -> None:
    """Enable or disable a cron task, and choose what happens to its missed ticks."""


def _change(action: Callable[[Session], None], done: str) -> None:
    from hiring_jobs.cli_support import in_session
    from hiring_jobs.queue import cron

    in_session(action, cron.CronError)
    click.echo(done)


@cron_group.command()
@click.argument("key")
@by_option
def enable(key: str, by: str) -> None:
    """Defer KEY (task:periodic_id, see `hiring-jobs schedule`) again."""
    from hiring_jobs.queue import cron

    _change(lambda s: cron.set_enabled(s, app, key, True, by=by), f"{key} is enabled")


@cron_group.command()
@click.argument("key")
@by_option
def disable(key: str, by: str) -> None:
    """Stop deferring KEY; its missed ticks follow its catch-up policy when enabled again."""
    from hiring_jobs.queue import cron

    _change(lambda s: cron.set_enabled(s, app, key, False, by=by), f"{key} is disabled")


@cron_group.command("catch-up")
@click.argument("key")
@click.argument("policy", type=click.Choice(["skip", "once", "each"]))
@click.option(
    "--window-minutes",
    type=click.IntRange(1, 44640),
    default=None,
    help="Only ticks missed within this many minutes (default: 24 hours).",
)
@by_option
def catch_up(key: str, policy: str, window_minutes: int | None, by: str) -> None:
    """What KEY does with ticks missed while no worker ran: skip, once (one run for the
    latest) or each (every one within the window)."""
    from hiring_jobs.queue import cron

    window = window_minutes * 60 if window_minutes else None
    _change(
        lambda s: cron.set_catch_up(s, app, key, policy, by=by, window_seconds=window),
        f"{key}: missed ticks {policy}",
    )
