"""`hiring-jobs dlq ...`: review the dead-letter queue from a terminal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from hiring_jobs import audit
from hiring_jobs.cli_support import by_option, in_session
from hiring_jobs.models import JobAttempt
from hiring_jobs.privacy.masking import mask_text, mask_value
from hiring_jobs.queue import operations


def _in_session(action: Callable[[Session], Any]) -> Any:
    return in_session(action, operations.DeadLetterError)


notes_option = click.option("--notes", default="", help="Why; kept in the review history.")
task_option = click.option("--task", help="All pending failures of this task.")
fingerprint_option = click.option("--fingerprint", help="All pending failures with this error.")


@click.group()
def dlq() -> None:
    """Review failed jobs: the dead-letter queue.

    A failed job (retries exhausted, or a permanent error) stays pending until someone
    retries it, discards it or marks it reviewed. `--task`/`--fingerprint` act on a group.
    """


@dlq.command()
def stats() -> None:
    """Pending failures, by task and by error."""
    result = _in_session(operations.dead_letter_stats)
    click.echo(f"pending review: {result.pending}")
    if result.by_task:
        click.echo("\nby task:")
        for task, count in result.by_task:
            click.echo(f"  {count:>6}  {task}")
    if result.by_error:
        click.echo("\nby error (fingerprint, type):")
        for fingerprint, exception_type, count in result.by_error:
            click.echo(f"  {count:>6}  {fingerprint or '-':<40}  {exception_type or '-'}")


@dlq.command("list")
@task_option
@fingerprint_option
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
def list_(task: str | None, fingerprint: str | None, limit: int) -> None:
    """Pending failures, newest first."""
    letters = _in_session(
        lambda s: operations.pending_dead_letters(
            s, task=task, fingerprint=fingerprint, limit=limit
        )
    )
    if not letters:
        click.echo("no pending failures")
    for letter in letters:
        failed = f"{letter.failed_at:%Y-%m-%d %H:%M:%S}" if letter.failed_at else "-"
        error = f"{letter.exception_type or '?'}: {mask_text(letter.error_message or '')}"
        click.echo(f"{letter.job_id:>10}  {failed}  {letter.task_name:<32}  {error[:100]}")


@dlq.command()
@click.argument("job_id", type=int)
@click.option(
    "--unmasked",
    is_flag=True,
    help="Show emails, phone numbers and names as stored (written to the audit log).",
)
@by_option
def show(job_id: int, unmasked: bool, by: str) -> None:
    """A failed job: arguments, every attempt, the last traceback, its reviews.

    Personal data is masked, as in the admin UI, unless --unmasked.
    """

    def load(session: Session) -> tuple[Any, list[JobAttempt], list[Any]]:
        letter = operations.dead_letter(session, job_id)
        attempts = list(
            session.scalars(
                select(JobAttempt).where(JobAttempt.job_id == job_id).order_by(JobAttempt.id)
            )
        )
        if unmasked:
            details = {"source": "dead_letter", "id": job_id, "via": "cli"}
            audit.record(
                session, actor=by, action="reveal", target=f"job {job_id}", details=details
            )
        return letter, attempts, operations.dead_letter_reviews(session, job_id)

    letter, attempts, reviews = _in_session(load)
    shown: Callable[[Any], Any] = (lambda value: value) if unmasked else mask_value
    click.echo(f"job {letter.job_id}: {letter.task_name} on queue {letter.queue}")
    click.echo(f"arguments: {shown(letter.args)}")
    click.echo(f"fingerprint: {letter.error_fingerprint}")
    for attempt in attempts:
        duration = f"{attempt.duration_ms:.0f} ms" if attempt.duration_ms is not None else "-"
        started = f"{attempt.started_at:%Y-%m-%d %H:%M:%S}"
        error = (
            f": {attempt.exception_type}: {shown(attempt.error_message or '')}"
            if attempt.exception_type
            else ""
        )
        click.echo(
            f"  attempt {attempt.attempt}: {attempt.outcome} at {started} ({duration})"
            f" on {attempt.hostname} pid {attempt.pid}{error}"
        )
    if attempts and attempts[-1].traceback:
        click.echo("\nlast traceback:\n" + shown(attempts[-1].traceback))
    for review in reviews:
        retried = f" as job {review.retry_job_id}" if review.retry_job_id else ""
        click.echo(
            f"review: {review.action}{retried} by {review.reviewed_by} at "
            f"{review.reviewed_at:%Y-%m-%d %H:%M:%S}: {shown(review.notes)}"
        )


@dlq.command()
@click.argument("job_id", type=int, required=False)
@task_option
@fingerprint_option
@notes_option
@by_option
def retry(
    job_id: int | None, task: str | None, fingerprint: str | None, notes: str, by: str
) -> None:
    """Re-queue one failed job (JOB_ID) or a group, as new jobs with the same arguments."""
    if job_id is not None:
        new_id = _in_session(lambda s: operations.retry_dead_letter(s, job_id, by=by, notes=notes))
        click.echo(f"job {job_id} re-queued as job {new_id}")
        return
    new_ids = _in_session(
        lambda s: operations.retry_dead_letter_group(
            s, task=task, fingerprint=fingerprint, by=by, notes=notes
        )
    )
    click.echo(f"{len(new_ids)} jobs re-queued")


@dlq.command()
@click.argument("job_id", type=int, required=False)
@task_option
@fingerprint_option
@notes_option
@by_option
def discard(
    job_id: int | None, task: str | None, fingerprint: str | None, notes: str, by: str
) -> None:
    """Give up on one failed job (JOB_ID) or a group; they stay as history."""
    if job_id is not None:
        _in_session(lambda s: operations.discard_dead_letter(s, job_id, by=by, notes=notes))
        click.echo(f"job {job_id} discarded")
        return
    count = _in_session(
        lambda s: operations.discard_dead_letter_group(
            s, task=task, fingerprint=fingerprint, by=by, notes=notes
        )
    )
    click.echo(f"{count} jobs discarded")


@dlq.command()
@click.argument("job_id", type=int)
@click.option("--notes", required=True, help="What was done about it.")
@by_option
def review(job_id: int, notes: str, by: str) -> None:
    """Mark a failed job reviewed (resolved) without re-running it."""
    _in_session(lambda s: operations.resolve_dead_letter(s, job_id, by=by, notes=notes))
    click.echo(f"job {job_id} marked resolved")
