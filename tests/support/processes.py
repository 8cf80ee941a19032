"""Run the real `hiring-jobs` command in child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "hiring_jobs"]


def cli_env(**overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HIRING_JOBS_")}
    env.pop("DATABASE_URL", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def run_cli(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def start_cli(*args: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a long-running command; its output goes to `log` (no pipe to fill up)."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            [*COMMAND, *args], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )


def wait_for(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    """Poll `condition`; fail early if `process` (the thing expected to make it true) exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode} before {what}")
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def stop(process: subprocess.Popen[bytes], *, timeout: float = 60) -> None:
    """SIGTERM (a graceful stop), then SIGKILL if it is still running after `timeout`."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def scalar(database_url: str, sql: str, **params: object) -> Any:
    """The first column of the first row (None without a row), on a connection of its own."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
        return row[0] if row else None
