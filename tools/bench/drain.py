"""Drain throughput: N no-op jobs already committed, workers idle and listening; the
clock runs from the commit (one transaction, one NOTIFY burst) to the last job's end.

Procrastinate's end is the `succeeded` event of the last job (server clock); Celery's is
the moment its Redis queue and unacked set are both empty (polled every 10 ms).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

from tools.bench import redis_celery as bench_redis
from tools.bench.common import (
    Bench,
    BenchError,
    Child,
    hiring_worker,
    reset_jobs,
    server_now,
    stock_worker,
    wait_listening,
    wait_until,
)

JOB_TASK = "bench.noop"
INSERT_CHUNK = 20_000


@dataclasses.dataclass(frozen=True)
class Contender:
    """One way of running workers: how to start them and how many listeners to expect."""

    label: str
    start: Callable[[Bench], list[Child]]
    listeners: int


def ours(bench: Bench, **env: str) -> Contender:
    """hiring-jobs worker with production settings (all cores, production concurrency),
    plus the settings under test (`--worker-env`)."""
    settings = " ".join(f"{k}={v}" for k, v in bench.worker_env.items())
    return Contender(
        label=f"hiring-jobs worker {settings}".strip(),
        start=lambda b: [hiring_worker(b, processes=b.processes, concurrency=b.concurrency, **env)],
        listeners=bench.processes,
    )


def ours_declared(bench: Bench, mode: str) -> Contender:
    """The same worker with the no-op declared `mode=thread` or written `async def` (the
    fast paths a task may take): what process execution costs a task that does nothing."""
    label = "declared `mode=thread`" if mode == "thread" else "written `async def`"
    return Contender(
        label=f"hiring-jobs worker, no-op {label}",
        start=lambda b: [
            hiring_worker(b, processes=b.processes, concurrency=b.concurrency, BENCH_NOOP_MODE=mode)
        ],
        listeners=bench.processes,
    )


def ours_defaults(bench: Bench) -> Contender:
    """hiring-jobs worker with the code's defaults only (when settings are under test)."""
    return Contender(
        label="hiring-jobs worker, default settings",
        start=lambda b: [
            hiring_worker(b, processes=b.processes, concurrency=b.concurrency, plain=True)
        ],
        listeners=bench.processes,
    )


def ours_from_tree(bench: Bench, tree: Path) -> Contender:
    """The same production worker, from another checkout (A/B of a change, same run)."""
    return Contender(
        label=f"hiring-jobs worker from {tree}",
        start=lambda b: [
            hiring_worker(
                b, processes=b.processes, concurrency=b.concurrency, tree=tree, plain=True
            )
        ],
        listeners=bench.processes,
    )


def stock_defaults() -> Contender:
    return Contender("stock Procrastinate", lambda b: [stock_worker(b)], listeners=1)


def stock_same_shape(bench: Bench) -> Contender:
    return Contender(
        "stock, same processes/concurrency",
        lambda b: [stock_worker(b, concurrency=b.concurrency) for _ in range(b.processes)],
        listeners=bench.processes,
    )


def enqueue_noops(bench: Bench, count: int) -> tuple[int, int, float]:
    """Insert `count` no-op jobs in one transaction; return (first id, last id, commit time)."""
    with bench.connect() as conn:
        with conn.transaction():
            rows = conn.execute(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, args)"
                " SELECT 'default', %s, '{}' FROM generate_series(1, %s) RETURNING id",
                (JOB_TASK, count),
            ).fetchall()
        committed = server_now(conn)
    ids = [row[0] for row in rows]
    return min(ids), max(ids), committed


def unfinished(bench: Bench, first: int, last: int, task: str = JOB_TASK) -> int:
    with bench.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM procrastinate_jobs"
            " WHERE id BETWEEN %s AND %s AND task_name = %s AND status IN ('todo', 'doing')",
            (first, last, task),
        ).fetchone()
    return int(row[0]) if row else -1


def finished_at(bench: Bench, first: int, last: int, task: str = JOB_TASK) -> tuple[int, float]:
    """(succeeded jobs of `task`, time of the last success) for the id range. Only that
    task: a worker starting up defers its cron jobs, whose ids may fall inside the range."""
    with bench.connect() as conn:
        row = conn.execute(
            "SELECT count(DISTINCT e.job_id), extract(epoch FROM max(e.at))::float8"
            " FROM procrastinate_events e JOIN procrastinate_jobs j ON j.id = e.job_id"
            " WHERE e.job_id BETWEEN %s AND %s AND e.type = 'succeeded' AND j.task_name = %s",
            (first, last, task),
        ).fetchone()
    assert row is not None
    return int(row[0]), float(row[1] or 0.0)


def wait_drained(
    bench: Bench, first: int, last: int, children: list[Child], task: str = JOB_TASK
) -> None:
    count = last - first + 1
    wait_until(
        lambda: unfinished(bench, first, last, task) == 0,
        timeout=60 + count / 40,
        what=f"{count} jobs to finish",
        interval=0.2,
        alive=lambda: all(child.alive() for child in children),
    )


def drain_round(bench: Bench, contender: Contender, count: int, *, reset: bool = True) -> float:
    """One measurement: jobs per second from commit to the last success.

    `reset` empties the job tables first; without it (history kept), the round's own
    jobs are deleted afterwards instead.
    """
    if reset:
        reset_jobs(bench)
    children = contender.start(bench)
    try:
        wait_listening(bench, children, contender.listeners)
        first, last, committed = enqueue_noops(bench, count)
        wait_drained(bench, first, last, children)
        succeeded, last_end = finished_at(bench, first, last)
    except BenchError as exc:
        raise BenchError(f"{contender.label}: {exc}\n{children[0].tail()}") from None
    finally:
        for child in children:
            child.stop()
    if not reset:
        delete_jobs(bench, first, last)
    if succeeded != count:
        raise BenchError(f"{contender.label}: {succeeded} of {count} jobs succeeded")
    return count / max(last_end - committed, 1e-6)


def delete_jobs(bench: Bench, first: int, last: int) -> None:
    with bench.connect() as conn:
        conn.execute("DELETE FROM job_attempts WHERE job_id BETWEEN %s AND %s", (first, last))
        conn.execute("DELETE FROM procrastinate_jobs WHERE id BETWEEN %s AND %s", (first, last))


def celery_round(bench: Bench, redis: bench_redis.Redis, count: int) -> float:
    """Celery's drain: fill a held queue, start the worker, rename the queue in one step."""
    client = redis.client()
    client.flushdb()
    bench_redis.publish_held(redis.url, count)
    worker = bench_redis.celery_worker(bench, redis.url)
    try:
        bench_redis.wait_celery_ready(redis.url, worker)
        started = time.time()
        client.rename(bench_redis.HOLD_QUEUE, bench_redis.QUEUE)
        wait_until(
            lambda: bench_redis.celery_idle(client),
            timeout=60 + count / 40,
            what=f"Celery to drain {count} tasks",
            interval=0.01,
            alive=worker.alive,
        )
        ended = time.time()
        done = bench_redis.tasks_done(redis.url)
    except BenchError as exc:
        raise BenchError(f"celery: {exc}\n{worker.tail()}") from None
    finally:
        worker.stop()
    if done is not None and done != count:
        raise BenchError(f"celery: {done} of {count} tasks ran")
    return count / max(ended - started, 1e-6)
