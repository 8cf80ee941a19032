"""Growth: the same drain and worker start with N finished jobs in history vs none.

History looks like a system that ran for a while: finished jobs (worker already gone,
so worker_id is NULL), their three events and their attempt rows, then VACUUM ANALYZE
(what autovacuum leaves behind).
"""

from __future__ import annotations

import dataclasses
import time

from tools.bench.common import Bench, BenchError, hiring_worker, median, wait_until
from tools.bench.drain import delete_jobs, enqueue_noops, finished_at, unfinished

CHUNK = 500_000


@dataclasses.dataclass(frozen=True)
class StartStop:
    start_seconds: float  # spawn -> the first queued job starts
    stop_seconds: float  # SIGTERM -> every process exited


def populate_history(bench: Bench, count: int) -> float:
    """Insert `count` finished jobs with their events and attempts; return the seconds taken."""
    started = time.monotonic()
    with bench.connect() as conn:
        conn.execute("SET synchronous_commit = off")  # loading, not measuring
        done = 0
        while done < count:
            size = min(CHUNK, count - done)
            _insert_chunk(conn, size)
            done += size
            bench.log(f"history: {done:,} of {count:,} finished jobs")
        for table in ("procrastinate_jobs", "procrastinate_events", "job_attempts"):
            conn.execute(f"VACUUM ANALYZE {table}")
    return time.monotonic() - started


def _insert_chunk(conn, size: int) -> None:  # type: ignore[no-untyped-def]
    with conn.transaction():
        row = conn.execute(
            "WITH j AS (INSERT INTO procrastinate_jobs"
            " (queue_name, task_name, args, status, attempts)"
            " SELECT 'default', 'bench.noop', '{}', 'succeeded', 1"
            " FROM generate_series(1, %s) RETURNING id)"
            " SELECT min(id), max(id) FROM j",
            (size,),
        ).fetchone()
        first, last = row
        conn.execute(
            "INSERT INTO procrastinate_events (job_id, type, at)"
            " SELECT j.id, t.type::procrastinate_job_event_type, now() - interval '1 day'"
            " FROM procrastinate_jobs j,"
            " (VALUES ('deferred'), ('started'), ('succeeded')) AS t(type)"
            " WHERE j.id BETWEEN %s AND %s",
            (first, last),
        )
        conn.execute(
            "INSERT INTO job_attempts (job_id, attempt, task_name, queue, outcome,"
            " started_at, finished_at, duration_ms, worker_name, hostname, pid)"
            " SELECT id, 1, 'bench.noop', 'default', 'succeeded', now() - interval '1 day',"
            " now() - interval '1 day', 1.0, 'history', 'bench', 1"
            " FROM procrastinate_jobs WHERE id BETWEEN %s AND %s",
            (first, last),
        )


def start_stop(bench: Bench) -> StartStop:
    """Spawn the production worker with one job waiting; time its start and its stop."""
    first, last, _ = enqueue_noops(bench, 1)
    spawned = time.time()
    worker = hiring_worker(bench, processes=bench.processes, concurrency=bench.concurrency)
    try:
        wait_until(
            lambda: unfinished(bench, first, last) == 0,
            timeout=120,
            what="the first job of a fresh worker",
            interval=0.02,
            alive=worker.alive,
        )
        started_at = _started_at(bench, first)
    except BenchError as exc:
        worker.stop()
        raise BenchError(f"start time: {exc}\n{worker.tail()}") from None
    time.sleep(0.5)  # fully up (every process registered) before we stop it
    stopped = worker.stop()
    finished_at(bench, first, last)
    delete_jobs(bench, first, last)
    return StartStop(start_seconds=started_at - spawned, stop_seconds=stopped)


def _started_at(bench: Bench, job_id: int) -> float:
    with bench.connect() as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM at)::float8 FROM procrastinate_events"
            " WHERE job_id = %s AND type = 'started'",
            (job_id,),
        ).fetchone()
    if row is None:
        raise BenchError(f"job {job_id} has no started event")
    return float(row[0])


def median_start_stop(bench: Bench, rounds: int) -> StartStop:
    samples = [start_stop(bench) for _ in range(rounds)]
    return StartStop(
        start_seconds=median([s.start_seconds for s in samples]),
        stop_seconds=median([s.stop_seconds for s in samples]),
    )
