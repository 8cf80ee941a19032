"""`hiring-jobs up` on a fresh data directory: everything runs, Ctrl-C stops everything,
the next `up` finds the data again, and a second `up` on the same directory is refused."""

from __future__ import annotations

import http.cookiejar
import json
import re
import shlex
import signal
import socket
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import psycopg
import pytest

from hiring_jobs import settings
from hiring_jobs.up import banner
from tests.support.processes import cli_env, run_cli, start_cli, wait_for

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _health(port: int) -> dict[str, object]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
        return json.loads(response.read())


def _healthy(port: int) -> bool:
    try:
        return _health(port)["status"] == "ok"
    except OSError:
        return False


def _resumes(url: str) -> list[tuple[str, str | None, int]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT parse_status, failure_reason, cardinality(skills) FROM resumes ORDER BY id"
        ).fetchall()


def _fit_scores(url: str) -> list[int | None]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT fit_score FROM applications")]


def _stop(up: subprocess.Popen[bytes], log: Path) -> list[psutil.Process]:
    """Ctrl-C `up`; return the processes it had started, for the orphan check."""
    family = psutil.Process(up.pid).children(recursive=True)
    up.send_signal(signal.SIGINT)
    assert up.wait(timeout=60) == 0, log.read_text()
    return family


def test_up_runs_the_system_and_stops_without_orphans(tmp_path: Path) -> None:
    port = _free_port()
    data_dir = tmp_path / "data"
    home = tmp_path / "home"
    home.mkdir()
    env = cli_env(
        HOME=str(home),
        HIRING_JOBS_DATA_DIR=str(data_dir),
        HIRING_JOBS_WEB_PORT=str(port),
        HIRING_JOBS_WORKER_PROCESSES="1",
        HIRING_JOBS_SHUTDOWN_TIMEOUT="5",
    )
    log = tmp_path / "up.log"
    up = start_cli("up", env=env, log=log)
    try:
        wait_for(lambda: _healthy(port), timeout=120, what="the web app", process=up)
        assert "hiring_jobs is running" in log.read_text()

        second = run_cli("up", env=env)
        assert second.returncode == 1
        assert f"is already running on {data_dir}" in second.stderr
        assert up.poll() is None, "the running instance was left untouched"

        url = run_cli("db-url", env=env).stdout.strip()
        wait_for(
            lambda: all(status != "pending" for status, _, _ in _resumes(url)),
            timeout=120,
            what="the worker to parse the demo resumes",
            process=up,
        )
        resumes = _resumes(url)
        parsed = [r for r in resumes if r[0] == "parsed"]
        failed = [r for r in resumes if r[0] == "failed"]
        assert len(parsed) >= 6 and all(skills > 3 for _, _, skills in parsed)
        assert [reason for _, reason, _ in failed] == ["the PDF is password-protected"]
        wait_for(lambda: None not in _fit_scores(url), timeout=60, what="fit analysis", process=up)
        assert _admin_page_after_login(port, (data_dir / "admin-password").read_text().strip())
    finally:
        family = _stop(up, log) if up.poll() is None else []

    assert list(home.iterdir()) == [], "nothing written to the home directory (~/.gunicorn/)"
    assert family, "up had started child processes"
    assert not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not _postgres_running_on(data_dir)
    assert "Embedded PostgreSQL stopped" in log.read_text()

    # The next `up` finds the data again and does not load the demo twice.
    log2 = tmp_path / "up2.log"
    again = start_cli("up", env=env, log=log2)
    try:
        wait_for(lambda: _healthy(port), timeout=120, what="the second start", process=again)
        assert "Demo data already loaded." in log2.read_text()
    finally:
        _stop(again, log2)
    assert not _postgres_running_on(data_dir)


def _admin_page_after_login(port: int, password: str) -> bool:
    """Log in over real HTTP with the password `up` printed, as a person would."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    base = f"http://127.0.0.1:{port}"
    form = opener.open(f"{base}/login", timeout=5).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token, "the login form carries a CSRF token"
    fields = {"csrf_token": token.group(1), "username": "admin", "password": password}
    opener.open(f"{base}/login", data=urllib.parse.urlencode(fields).encode(), timeout=5)
    page = opener.open(f"{base}/admin/", timeout=5)
    return page.status == 200 and "/login" not in page.geturl()


def _postgres_running_on(data_dir: Path) -> bool:
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if process.info["name"] == "postgres" and str(data_dir) in cmdline:
            return True
    return False


def test_the_banner_prints_commands_that_work_as_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HIRING_JOBS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HIRING_JOBS_ADMIN_PASSWORD", "s3cret")
    settings.get_settings.cache_clear()
    url = f"postgresql://postgres:@/hiring_jobs?host={tmp_path}/pgdata"
    lines = banner(settings.get_settings(), url, 8123)
    settings.get_settings.cache_clear()

    assert f"  Database: postgres@hiring_jobs (unix socket in {tmp_path}/pgdata)" in lines
    [shell] = [line for line in lines if line.startswith("  SQL shell: ")]
    psql, shown_url = shlex.split(shell.removeprefix("  SQL shell: "))
    assert Path(psql).is_file() and shown_url == url
    # The command runs from anywhere, without the venv on PATH.
    [commands] = [line for line in lines if line.startswith("  Commands: ")]
    command = shlex.split(commands.removeprefix("  Commands: ").split(" --help")[0])
    env = {**cli_env(), "PATH": "/usr/bin:/bin"}
    ran = subprocess.run([*command, "--help"], env=env, cwd=tmp_path, capture_output=True)
    assert ran.returncode == 0 and b"Usage: hiring-jobs" in ran.stdout
