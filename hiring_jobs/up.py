"""`hiring-jobs up`: the whole system in one command, stopped cleanly by one signal.

The worker and web server run as child processes in their own sessions, so Ctrl-C
reaches only this process, which then stops them in order (graceful first, killed
after the shutdown timeout) and finally releases the embedded PostgreSQL.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click

from hiring_jobs import db, embedded, schema
from hiring_jobs.cli_support import progress_bar
from hiring_jobs.settings import Settings

logger = logging.getLogger(__name__)

# Beyond the workers' own graceful timeout, before we kill what is left.
KILL_MARGIN_SECONDS = 5.0


class _Stop(Exception):
    pass


def run_up(settings: Settings, *, port: int | None, load_demo: bool) -> int:
    port = port or settings.web_port
    with embedded.exclusive_data_dir(settings.data_dir), _stop_on_signals():
        _ensure_port_free(settings.web_host, port)
        try:
            url = _start_database(settings)
            click.echo("Migrating ...")
            schema.upgrade(url)
            if load_demo:
                _load_demo(settings)
            children = _start_children(settings, url, port)
        except _Stop:
            click.echo("Stopped before start-up finished.")
            return 130
        try:
            _print_banner(settings, url, port)
            return _watch(children)
        except _Stop:
            click.echo("\nStopping ...")
            return 0
        finally:
            _stop_children(children, settings.shutdown_timeout)
            if settings.uses_embedded_database:
                embedded.stop_server(settings.pgdata_dir)
                click.echo(f"Embedded PostgreSQL stopped; its data stays in {settings.pgdata_dir}")


def _start_database(settings: Settings) -> str:
    if settings.uses_embedded_database:
        click.echo(f"Starting embedded PostgreSQL in {settings.pgdata_dir} ...")
    url = db.database_url()
    with contextlib.suppress(db.NotMigrated):
        db.check_database(url)
    return url


def _load_demo(settings: Settings) -> None:
    from hiring_jobs.demo.data import load_demo_data

    with db.session_scope() as session, progress_bar("Loading demo data") as progress:
        summary = load_demo_data(session, settings.files_dir, progress=progress)
    click.echo(summary)


def _start_children(settings: Settings, url: str, port: int) -> dict[str, subprocess.Popen[bytes]]:
    env = {**os.environ, "DATABASE_URL": url, **_local_web_settings(settings)}
    command = [sys.executable, "-m", "hiring_jobs"]
    children = {}
    for name, args in (
        ("worker", ["worker"]),
        ("web", ["web", "--host", settings.web_host, "--port", str(port)]),
    ):
        children[name] = subprocess.Popen([*command, *args], env=env, start_new_session=True)
    return children


def _local_web_settings(settings: Settings) -> dict[str, str]:
    """What a local demo needs to log in: an admin password (made once, kept in the data
    directory), a stable session key, and cookies that also work over plain http."""
    values = {}
    if not settings.admin_password:
        values["HIRING_JOBS_ADMIN_PASSWORD"] = _kept_secret(settings, "admin-password")
    if not settings.secret_key:
        values["HIRING_JOBS_SECRET_KEY"] = _kept_secret(settings, "secret-key")
    if "HIRING_JOBS_SECURE_COOKIES" not in os.environ:
        values["HIRING_JOBS_SECURE_COOKIES"] = "false"
    return values


def _password_hint(settings: Settings) -> str:
    if settings.admin_password:
        return "password from HIRING_JOBS_ADMIN_PASSWORD"
    return f"password {_kept_secret(settings, 'admin-password')}"


def _kept_secret(settings: Settings, name: str) -> str:
    path = settings.data_dir / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(16))
        path.chmod(0o600)
    return path.read_text().strip()


def _watch(children: dict[str, subprocess.Popen[bytes]]) -> int:
    while True:
        for name, child in children.items():
            if child.poll() is not None:
                click.echo(f"The {name} process exited with code {child.returncode}; stopping.")
                return 1
        time.sleep(0.5)


def _stop_children(children: dict[str, subprocess.Popen[bytes]], timeout: float) -> None:
    with _signals_ignored():
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout + KILL_MARGIN_SECONDS
        for name, child in children.items():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                click.echo(f"The {name} process did not stop in time; killing it.")
                child.kill()
                child.wait()


def _print_banner(settings: Settings, url: str, port: int) -> None:
    click.echo("\n".join(banner(settings, url, port)))


def banner(settings: Settings, url: str, port: int) -> list[str]:
    """What `up` prints once everything runs; every command in it works as printed."""
    host = "localhost" if settings.web_host in {"127.0.0.1", "0.0.0.0"} else settings.web_host
    psql = "psql" if not settings.uses_embedded_database else str(embedded.psql_path())
    return [
        "",
        f"  hiring_jobs is running: http://{host}:{port}/",
        f"  Admin UI: http://{host}:{port}/admin/ (user {settings.admin_username}, "
        + _password_hint(settings)
        + ")",
        f"  Database: {db.redact(url)}",
        f"  SQL shell: {shlex.quote(psql)} {shlex.quote(url)}",
        f"  Commands: {own_command()} --help (jobs, inspect, dlq, db-url, ...)",
        "  Press Ctrl-C to stop.",
        "",
    ]


def own_command() -> str:
    """This installation's `hiring-jobs`, by path: it works without activating the venv."""
    script = Path(sys.executable).parent / "hiring-jobs"
    if script.exists():
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m hiring_jobs"


def _ensure_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise click.ClickException(
                f"port {port} on {host} is in use: set HIRING_JOBS_WEB_PORT or pass --port"
            ) from None


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise _Stop, so every `finally` runs (unlike a default SIGTERM)."""

    def handler(_signum: int, _frame: object) -> None:
        raise _Stop

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """While stopping, a second Ctrl-C must not leave children or the database behind."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
