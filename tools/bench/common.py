"""Shared plumbing of the benchmarks: the fresh database, child processes, statistics.

Everything here is bounded: every wait has a deadline, every child process is stopped
(SIGTERM, then SIGKILL by pid) by the code that started it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
from psycopg import sql

from hiring_jobs.progress import Progress

# Backends report their table counters (pg_stat_user_tables) at most every second.
STATS_FLUSH_SECONDS = 1.5
ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
BENCH_TASKS = "tools.bench.tasks"


class BenchError(RuntimeError):
    """A measurement could not be taken (a child died, a deadline passed)."""


@dataclasses.dataclass
class Bench:
    """What every section needs: the bench database, a scratch directory, the sizes."""

    url: str  # libpq URL of the fresh bench database
    tmp: Path
    quick: bool
    rounds: int
    processes: int  # worker processes for "all cores"
    concurrency: int  # production concurrency per process
    jobs: int  # drain size
    compare_tree: Path | None = None  # another checkout whose worker runs side by side
    worker_env: dict[str, str] = dataclasses.field(default_factory=dict)  # settings under test
    # On a terminal, a progress bar over the sections whose label is the latest log line
    # (hiring_jobs.cli_support.progress_bar); None: log lines on stderr (pipes, CI).
    status: Progress | None = None
    sections_done: tuple[int, int] = (0, 1)

    def log(self, message: str) -> None:
        if self.status is not None:
            self.status(message, *self.sections_done)
            return
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=True)

    def env(self, **extra: str) -> dict[str, str]:
        """Environment of a child process: the bench database, our tasks, no stray settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("HIRING_JOBS_")}
        env.update(
            DATABASE_URL=self.url,
            HIRING_JOBS_DATA_DIR=str(self.tmp / "data"),
            HIRING_JOBS_TASK_MODULES=BENCH_TASKS,
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env


# --- the database -------------------------------------------------------------------


def url_with_dbname(url: str, dbname: str) -> str:
    """The same server and user, another database, as a postgresql:// URL."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    user = str(info.get("user") or os.environ.get("USER", "postgres"))
    password = str(info.get("password") or "")
    auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    query = {k: str(info[k]) for k in ("host", "port") if info.get(k)}
    return f"postgresql://{auth}@/{quote(dbname, safe='')}?{urlencode(query)}"


@contextlib.contextmanager
def fresh_database(server_url: str, *, keep: bool = False) -> Iterator[str]:
    """A new, migrated database on the server of `server_url`; dropped afterwards."""
    from hiring_jobs import schema

    name = f"hiring_jobs_bench_{os.getpid()}_{int(time.time())}"
    with created_database(server_url, name, keep=keep) as url:
        schema.upgrade(url)
        create_bench_tables(url)
        yield url


@contextlib.contextmanager
def created_database(server_url: str, name: str, *, keep: bool = False) -> Iterator[str]:
    """An empty database `name` on the server of `server_url`, dropped afterwards unless
    `keep`. It never touches another database's data: the name is checked to be free."""
    admin_url = url_with_dbname(server_url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            raise BenchError(f"database {name} already exists")
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url_with_dbname(server_url, name)
    finally:
        if not keep:
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


def create_bench_tables(url: str) -> None:
    """The tables bench tasks write to (probe start times, write payloads)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_probes (key bigint PRIMARY KEY, started float8)")
        conn.execute("CREATE TABLE bench_writes (id bigserial PRIMARY KEY, payload text)")


def server_facts(url: str) -> str:
    names = ("server_version", "synchronous_commit", "fsync", "shared_buffers", "max_connections")
    with psycopg.connect(url, autocommit=True) as conn:
        values = [conn.execute(f"SHOW {name}").fetchone()[0] for name in names]  # type: ignore[index]
    return ", ".join(f"{n}={v}" for n, v in zip(names, values, strict=True))


def reset_jobs(bench: Bench) -> None:
    """Empty the job tables between measurements, so each starts from the same state
    (those that exist: a stock Procrastinate database has only its own).

    No ANALYZE afterwards: statistics saying "empty" make the foreign-key checks of the
    next 20,000 inserts scan the table each time (TRUNCATE leaves them unknown instead).
    """
    with bench.connect() as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT relname FROM pg_stat_user_tables WHERE relname = ANY(%s)",
                (list(JOB_TABLES),),
            )
        ]
        conn.execute(
            sql.SQL("TRUNCATE {} CASCADE").format(sql.SQL(", ").join(map(sql.Identifier, tables)))
        )


JOB_TABLES = (
    "procrastinate_jobs",
    "procrastinate_events",
    "procrastinate_periodic_defers",
    "job_attempts",
    "bench_probes",
    "bench_writes",
)


def server_now(conn: psycopg.Connection) -> float:
    row = conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()
    assert row is not None
    return float(row[0])


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    interval: float = 0.05,
    alive: Callable[[], bool] = lambda: True,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if not alive():
            raise BenchError(f"a child process exited before {what}")
        time.sleep(interval)
    raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")


# --- child processes ----------------------------------------------------------------


class Child:
    """A child process whose output goes to a log file (no pipe to fill)."""

    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        log_dir: Path,
        cwd: Path = ROOT,
    ):
        log_dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = log_dir / f"{name}-{time.monotonic_ns()}.log"
        self.started = time.time()
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(
                command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, chars: int = 2000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self, timeout: float = 60) -> float:
        """SIGTERM, wait (SIGKILL after `timeout`); return the seconds it took to exit."""
        started = time.monotonic()
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return time.monotonic() - started


def hiring_worker(
    bench: Bench,
    *,
    processes: int,
    concurrency: int,
    queues: str = "",
    tree: Path | None = None,
    plain: bool = False,
    **env: str,
) -> Child:
    """`hiring-jobs worker` with the settings under test (code defaults if `plain`); from
    another checkout `tree` (say, before a change) if given."""
    command = [PYTHON, "-m", "hiring_jobs", "worker", "--processes", str(processes)]
    command += ["--concurrency", str(concurrency)]
    if queues:
        command += ["--queues", queues]
    child_env = bench.env(**{**({} if plain else bench.worker_env), **env})
    if tree is not None:
        child_env["PYTHONPATH"] = os.pathsep.join([str(tree), child_env["PYTHONPATH"]])
    return Child("worker", command, child_env, bench.tmp / "logs", cwd=tree or ROOT)


def stock_worker(bench: Bench, *, concurrency: int | None = None) -> Child:
    """Procrastinate's own CLI on a plain App: its defaults unless concurrency is given."""
    command = [PYTHON, "-m", "procrastinate", "--app=tools.bench.stock_app.app"]
    command += ["worker"]
    if concurrency is not None:
        command += ["--concurrency", str(concurrency)]
    return Child("stock", command, bench.env(), bench.tmp / "logs")


def listening_workers(bench: Bench) -> int:
    """Worker connections that have run LISTEN: a worker is ready once its listener is."""
    with bench.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query ILIKE 'LISTEN%%'"
        ).fetchone()
    return int(row[0]) if row else 0


def wait_listening(bench: Bench, children: list[Child], expected: int) -> None:
    wait_until(
        lambda: listening_workers(bench) >= expected,
        timeout=90,
        what=f"{expected} worker(s) to listen",
        interval=0.1,
        alive=lambda: all(child.alive() for child in children),
    )
    time.sleep(0.3)  # the first fetch after LISTEN has run; nothing waits in the queue
    wait_quiet()


# Started means quiet: a worker listening may still be starting its warm child processes
# (each imports the app), which a drain of a few seconds would otherwise pay for.
QUIET_CPU_SHARE = 0.15  # of one core, over QUIET_WINDOW_SECONDS
QUIET_WINDOW_SECONDS = 0.5
QUIET_TIMEOUT_SECONDS = 30.0


def wait_quiet() -> None:
    """Until the machine's busy CPU falls below QUIET_CPU_SHARE of a core (at most
    QUIET_TIMEOUT_SECONDS: a busy machine is noted in the report's load averages)."""
    deadline = time.monotonic() + QUIET_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        busy_before, wall_before = _busy_cpu_seconds(), time.monotonic()
        time.sleep(QUIET_WINDOW_SECONDS)
        busy = _busy_cpu_seconds() - busy_before
        if busy / (time.monotonic() - wall_before) < QUIET_CPU_SHARE:
            return


def _busy_cpu_seconds() -> float:
    """CPU time spent by every core on anything but idling and waiting for I/O."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


# --- numbers ------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation: p99 of 100 samples is the largest but one)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (Linux /proc; 0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


def pss_bytes(pid: int) -> int:
    """Proportional set size: resident memory with shared pages divided among the processes
    sharing them (forked task children share their parent's code), so sums are honest."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid` (the worker processes under the supervisor)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            children += [int(p) for p in (task / "children").read_text().split()]
    return children


def descendant_pids(pid: int) -> list[int]:
    found = []
    for child in child_pids(pid):
        found += [child, *descendant_pids(child)]
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_backends(dbname: str) -> list[int]:
    """PostgreSQL backends connected to `dbname` on this machine (their title names it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                title = (entry / "cmdline").read_bytes()
                if title.startswith(b"postgres: ") and f" {dbname} ".encode() in title:
                    pids.append(int(entry.name))
    return pids


class CpuMeter:
    """CPU seconds used by a worker's processes and by the bench database's backends."""

    def __init__(self, bench: Bench, worker_pid: int) -> None:
        self.dbname = str(psycopg.conninfo.conninfo_to_dict(bench.url)["dbname"])
        self.worker_pid = worker_pid
        self.start = self._sample()

    def _sample(self) -> dict[str, dict[int, float]]:
        # Every descendant: worker processes and their task children (queue/children.py).
        workers = [self.worker_pid, *descendant_pids(self.worker_pid)]
        return {
            "worker": {pid: cpu_seconds(pid) for pid in workers},
            "postgres": {pid: cpu_seconds(pid) for pid in database_backends(self.dbname)},
        }

    def used(self) -> dict[str, float]:
        end = self._sample()
        return {
            kind: sum(t - self.start[kind].get(pid, 0.0) for pid, t in end[kind].items())
            for kind in end
        }
