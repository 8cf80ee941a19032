"""`hiring-jobs jobs list|show|why|retry|cancel`: the admin UI's jobs pages from a terminal.

The filters are the page's own (web.queries.jobs.JobFilter), the actions its own
(hiring_jobs.queue.operations, audited), and personal data is masked as on the page.
"""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.orm import Session

from hiring_jobs.cli_support import Column, by_option, in_session, json_option, table, to_json
from hiring_jobs.queue import operations
from web.filters import duration_ms, when
from web.masking import masked_explanation, masked_fields
from web.queries import jobs as job_queries
from web.queries.related import known_names
from web.queries.tables import STATUSES

LIST_COLUMNS = [
    Column("ID", lambda r: r["id"], right=True),
    Column("TASK", lambda r: r["task_name"]),
    Column("QUEUE", lambda r: r["queue_name"]),
    Column("STATUS", lambda r: r["status"]),
    Column("ATT", lambda r: r["attempts"], right=True),
    Column("DEFERRED (UTC)", lambda r: when(r["deferred_at"])),
    Column("STARTED (UTC)", lambda r: when(r["started_at"])),
    Column("RUNTIME", lambda r: duration_ms(r["runtime_ms"]), right=True),
    Column("WORKER", lambda r: r["worker_name"]),
    Column("LAST ERROR", lambda r: r["last_error"], width=60),
]


@click.group("jobs")
def jobs_() -> None:
    """Find jobs and act on one: list (the admin UI's filters), show, retry, cancel."""


@jobs_.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only jobs in this state.")
@click.option("--queue", help="Only this queue.")
@click.option("--task", help="A task's name, or part of names: 'achievement' finds them all.")
@click.option("--lock", help="Only jobs holding this lock.")
@click.option("--args", help='Argument values: application_id=123, stage="hired" (or JSON).')
@click.option("--search", help="Text in an error (exception type or message), any case.")
@click.option("--since", help="Deferred at or after this UTC time (2026-11-21T10:00).")
@click.option("--until", help="Deferred before this UTC time.")
@click.option(
    "--housekeeping", is_flag=True, help="Also list the queue.* upkeep jobs (hidden by default)."
)
@click.option("--before", type=int, help="Older than this job id (the next page).")
@click.option("--limit", type=click.IntRange(1, job_queries.MAX_PAGE_SIZE), default=50)
@json_option
def list_(before: int | None, limit: int, as_json: bool, **filters: Any) -> None:
    """Jobs newest first, with their latest attempt (start, runtime, worker, error)."""
    values = {key: "1" if value is True else value for key, value in filters.items() if value}
    try:
        job_filter = job_queries.JobFilter.from_args(values)
    except job_queries.FilterError as exc:
        raise click.UsageError(str(exc)) from None

    def load(session: Session) -> tuple[job_queries.Page, job_queries.CappedCount]:
        page = job_queries.list_jobs(session, job_filter, before=before, limit=limit)
        return page, job_queries.capped_count(session, *job_filter.conditions())

    page, count = in_session(load)
    rows = [masked_fields(row) for row in page.rows]
    if as_json:
        older = {"before": page.older} if page.older else None
        click.echo(to_json({"jobs": rows, "count": count.as_dict(), "older": older}))
        return
    if rows:
        click.echo(table(LIST_COLUMNS, rows))
    click.echo(f"{count} jobs match" + (f"; older: --before {page.older}" if page.older else ""))


@jobs_.command()
@click.argument("job_id", type=int)
@json_option
def show(job_id: int, as_json: bool) -> None:
    """One job: arguments, timeline, every attempt with its error and traceback (masked)."""
    found = in_session(lambda s: _job_story(s, job_id))
    if as_json:
        click.echo(to_json(found))
        return
    job = found["job"]
    click.echo(
        f"job {job['id']}: {job['task_name']} on queue {job['queue_name']}, {job['status']}"
        f" (priority {job['priority']}, lock {job['lock'] or '-'})"
    )
    click.echo(f"arguments: {to_json(job['args'])}")
    for event in found["events"]:
        click.echo(f"  {when(event['at'])}  {event['type']}")
    for attempt in found["attempts"]:
        click.echo(_attempt_line(attempt))
    last = found["attempts"][-1] if found["attempts"] else None
    if last and last["traceback"]:
        click.echo("\nlast traceback:\n" + last["traceback"])


def _job_story(session: Session, job_id: int) -> dict[str, Any]:
    job = job_queries.get_job(session, job_id)
    if job is None:
        raise click.ClickException(f"no job {job_id}: it never existed or was deleted")
    names = known_names(session, job["args"])  # masks these people's names; never printed
    return {
        "job": masked_fields(job, names),
        "events": job_queries.job_events(session, job_id),
        "attempts": [
            masked_fields(attempt, names) for attempt in job_queries.job_attempts(session, job)
        ],
    }


def _attempt_line(attempt: dict[str, Any]) -> str:
    error = f": {attempt['exception_type']}: {attempt['error_message'] or ''}"
    return (
        f"  attempt {attempt['attempt']}: {attempt['outcome']} at {when(attempt['started_at'])}"
        f" ({duration_ms(attempt['duration_ms'])}) on {attempt['worker_name'] or '-'}"
        f" ({attempt['hostname'] or '-'} pid {attempt['pid'] or '-'})"
        + (error if attempt["exception_type"] else "")
    )


@jobs_.command()
@click.argument("job_id", type=int)
@json_option
def why(job_id: int, as_json: bool) -> None:
    """What holds a waiting job now: schedule, retry backoff, a paused queue, no worker,
    busy slots, its lock, jobs ahead (the job page's explanation)."""

    found = in_session(lambda session: masked_explanation(session, job_id))
    if found is None:
        raise click.ClickException(f"no job {job_id}: it never existed or was deleted")
    if as_json:
        click.echo(to_json(found))
        return
    click.echo(f"job {job_id} on queue {found['queue']} is {found['status']}:")
    for reason in found["reasons"]:
        error = f": {reason['error_message']}" if reason["error_message"] else ""
        click.echo(f"  - {reason['message']}{error}")


@jobs_.command()
@click.argument("job_id", type=int)
@by_option
def retry(job_id: int, by: str) -> None:
    """Run a failed job again (or a running one whose worker died), at once."""
    in_session(lambda s: operations.retry(s, job_id, by=by), operations.ActionError)
    click.echo(f"job {job_id} is waiting to run again")


@jobs_.command()
@click.argument("job_id", type=int)
@click.option("--abort", is_flag=True, help="Also ask a running job to stop.")
@by_option
def cancel(job_id: int, abort: bool, by: str) -> None:
    """Cancel a waiting job; with --abort, ask a running one to stop."""
    in_session(lambda s: operations.cancel(s, job_id, by=by, abort=abort), operations.ActionError)
    click.echo(f"job {job_id} was asked to stop" if abort else f"job {job_id} is cancelled")
