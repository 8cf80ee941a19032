"""`hiring-jobs inspect ...` and `hiring-jobs purge`: what `celery inspect` and `celery
purge` gave, read from (and acting on) the job tables with the admin UI's own queries."""

from __future__ import annotations

import contextlib
import inspect as pyinspect
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from procrastinate import BaseRetryStrategy, RetryStrategy
from procrastinate.tasks import Task
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hiring_jobs.app import app
from hiring_jobs.cli_support import (
    Column,
    by_option,
    can_ask,
    in_session,
    json_option,
    progress_bar,
    table,
    to_json,
)
from hiring_jobs.queue import keys, operations
from hiring_jobs.queue.execution import execution_of
from hiring_jobs.queue.retry import RetryPolicy
from web.filters import age, when
from web.masking import masked_fields
from web.queries import bulk, overview
from web.queries import jobs as job_queries
from web.queries import workers as worker_queries
from web.queries.tables import STATUSES, jobs

# What `purge --status` does to each kind of job: waiting ones are cancelled through
# Procrastinate (a worker fetching at the same moment is handled), finished ones deleted.
PURGE_ACTIONS = {
    "todo": operations.BulkAction.CANCEL,
    **{
        status: operations.BulkAction.DELETE
        for status in operations.BulkAction.DELETE.eligible_statuses
    },
}
PAST = {operations.BulkAction.CANCEL: "cancelled", operations.BulkAction.DELETE: "deleted"}


@click.group("inspect")
def inspect_() -> None:
    """Look at the running system, as `celery inspect` does: active, scheduled,
    registered, stats. Add --json for scripts."""


@inspect_.command()
@json_option
def active(as_json: bool) -> None:
    """Jobs running now, with their worker and how long they have been running."""
    running = in_session(worker_queries.running_by_worker)
    now = datetime.now(UTC)
    rows = [
        {
            **job,
            "runtime_seconds": (now - job["started_at"]).total_seconds()
            if job["started_at"]
            else None,
        }
        for found in running.values()
        for job in found
    ]
    if as_json:
        click.echo(to_json(rows))
        return
    if not rows:
        click.echo("no job is running")
        return
    click.echo(
        table(
            [
                Column("JOB", lambda r: r["job_id"], right=True),
                Column("TASK", lambda r: r["task_name"]),
                Column("QUEUE", lambda r: r["queue_name"]),
                Column("WORKER", lambda r: r["worker_id"], right=True),
                Column("PROCESS", lambda r: r["worker_name"]),
                Column("HOST", lambda r: r["hostname"]),
                Column("PID", lambda r: r["pid"], right=True),
                Column("STARTED (UTC)", lambda r: when(r["started_at"])),
                Column("RUNTIME", lambda r: age(r["runtime_seconds"]), right=True),
            ],
            rows,
        )
    )


@inspect_.command()
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@json_option
def scheduled(limit: int, as_json: bool) -> None:
    """Jobs waiting for a later time (schedule_in / schedule_at), soonest first.

    Cron tasks are listed by `hiring-jobs schedule`.
    """
    rows = [
        masked_fields(row)
        for row in in_session(lambda s: job_queries.scheduled_jobs(s, limit=limit))
    ]
    if as_json:
        click.echo(to_json(rows))
        return
    if not rows:
        click.echo("no job is scheduled for later")
        return
    click.echo(
        table(
            [
                Column("JOB", lambda r: r["id"], right=True),
                Column("DUE (UTC)", lambda r: when(r["scheduled_at"])),
                Column("TASK", lambda r: r["task_name"]),
                Column("QUEUE", lambda r: r["queue_name"]),
                Column("PRIORITY", lambda r: r["priority"], right=True),
                Column("ATTEMPTS", lambda r: r["attempts"], right=True),
                Column("ARGUMENTS", lambda r: to_json(r["args"]), width=60),
            ],
            rows,
        )
    )


@inspect_.command()
@json_option
def registered(as_json: bool) -> None:
    """Every task workers can run: where it is declared, queue, priority, retry policy,
    time limits, execution mode (process, thread, async), result storage, key and cron."""
    rows = registered_tasks()
    if as_json:
        click.echo(to_json(rows))
        return
    click.echo(
        table(
            [
                Column("TASK", lambda r: r["name"]),
                Column("QUEUE", lambda r: r["queue"]),
                Column("PRIORITY", lambda r: r["priority"], right=True),
                Column("RETRIES", lambda r: r["retry"]),
                Column("SOFT/HARD LIMIT", lambda r: f"{r['soft_limit']:g}/{r['hard_limit']:g} s"),
                Column("MODE", lambda r: r["mode"]),
                Column("RESULT", lambda r: "stored" if r["store_result"] else "-"),
                Column("KEY", lambda r: r["key"] or ""),
                Column("CRON (UTC)", lambda r: ", ".join(r["cron"])),
                Column("FILE", lambda r: r["file"]),
            ],
            rows,
        )
    )


def registered_tasks() -> list[dict[str, Any]]:
    app.perform_import_paths()
    crons: dict[str, list[str]] = {}
    for periodic in app.periodic_registry.periodic_tasks.values():
        crons.setdefault(periodic.task.name, []).append(periodic.cron)
    return [_task_row(task, crons.get(name, [])) for name, task in sorted(app.tasks.items())]


def _task_row(task: Task[Any, Any, Any], crons: list[str]) -> dict[str, Any]:
    execution = execution_of(task)
    return {
        "name": task.name,
        "queue": task.queue,
        "priority": task.priority,
        "retry": describe_retry(task.retry_strategy),
        "soft_limit": execution.limits.soft_seconds,
        "hard_limit": execution.limits.hard_seconds,
        "mode": str(execution.mode),
        "store_result": execution.store_result,
        "key": key.describe() if (key := keys.declared_for(task.name)) else None,
        "cron": crons,
        "file": _declared_in(task),
    }


def _declared_in(task: Task[Any, Any, Any]) -> str:
    """file:line of the task function, relative to the working directory when inside it."""
    try:
        path = Path(pyinspect.getsourcefile(task.func) or "?")
        line = pyinspect.getsourcelines(task.func)[1]
    except (OSError, TypeError):
        return "?"
    with contextlib.suppress(ValueError):
        path = path.relative_to(Path.cwd())
    return f"{path}:{line}"


def describe_retry(strategy: BaseRetryStrategy | None) -> str:
    """`5 x backoff 60-600 s, jitter`: how many retries after the first run, and how."""
    if strategy is None:
        return "none"
    if isinstance(strategy, RetryPolicy):
        return (
            f"{strategy.max_retries} x backoff {strategy.base_seconds:g}-"
            f"{strategy.cap_seconds:g} s, jitter"
        )
    if isinstance(strategy, RetryStrategy) and strategy.max_attempts is not None:
        return f"{strategy.max_attempts} x (Procrastinate's RetryStrategy)"
    return type(strategy).__name__


@inspect_.command()
@json_option
def stats(as_json: bool) -> None:
    """Per queue (jobs by status, oldest waiting), per worker (heartbeat, running jobs),
    per process seen in the last hour, and the last hour's throughput."""
    found = in_session(_stats)
    if as_json:
        click.echo(to_json(found))
        return
    click.echo(_queues_table(found["queues"]))
    click.echo("\n" + _workers_table(found["workers"]))
    click.echo("\n" + _processes_table(found["processes"]))
    hour = found["last_hour"]
    rate = "-" if hour["failure_rate"] is None else f"{hour['failure_rate'] * 100:.1f}%"
    click.echo(
        f"\nlast hour: {hour['finished']} finished, {hour['succeeded']} succeeded,"
        f" {hour['failed']} failed (failure rate {rate})"
    )


def _stats(session: Session) -> dict[str, Any]:
    hour = overview.throughput(session, window=timedelta(hours=1), minutes=5)
    registered = worker_queries.registrations(session)
    return {
        "queues": [queue.as_dict() for queue in overview.queue_stats(session)],
        "workers": [
            {
                "id": worker.id,
                "live": worker.live,
                "last_heartbeat": worker.last_heartbeat,
                "heartbeat_age_seconds": worker.heartbeat_age,
                "running": worker.running,
                # What the process recorded when it registered (None: not recorded).
                "process": registered.get(worker.id),
            }
            for worker in overview.workers(session)
        ],
        "processes": worker_queries.processes_seen(
            session, worker_queries.running_by_worker(session)
        ),
        "last_hour": overview.summarize(hour),
    }


def _queues_table(queues: list[dict[str, Any]]) -> str:
    if not queues:
        return "queues: no job in any queue"
    statuses = [
        Column(status.upper(), lambda r, s=status: r["counts"][s]["display"], right=True)
        for status in STATUSES
    ]
    return table(
        [
            Column("QUEUE", lambda r: r["queue"]),
            *statuses,
            Column("OLDEST WAITING", lambda r: age(r["oldest_waiting_seconds"]), right=True),
        ],
        queues,
    )


def _workers_table(workers: list[dict[str, Any]]) -> str:
    if not workers:
        return "workers: none registered (start one with `hiring-jobs worker`)"
    return table(
        [
            Column("WORKER", lambda r: r["id"], right=True),
            Column("STATE", lambda r: "live" if r["live"] else "stalled"),
            Column("LAST HEARTBEAT", lambda r: f"{age(r['heartbeat_age_seconds'])} ago"),
            Column("RUNNING", lambda r: r["running"], right=True),
            Column("PROCESS", lambda r: (r["process"] or {}).get("worker_name")),
            Column("SLOTS", _slots_cell),
        ],
        workers,
    )


def _slots_cell(worker: dict[str, Any]) -> str | None:
    """`8 (resume=2,email=4,*=2)`: the concurrency and each queue's slots."""
    process = worker["process"]
    if process is None:
        return None
    queues = ",".join(f"{queue}={slots}" for queue, slots in process["slots"].items())
    return f"{process['concurrency']} ({queues})"


def _processes_table(processes: list[dict[str, Any]]) -> str:
    if not processes:
        return "processes: none ran a job in the last hour"
    return table(
        [
            Column("PROCESS", lambda r: r["worker_name"]),
            Column("HOST", lambda r: r["hostname"]),
            Column("PID", lambda r: r["pid"], right=True),
            Column("QUEUES", lambda r: ",".join(r["queues"])),
            Column("JOBS (1 H)", lambda r: r["attempts"], right=True),
            Column("RUNNING", lambda r: r["running"], right=True),
            Column("LAST STARTED (UTC)", lambda r: when(r["last_started"])),
        ],
        processes,
    )


@click.command()
@click.option("--queue", "-q", required=True, help="The queue to purge.")
@click.option(
    "--status",
    type=click.Choice(sorted(PURGE_ACTIONS)),
    default="todo",
    show_default=True,
    help="Which jobs: todo (waiting) ones are cancelled, finished ones deleted.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (scripts, CI).")
@by_option
def purge(queue: str, status: str, yes: bool, by: str) -> None:
    """Remove the jobs of one queue in one status, after showing how many.

    Waiting jobs are cancelled (Procrastinate's own cancel: they stay as `cancelled`
    history, never run); succeeded, failed, cancelled or aborted jobs are deleted with
    their attempts. Running jobs are never touched. Audited like the admin UI's bulk
    actions. Without a terminal it refuses unless --yes.
    """
    job_filter = job_queries.JobFilter(queue=queue, status=status, housekeeping=True)
    plan = bulk.BulkPlan(PURGE_ACTIONS[status], job_filter, ())
    verb = plan.action.value
    total = in_session(lambda s: _eligible(s, plan))
    click.echo(f"queue {queue}: {total:,} {status} jobs to {verb}")
    if total == 0:
        return
    if not yes:
        _confirm(f"{verb.capitalize()} {total:,} {status} jobs of queue {queue}?")
    done = 0
    # Batches of at most BULK_LIMIT jobs, each in its own transaction (and audit row): a
    # long purge holds no lock for long, and jobs deferred meanwhile are not chased.
    with progress_bar(f"{verb} {status} jobs") as progress:
        while done < total and (touched := in_session(lambda s: bulk.execute(s, plan, by=by))):
            done += touched
            progress(f"{done:,}", min(done, total), total)
    click.echo(f"{PAST[plan.action]} {done:,} {status} jobs of queue {queue}")


def _eligible(session: Session, plan: bulk.BulkPlan) -> int:
    return session.scalar(select(func.count()).select_from(jobs).where(*plan.conditions())) or 0


def _confirm(question: str) -> None:
    if not can_ask():
        raise click.ClickException(
            "refusing to purge without confirmation: no terminal to ask on (pass --yes)"
        )
    if not click.confirm(question, default=False):
        raise click.ClickException("nothing purged")
