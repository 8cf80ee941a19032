"""`POST /api/resumes` under a real server: uploads/s with an API token and with HTTP Basic,
and what a rejected credential costs.

    python -m tools.bench.api_auth [--seconds 15] [--clients 6]
    python -m tools.bench.api_auth --baseline-tree /path/to/older/checkout

The app runs as `hiring-jobs web` does (gunicorn, 2 processes of 4 threads) on a fresh
database (DATABASE_URL's server, else the embedded one); the clients are threads of this
process keeping their connections alive. No worker runs: the parse jobs stay queued, so
parsing is excluded. `--baseline-tree` serves another checkout (say, before accounts and
tokens) and measures its HTTP Basic uploads the same way. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import http.client
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg

from tools.bench.common import (
    PYTHON,
    Bench,
    BenchError,
    Child,
    CpuMeter,
    fresh_database,
    wait_until,
)

PASSWORD = "bench-password-" + secrets.token_hex(8)
BOUNDARY = "hiring-jobs-bench-boundary"
FREE_FAILURES = 5  # access.throttle.FREE_FAILURES: failures checked before the lock


@dataclasses.dataclass(frozen=True)
class Phase:
    name: str
    requests: int
    seconds: float
    statuses: Counter[int]
    latencies: list[float]
    cpu: dict[str, float]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def line(self) -> str:
        p50 = statistics.median(self.latencies) * 1000 if self.latencies else 0.0
        web_ms = self.cpu["worker"] / max(self.requests, 1) * 1000
        db_ms = self.cpu["postgres"] / max(self.requests, 1) * 1000
        statuses = ", ".join(
            f"{status}: {count}" for status, count in sorted(self.statuses.items())
        )
        return (
            f"{self.name:<44} {self.per_second:>8.1f}/s  p50 {p50:>7.1f} ms"
            f"  CPU/request: web {web_ms:.1f} ms, db {db_ms:.1f} ms  ({statuses})"
        )


def main() -> None:
    options = _arguments()
    with tempfile.TemporaryDirectory(prefix="bench-api-auth-") as scratch:
        tmp = Path(scratch)
        with _bench_database(tmp) as url:
            user_id, token = _seed(url, tmp)
            env = _server_env(url, tmp)
            print(f"{options.clients} clients, {options.seconds:.0f} s per phase, 2 cores")
            with _server(env, tmp, options.port, tree=None) as server:
                for phase in _phases(options, server, user_id, token):
                    print(phase.line(), flush=True)
            if options.baseline_tree:
                _clear_throttle(url)
                with _server(env, tmp, options.port, tree=options.baseline_tree) as server:
                    body = _upload_body(user_id)
                    phase = _load(
                        "baseline tree: HTTP Basic upload", options, server, body, _basic()
                    )
                    print(phase.line(), flush=True)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each phase")
    parser.add_argument("--clients", type=int, default=6, help="concurrent clients")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--baseline-tree", type=Path, default=None, help="another checkout")
    return parser.parse_args()


@dataclasses.dataclass(frozen=True)
class Server:
    port: int
    bench: Bench
    child: Child


def _phases(
    options: argparse.Namespace, server: Server, user_id: int, token: str
) -> Iterator[Phase]:
    body = _upload_body(user_id)
    yield _load("upload, Authorization: Bearer (scope app)", options, server, body, _bearer(token))
    yield _load("upload, HTTP Basic (verified once a minute)", options, server, body, _basic())
    wrong_token = _bearer("hj_" + secrets.token_urlsafe(32))
    yield _sequential("rejected token, not locked (1 client)", server, body, wrong_token)
    _clear_throttle(server.bench.url)
    wrong_password = _basic(password="wrong")
    yield _sequential(
        "rejected Basic password, not locked (1 client)", server, body, wrong_password
    )
    yield _load("rejected credentials, address locked", options, server, body, wrong_password)


def _load(
    name: str, options: argparse.Namespace, server: Server, body: bytes, headers: dict[str, str]
) -> Phase:
    """`options.clients` threads posting for `options.seconds` (after a short warm-up)."""
    deadline = [float("inf")]  # set once the warm-up is over
    results: list[tuple[int, float]] = []
    lock = threading.Lock()
    measuring = threading.Event()

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        while time.monotonic() < deadline[0]:
            outcome = _post(connection, body, headers)
            if measuring.is_set():
                with lock:
                    results.append(outcome)

    threads = [threading.Thread(target=client) for _ in range(options.clients)]
    for thread in threads:
        thread.start()
    time.sleep(2.0)
    deadline[0] = time.monotonic() + options.seconds
    meter = CpuMeter(server.bench, server.child.pid)
    measuring.set()
    started = time.monotonic()
    for thread in threads:
        thread.join(timeout=options.seconds + 120)
    elapsed = time.monotonic() - started
    return _phase(name, results, elapsed, meter.used())


def _sequential(name: str, server: Server, body: bytes, headers: dict[str, str]) -> Phase:
    """The failures the throttle lets through before it locks the address, one by one."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    meter = CpuMeter(server.bench, server.child.pid)
    started = time.monotonic()
    results = [_post(connection, body, headers) for _ in range(FREE_FAILURES)]
    return _phase(name, results, time.monotonic() - started, meter.used())


def _phase(
    name: str, results: list[tuple[int, float]], seconds: float, cpu: dict[str, float]
) -> Phase:
    statuses = Counter(status for status, _ in results)
    latencies = [latency for _, latency in results]
    return Phase(name, len(results), seconds, statuses, latencies, cpu)


def _post(
    connection: http.client.HTTPConnection, body: bytes, headers: dict[str, str]
) -> tuple[int, float]:
    started = time.monotonic()
    connection.request(
        "POST",
        "/api/resumes",
        body=body,
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", **headers},
    )
    response = connection.getresponse()
    response.read()
    return response.status, time.monotonic() - started


def _upload_body(user_id: int) -> bytes:
    from tests.web.helpers import pdf_bytes

    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="user_id"\r\n\r\n{user_id}\r\n',
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="cv.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n",
    ]
    return "".join(parts).encode() + pdf_bytes() + f"\r\n--{BOUNDARY}--\r\n".encode()


def _basic(password: str = PASSWORD) -> dict[str, str]:
    credentials = base64.b64encode(f"bench:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- the database, the data, the server ------------------------------------------------------


@contextlib.contextmanager
def _bench_database(tmp: Path) -> Iterator[str]:
    from hiring_jobs import db

    with fresh_database(db.database_url()) as url:
        _point_at(url, tmp)
        yield url


def _point_at(url: str, tmp: Path) -> None:
    """This process's settings and engine now mean the bench database (for the seed)."""
    from hiring_jobs import db, settings

    os.environ.update(_server_env(url, tmp))
    for cached in (settings.get_settings, db.database_url, db.get_engine, db.get_sessionmaker):
        cached.cache_clear()


def _server_env(url: str, tmp: Path) -> dict[str, str]:
    key_file = tmp / "secret-key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(32))
    return {
        "DATABASE_URL": url,
        "HIRING_JOBS_DATA_DIR": str(tmp / "data"),
        "HIRING_JOBS_SECRET_KEY": key_file.read_text(),
        # The bootstrap account: a real scrypt hash, as any account has.
        "HIRING_JOBS_ADMIN_USERNAME": "bench",
        "HIRING_JOBS_ADMIN_PASSWORD": PASSWORD,
        "HIRING_JOBS_LOG_LEVEL": "WARNING",
    }


def _seed(url: str, tmp: Path) -> tuple[int, str]:
    """A candidate to upload for, and an app token (made as `hiring-jobs tokens create`)."""
    from hiring_jobs import db
    from hiring_jobs.access import tokens
    from hiring_jobs.models import TokenScope, User, UserRole
    from hiring_jobs.settings import get_settings

    with db.session_scope() as session:
        user = User(email="bench@example.com", full_name="Bench Candidate", role=UserRole.CANDIDATE)
        session.add(user)
        session.flush()
        key = tokens.token_key(get_settings())
        _, raw = tokens.create(session, key, name="bench-upload", scope=TokenScope.APP, by="bench")
        return user.id, raw


def _clear_throttle(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM login_throttle")


@contextlib.contextmanager
def _server(env: dict[str, str], tmp: Path, port: int, tree: Path | None) -> Iterator[Server]:
    """`hiring-jobs web` from this checkout (or `tree`), until the block ends."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("HIRING_JOBS_")}
    child_env.update(env, PYTHONUNBUFFERED="1")
    cwd = tree or Path(__file__).resolve().parents[2]
    child_env["PYTHONPATH"] = str(cwd)
    command = [PYTHON, "-m", "hiring_jobs", "web", "--host", "127.0.0.1", "--port", str(port)]
    child = Child("web", command, child_env, tmp / "logs", cwd=cwd)
    bench = Bench(
        env["DATABASE_URL"], tmp, quick=False, rounds=1, processes=2, concurrency=4, jobs=0
    )
    try:
        wait_until(lambda: _healthy(port, child), timeout=60, what="the web app to answer")
        yield Server(port, bench, child)
    finally:
        child.stop(timeout=20)


def _healthy(port: int, child: Child) -> bool:
    if not child.alive():
        raise BenchError(f"the web app exited:\n{child.tail()}")
    with contextlib.suppress(OSError):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    return False


if __name__ == "__main__":
    try:
        main()
    except BenchError as exc:
        sys.exit(f"bench failed: {exc}")
