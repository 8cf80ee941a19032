"""`hiring-jobs export-candidate`, `erase-candidate` and `retention`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import click

from hiring_jobs import audit, db
from hiring_jobs.cli_support import by_option, can_ask, progress_bar
from hiring_jobs.privacy import erasure, erasure_preview, export, retention
from hiring_jobs.privacy.masking import mask_email, mask_name
from hiring_jobs.privacy.subjects import NoSuchUser
from hiring_jobs.settings import SettingsError, get_settings

T = TypeVar("T")

# Failures a user can fix: one line on stderr, exit code 1 (as the other commands).
_USER_ERRORS = (NoSuchUser, erasure.ErasureError, db.DatabaseUnavailable, db.NotMigrated)


def _run(action: Callable[[], T]) -> T:
    try:
        db.check_database(db.database_url())
        return action()
    except (*_USER_ERRORS, SettingsError) as exc:
        raise click.ClickException(str(exc)) from None


@click.command("export-candidate")
@click.argument("user_id", type=int)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the archive (default: ./candidate-ID.zip).",
)
@by_option
def export_candidate(user_id: int, output: Path | None, by: str) -> None:
    """Write everything held about user ID to one zip archive: rows, jobs, files.

    The export is written to the audit log (who, which user; never the content).
    """
    target = output or Path(f"candidate-{user_id}.zip")

    def run() -> Path:
        with db.session_scope() as session, progress_bar("exporting") as progress:
            written = export.export_candidate(
                session, user_id, get_settings().files_dir, target, progress=progress
            )
            audit.record(session, actor=by, action="export_candidate", target=f"user {user_id}")
        return written

    written = _run(run)
    click.echo(f"wrote {written}")


@click.command("erase-candidate")
@click.argument("user_id", type=int, required=False)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (scripts, CI).")
@click.option(
    "--resume-pending",
    is_flag=True,
    help="Only remove the files a crashed erasure left on disk, then exit.",
)
@by_option
def erase_candidate(user_id: int | None, yes: bool, resume_pending: bool, by: str) -> None:
    """Erase user ID everywhere: rows, files, jobs about them, mentions; print a receipt.

    Database changes are one transaction; files are removed after it commits. Any run
    (or --resume-pending) first finishes the file removals of a run that crashed.
    """
    if resume_pending:
        removed = _run(lambda: erasure.resume_pending(db.get_sessionmaker(), _files_dir()))
        click.echo(f"files removed from disk: {removed}")
        return
    if user_id is None:
        raise click.UsageError("give the ID of the user to erase (or --resume-pending)")
    preview = _run(lambda: _preview(user_id))
    if not yes:
        _confirm(user_id, preview)
    with progress_bar("erasing") as progress:
        receipt = _run(
            lambda: erasure.erase_candidate(
                db.get_sessionmaker(), user_id, actor=by, files_dir=_files_dir(), progress=progress
            )
        )
    click.echo(str(receipt))


@click.command("retention")
@by_option
def retention_now(by: str) -> None:
    """Remove what is past its retention period now, with a progress bar.

    The same run as the daily privacy.enforce_retention task (01:30 UTC), with the
    periods of the HIRING_JOBS_RETAIN_* settings; audited with its counts.
    """

    def run() -> retention.RetentionReport:
        settings = get_settings()
        with progress_bar("applying retention") as progress:
            report = retention.enforce_retention(
                db.get_sessionmaker(),
                settings.files_dir,
                retention.RetentionPolicy.from_settings(settings),
                now=datetime.now(UTC),
                progress=progress,
            )
        with db.session_scope() as session:
            audit.record(session, actor=by, action="retention", details=report.as_dict())
        return report

    report = _run(run)
    for kind, count in report.as_dict().items():
        click.echo(f"{count:>8}  {kind.replace('_', ' ')}")


def _files_dir() -> Path:
    return get_settings().files_dir


def _preview(user_id: int) -> erasure_preview.Preview:
    with db.session_scope() as session:
        return erasure_preview.preview(session, user_id)


def _confirm(user_id: int, preview: erasure_preview.Preview) -> None:
    user = preview.user
    click.echo(f"user {user_id}: {mask_name(user.full_name)} <{mask_email(user.email)}>")
    if preview.erased_at is not None:
        return  # nothing will change: the receipt says so
    for kind, count in preview.counts.items():
        click.echo(f"  {count:>6}  {kind}")
    if not can_ask():
        raise click.ClickException(
            "refusing to erase without confirmation: no terminal to ask on (pass --yes)"
        )
    typed = click.prompt(f"This cannot be undone. Type the user id ({user_id}) to erase")
    if typed.strip() != str(user_id):
        raise click.ClickException("confirmation did not match: nothing erased")
