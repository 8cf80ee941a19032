"""The worker's promises checked by their invariants, with real worker processes.

- Never twice at once: every run of a job notes its interval in a file; after database
  restarts (`-m fast`, then `-m immediate`) under load, no two runs of one job overlap,
  nothing is lost, nothing stays `doing`, no attempt stays `running`.
- The hard limit stops sync work and frees its slot: hung sync jobs are killed, other
  jobs keep running meanwhile, and nothing a killed job would have written appears.
- Signals: a second SIGTERM stops running jobs at once; a supervisor killed with -9 takes
  its worker processes and their children with it.
- The stock `procrastinate worker` gets the same killable execution.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import psycopg
import pytest
from psycopg import sql
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.app import app, make_connector
from hiring_jobs.queue.batching import fetch
from hiring_jobs.queue.defer import batch_defer, defer
from hiring_jobs.queue.manager import QueueJobManager
from tests.conftest import EMBEDDED_PGDATA
from tests.support import tasks
from tests.support.embedded import restart_server
from tests.support.factories import make_user
from tests.support.processes import ROOT, cli_env, start_cli, wait_for

pytestmark = pytest.mark.slow

# Realistic proportions at a test's pace: lease 2 s, rescue after 3 s of silence.
HEARTBEAT = {
    "HIRING_JOBS_TASK_MODULES": "tests.support.tasks",
    "HIRING_JOBS_HEARTBEAT_SECONDS": "1",
    "HIRING_JOBS_RESCUE_INTERVAL_SECONDS": "1",
}

# The last moments before an immediate restart whose asynchronous commits may be lost
# (wal_writer_delay is 200 ms; generous for a loaded machine).
LOST_WITH_A_CRASH_SECONDS = 2.0

ATTEMPT_ROWS_PER_KEY = """
SELECT j.args->>'key', count(a.id) FROM procrastinate_jobs j
JOIN job_attempts a ON a.job_id = j.id
WHERE j.task_name = 'tests.timed_run'
GROUP BY 1
"""


def _query(url: str, sql: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(url, connect_timeout=5) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def _count(url: str, sql: str, *params: object) -> int:
    try:
        return int(_query(url, sql, *params)[0][0])  # type: ignore[arg-type]
    except psycopg.OperationalError:
        return -1  # the server is restarting


def _runs(log: Path) -> dict[str, list[tuple[str, float, float]]]:
    """Per job key: (run id, first seen, last seen) of every run."""
    seen: dict[tuple[str, str], list[float]] = {}
    for line in log.read_text().splitlines():
        key, run, _pid, _event, at = line.split()
        seen.setdefault((key, run), []).append(float(at))
    runs: dict[str, list[tuple[str, float, float]]] = collections.defaultdict(list)
    for (key, run), times in seen.items():
        runs[key].append((run, min(times), max(times)))
    return runs


def _overlaps(runs: dict[str, list[tuple[str, float, float]]]) -> list[str]:
    found = []
    for key, intervals in runs.items():
        running_until, running = 0.0, ""
        for run, first, last in sorted(intervals, key=lambda interval: interval[1]):
            if first < running_until:
                found.append(f"{key}: run {run} started while {running} still ran")
            if last > running_until:
                running_until, running = last, run
    return found


def test_no_job_runs_twice_at_once_across_database_restarts(
    database_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    if not EMBEDDED_PGDATA:
        pytest.skip("restarts only the embedded test server, never an external one")
    log = tmp_path / "runs.log"
    log.touch()
    env = cli_env(DATABASE_URL=database_url, **HEARTBEAT)
    worker = start_cli(
        "worker", "--processes", "2", "--queues", "default=6,maintenance=2",
        env=env, log=tmp_path / "worker.log",
    )  # fmt: skip
    unfinished = (
        "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'tests.timed_run'"
        " AND status IN ('todo', 'doing')"
    )
    keys: list[str] = []
    crashes: list[tuple[float, float]] = []  # around each immediate restart
    try:
        for mode in ("fast", "immediate"):
            # Long jobs mid-run and short ones streaming when the database goes away.
            long_keys = [f"{mode}-long{n}" for n in range(6)]
            short_keys = [f"{mode}-short{n}" for n in range(750)]
            keys += long_keys + short_keys
            with session_factory() as session, session.begin():
                batch_defer(
                    session,
                    tasks.timed_run,
                    [{"log": str(log), "key": key, "seconds": 6.0} for key in long_keys]
                    + [{"log": str(log), "key": key, "seconds": 0.0} for key in short_keys],
                )
            wait_for(
                lambda long_keys=long_keys: set(long_keys) <= set(_runs(log)),
                timeout=60,
                what=f"long jobs to be running before the {mode} restart",
                process=worker,
            )
            before = time.time()
            restart_server(EMBEDDED_PGDATA[0], mode)
            if mode == "immediate":
                crashes.append((before - LOST_WITH_A_CRASH_SECONDS, time.time()))
        wait_for(
            lambda: _count(database_url, unfinished) == 0,
            timeout=240,
            what="every job to end after the restarts",
            process=worker,
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=120)

    runs = _runs(log)
    assert _overlaps(runs) == [], "no job ran in two places at once"
    statuses = dict(_query(database_url, "SELECT status, count(*) FROM procrastinate_jobs"
                           " WHERE task_name = 'tests.timed_run' GROUP BY 1"))  # fmt: skip
    assert statuses == {"succeeded": len(keys)}, "nothing lost, nothing failed, nothing doing"
    ended = {line.split()[0] for line in log.read_text().splitlines() if " end " in line}
    assert ended == set(keys), "every job ran to its end"
    # Each run has one attempt row, written by its worker or by the rescue, never two. Job
    # state is committed asynchronously: a run that ended just before the immediate crash
    # may have lost its fetch, its attempt row and its finish alike (and ran again).
    recorded = dict(_query(database_url, ATTEMPT_ROWS_PER_KEY))
    unrecorded = {}
    for key in keys:
        lost = sum(1 for _, _, last in runs[key] if any(a <= last <= b for a, b in crashes))
        if not len(runs[key]) - lost <= recorded.get(key, 0) <= len(runs[key]):
            unrecorded[key] = (len(runs[key]), lost, recorded.get(key, 0))
    assert unrecorded == {}, "(runs, runs at the crash, rows): every run recorded, once"


# Asynchronous commits reach the kernel at the WAL writer's next round: held back this
# long, they are lost by an immediate restart, deterministically.
SLOW_WAL_WRITER = "10s"


@pytest.mark.parametrize("durable", ["fetch_jobs_unkeyed", "fetch_jobs", "renew_lease"])
def test_a_crash_keeps_the_fetches_and_lease_renewals_a_worker_was_told_of(
    database_url: str, session_factory: sessionmaker[Session], durable: str
) -> None:
    """Fetches and renewals commit durably on worker connections, whose other commits are
    asynchronous: a fetch lost while its job runs would let a second worker run it, a lost
    renewal would let the rescue take a job its worker still runs. The statement under
    test is the last durable one before the crash; a finish committed after it is the
    control: asynchronous, it is lost, so the crash did lose what it could."""
    if not EMBEDDED_PGDATA:
        pytest.skip("restarts only the embedded test server, never an external one")
    with session_factory() as session, session.begin():
        if durable == "fetch_jobs":
            fetched = [defer(session, tasks.fair_run, log="-", key="k", tenant="t", seconds=0.0)]
        else:
            fetched = batch_defer(session, tasks.echo, [{"value": 1}])
        control = defer(session, tasks.echo, value=2)
    _set_wal_writer_delay(database_url, SLOW_WAL_WRITER)
    try:
        worker_id, heartbeat = asyncio.run(_worker_steps(durable, control))
        restart_server(EMBEDDED_PGDATA[0], "immediate")
    finally:
        _set_wal_writer_delay(database_url, None)

    ids = [*fetched, control]
    jobs = dict(_query(database_url, "SELECT id, concat_ws(' ', status, worker_id)"
                       " FROM procrastinate_jobs WHERE id = ANY(%s)", ids))  # fmt: skip
    assert jobs == {job_id: f"doing {worker_id}" for job_id in ids}, (
        "the fetch survived the crash; the later finish of the control job did not"
    )
    renewed = _query(
        database_url, "SELECT last_heartbeat FROM procrastinate_workers WHERE id = %s", worker_id
    )
    assert renewed == [(heartbeat,)], "the last renewal survived the crash"


def _set_wal_writer_delay(url: str, delay: str | None) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        if delay is None:
            conn.execute("ALTER SYSTEM RESET wal_writer_delay")
        else:
            conn.execute(sql.SQL("ALTER SYSTEM SET wal_writer_delay = {}").format(delay))
        conn.execute("SELECT pg_reload_conf()")
    time.sleep(0.5)  # the WAL writer takes the setting at its next round


async def _worker_steps(durable: str, control: int) -> tuple[int, datetime.datetime]:
    """As a worker process does, on its kind of connection: register, fetch, renew the
    lease, up to the `durable` statement; then finish the `control` job, asynchronously."""
    connector = make_connector(job_state=True)
    await connector.open_async()
    try:
        job_manager = QueueJobManager(connector, app)
        worker_id = await job_manager.register_worker()
        keyed = durable == "fetch_jobs"
        await fetch(connector, {"default": 2, "*": 0}, worker_id, keyed=keyed)
        if durable == "renew_lease":
            await asyncio.sleep(0.05)  # a renewal distinct from the registration
            await job_manager.update_heartbeat(worker_id)
        row = await connector.execute_query_one_async(
            "SELECT last_heartbeat FROM procrastinate_workers WHERE id = %(id)s", id=worker_id
        )
        await job_manager.finish_owned_jobs([(control, "succeeded")], worker_id)
    finally:
        await connector.close_async()
    return worker_id, row["last_heartbeat"]


def test_hung_sync_jobs_are_killed_at_the_hard_limit_while_other_queues_go_on(
    database_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_factory() as session, session.begin():
        user_id = make_user(session).id
    env = cli_env(DATABASE_URL=database_url, **HEARTBEAT)
    worker = start_cli(
        "worker", "--processes", "1", "--queues", "default=4,analytics=4",
        env=env, log=tmp_path / "worker.log",
    )  # fmt: skip
    done = "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'tests.echo'" \
        " AND status = 'succeeded'"  # fmt: skip
    try:
        with session_factory() as session, session.begin():
            batch_defer(session, tasks.echo, [{"value": n} for n in range(300)])
        started = time.monotonic()
        wait_for(lambda: _count(database_url, done) >= 100, timeout=120, what="100 short jobs")
        alone_rate = 100 / (time.monotonic() - started)

        with session_factory() as session, session.begin():
            hung = batch_defer(session, tasks.hang_sync, [{"user_id": user_id, "seconds": 8.0}] * 4)
            batch_defer(session, tasks.echo, [{"value": n} for n in range(300)])
        before = _count(database_url, done)
        started = time.monotonic()
        wait_for(
            lambda: _count(database_url, done) >= before + 100,
            timeout=120,
            what="100 more short jobs while 4 jobs hang",
        )
        hung_rate = 100 / (time.monotonic() - started)
        wait_for(
            lambda: _count(database_url, "SELECT count(*) FROM procrastinate_jobs"
                           " WHERE id = ANY(%s) AND status = 'failed'", hung) == 4,
            timeout=60,
            what="the hung jobs to fail after their retry",
        )  # fmt: skip
        time.sleep(8)  # past the moment an unkilled hung job would have written its row
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)

    assert hung_rate >= 0.5 * alone_rate, (hung_rate, alone_rate)
    outcomes = _query(
        database_url,
        "SELECT outcome, count(*) FROM job_attempts WHERE job_id = ANY(%s) GROUP BY 1",
        hung,
    )
    assert dict(outcomes) == {"timed_out": 8}, "each run stopped at the hard limit"  # type: ignore[arg-type]
    written = _count(
        database_url, "SELECT count(*) FROM notifications WHERE message = 'hung job finished'"
    )
    assert written == 0, "nothing of a killed job is committed after its attempt ended"


def test_a_second_sigterm_stops_running_jobs_at_once(
    database_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_factory() as session, session.begin():
        user_id = make_user(session).id
        job_id = defer(session, tasks.slow, user_id=user_id, marker="s", seconds=120)
    env = cli_env(DATABASE_URL=database_url, HIRING_JOBS_SHUTDOWN_TIMEOUT="600", **HEARTBEAT)
    worker = start_cli("worker", "--processes", "1", env=env, log=tmp_path / "worker.log")
    doing = "SELECT count(*) FROM procrastinate_jobs WHERE id = %s AND status = 'doing'"
    wait_for(lambda: _count(database_url, doing, job_id) == 1, timeout=60, what="the job")
    worker.send_signal(signal.SIGTERM)
    time.sleep(1)
    assert worker.poll() is None, "the first signal waits for the running job"
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    status = _query(database_url, "SELECT status FROM procrastinate_jobs WHERE id = %s", job_id)
    assert status == [("todo",)], "stopped, and re-queued to run again"


def test_a_supervisor_killed_with_sigkill_takes_its_processes_along(
    database_url: str, tmp_path: Path
) -> None:
    env = cli_env(DATABASE_URL=database_url, **HEARTBEAT)
    supervisor = start_cli("worker", "--processes", "2", env=env, log=tmp_path / "worker.log")
    wait_for(
        lambda: _count(database_url, "SELECT count(*) FROM procrastinate_workers") == 2,
        timeout=60,
        what="both worker processes to serve",
        process=supervisor,
    )
    descendants = psutil.Process(supervisor.pid).children(recursive=True)
    supervisor.kill()
    supervisor.wait()
    _, alive = psutil.wait_procs(descendants, timeout=60)
    assert alive == [], f"left running: {[p.cmdline()[-1:] for p in alive]}"


def test_the_stock_procrastinate_worker_kills_a_sync_task_at_its_hard_limit(
    database_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_factory() as session, session.begin():
        user_id = make_user(session).id
        hung = defer(session, tasks.hang_sync, user_id=user_id, seconds=8.0)
        after = defer(session, tasks.echo, value="after")
    env = cli_env(DATABASE_URL=database_url, **HEARTBEAT)
    with open(tmp_path / "stock.log", "wb") as out:
        stock = subprocess.Popen(
            [sys.executable, "-m", "procrastinate", "--app=hiring_jobs.app.app", "worker",
             "--concurrency", "2", "--queues", "analytics,default"],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    failed = "SELECT count(*) FROM procrastinate_jobs WHERE id = %s AND status = 'failed'"
    try:
        wait_for(
            lambda: _count(database_url, failed, hung) == 1,
            timeout=60,
            what="the hung job to be stopped twice and fail",
            process=stock,
        )
        time.sleep(8)
    finally:
        stock.send_signal(signal.SIGTERM)
        stock.wait(timeout=60)
    outcomes = _query(database_url, "SELECT outcome FROM job_attempts WHERE job_id = %s", hung)
    assert outcomes == [("timed_out",), ("timed_out",)]
    assert _query(database_url, "SELECT status FROM procrastinate_jobs WHERE id = %s", after) == [
        ("succeeded",)
    ]
    written = _count(
        database_url, "SELECT count(*) FROM notifications WHERE message = 'hung job finished'"
    )
    assert written == 0
