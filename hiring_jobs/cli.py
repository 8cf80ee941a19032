"""The `hiring-jobs` command line."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from hiring_jobs import db, embedded
from hiring_jobs.accounts_cli import tokens_group, users
from hiring_jobs.dlq_cli import dlq
from hiring_jobs.inspect_cli import inspect_, purge, registered
from hiring_jobs.jobs_cli import jobs_
from hiring_jobs.logs import configure_logging
from hiring_jobs.privacy.cli import erase_candidate, export_candidate, retention_now
from hiring_jobs.queues_cli import queues
from hiring_jobs.schedules import cron_group, schedule
from hiring_jobs.settings import SettingsError, get_settings

F = TypeVar("F", bound=Callable[..., Any])

# Failures a user can fix: one line on stderr, exit code 1, no traceback.
USER_ERRORS = (
    db.DatabaseUnavailable,
    db.NotMigrated,
    SettingsError,
    embedded.DataDirBusy,
)


def clear_errors(command: F) -> F:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except USER_ERRORS as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Background jobs for a hiring platform, kept in PostgreSQL (Procrastinate).

    With DATABASE_URL unset, every command uses the embedded PostgreSQL kept in
    HIRING_JOBS_DATA_DIR. Settings are environment variables: see the README.
    """
    try:
        configure_logging(get_settings().log_level, get_settings().log_format)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@clear_errors
def migrate() -> None:
    """Create or upgrade every table: the app's and Procrastinate's. Safe to run again."""
    from hiring_jobs import schema

    url = db.database_url()
    with contextlib.suppress(db.NotMigrated):  # that is what we are here for
        db.check_database(url)
    schema.upgrade(url)
    from hiring_jobs.queue import keys

    keys.sync_app()  # tasks' keys and limits, for the job insert trigger
    click.echo(f"database {db.redact(url)} is at revision {schema.current_revision(url)}")


@main.command()
@click.option(
    "--queues",
    "-q",
    default=None,
    help="Queues to serve, each with its own slots: 'resume=2,email=8,notifications'"
    " ('*=N': N slots shared by every other queue). Default: HIRING_JOBS_WORKER_QUEUES,"
    " else every queue with its default slots.",
)
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(min=1),
    default=None,
    help="Slots of each queue given without a number (default:"
    " HIRING_JOBS_WORKER_CONCURRENCY, else each queue's default).",
)
@click.option(
    "--processes",
    "-p",
    type=click.IntRange(min=1),
    default=None,
    help="OS processes to run, for CPU-bound work (default: HIRING_JOBS_WORKER_PROCESSES).",
)
@clear_errors
def worker(queues: str | None, concurrency: int | None, processes: int | None) -> None:
    """Run workers that execute jobs until SIGTERM or Ctrl-C.

    The first signal stops fetching and lets running jobs finish for up to
    HIRING_JOBS_SHUTDOWN_TIMEOUT seconds; jobs still running then are aborted. A second
    signal stops running jobs at once (they are retried).
    """
    from hiring_jobs.queue import slots
    from hiring_jobs.queue.queues import ALL_QUEUES
    from hiring_jobs.queue.worker import WorkerConfig, run_workers

    settings = get_settings()
    try:
        chosen = slots.parse(
            queues if queues is not None else settings.worker_queues,
            concurrency=concurrency or settings.worker_concurrency,
        )
    except slots.QueueSpecError as exc:
        raise click.BadParameter(str(exc), param_hint="--queues") from None
    unknown = slots.unknown_queues(chosen)
    if unknown:
        raise click.BadParameter(
            f"unknown queue(s) {', '.join(unknown)}; known: {', '.join(ALL_QUEUES)}"
            " ('*=N' serves any other queue)",
            param_hint="--queues",
        )
    _export_database_url()
    config = WorkerConfig(
        slots=chosen,
        processes=processes or settings.worker_processes,
        shutdown_timeout=settings.shutdown_timeout,
        heartbeat_seconds=settings.heartbeat_seconds,
        log_level=settings.log_level,
        log_format=settings.log_format,
    )
    sys.exit(run_workers(config))


@main.command()
@click.option("--host", default=None, help="Address to bind (default: HIRING_JOBS_WEB_HOST).")
@click.option("--port", type=int, default=None, help="Port (default: HIRING_JOBS_WEB_PORT).")
@click.option("--workers", type=click.IntRange(min=1), default=2, help="Gunicorn processes.")
@clear_errors
def web(host: str | None, port: int | None, workers: int) -> None:
    """Serve the web app (health, admin pages, API) with gunicorn."""
    from web.server import serve

    settings = get_settings()
    _export_database_url()
    serve(host or settings.web_host, port or settings.web_port, workers=workers)


@main.command("db-url")
@clear_errors
def db_url() -> None:
    """Print the database URL; exit 1 with the reason when there is none.

    For a SQL shell: url=$(hiring-jobs db-url) && psql "$url"
    """
    settings = get_settings()
    if settings.database_url:
        click.echo(db.libpq_url(settings.database_url))
        return
    url = embedded.running_server_url(settings.pgdata_dir)
    if url is None:
        raise click.ClickException(
            f"the embedded PostgreSQL in {settings.pgdata_dir} is not running: "
            "start it with `hiring-jobs up` (or set DATABASE_URL)"
        )
    click.echo(url)


@main.command()
@click.option("--port", type=int, default=None, help="Web port (default: HIRING_JOBS_WEB_PORT).")
@click.option("--no-demo", is_flag=True, help="Do not load the demo data.")
@clear_errors
def up(port: int | None, no_demo: bool) -> None:
    """Start everything: database, migrations, demo data, a worker and the web app.

    Without DATABASE_URL, an embedded PostgreSQL runs from HIRING_JOBS_DATA_DIR and keeps
    its data across runs. Ctrl-C or SIGTERM stops everything cleanly.
    """
    from hiring_jobs.up import run_up

    sys.exit(run_up(get_settings(), port=port, load_demo=not no_demo))


@main.command(
    "bench",
    add_help_option=False,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.pass_context
def bench(ctx: click.Context) -> None:
    """Benchmarks against stock Procrastinate and Celery + Redis (tools/bench; --help)."""
    # Imported on use: the harness is a developer tool, not part of the product.
    try:
        from tools.bench.cli import bench as harness
    except ImportError as error:
        raise click.ClickException(
            f"the benchmark harness (tools/bench) is not installed: {error}; "
            'run it from a source checkout installed with `pip install -e ".[dev]"`'
        ) from error
    harness.main(ctx.args, prog_name="hiring-jobs bench")


def _export_database_url() -> None:
    """Resolve the URL once (starting the embedded server if needed) for child processes."""
    url = db.database_url()
    db.check_database(url)
    os.environ["DATABASE_URL"] = url


main.add_command(cron_group)
main.add_command(dlq)
main.add_command(erase_candidate)
main.add_command(export_candidate)
main.add_command(inspect_)
main.add_command(jobs_)
main.add_command(purge)
main.add_command(queues)
main.add_command(retention_now)
main.add_command(schedule)
# `hiring-jobs tasks`: the same list as `inspect registered`, where people look for it.
main.add_command(registered, name="tasks")
main.add_command(tokens_group)
main.add_command(users)


if __name__ == "__main__":
    main()
