"""Benchmark tasks on hiring_jobs' app, loaded by workers through HIRING_JOBS_TASK_MODULES.

BENCH_MIDDLEWARE (worker processes only) swaps the worker middleware to measure its cost:
unset keeps production's three; "none" runs none; otherwise a comma-separated subset of
context, attempts, execution, in that order.
"""

from __future__ import annotations

import os
import threading
import time

import psycopg

from hiring_jobs.app import app
from hiring_jobs.db import database_url
from hiring_jobs.queue import retry
from hiring_jobs.queue.attempts import record_attempts
from hiring_jobs.queue.context import bind_job_context
from hiring_jobs.queue.execution import Execution, Mode, declare, execute
from hiring_jobs.queue.keys import Key
from hiring_jobs.queue.rate_limit import Rate
from hiring_jobs.tasks.family import task as family_task

MIDDLEWARE = {
    "context": bind_job_context,
    "attempts": record_attempts,
    "execution": execute,
}
_local = threading.local()


# The drain's contenders declare the no-op in each execution mode (default: process).
NOOP_MODE = os.environ.get("BENCH_NOOP_MODE", "process")

if NOOP_MODE == "async":

    @app.task(name="bench.noop", queue="default")
    async def noop() -> None:
        """The unit of the drain benchmarks: all cost is the queue's."""

else:

    @app.task(name="bench.noop", queue="default")
    def noop() -> None:
        """The unit of the drain benchmarks: all cost is the queue's."""

    if NOOP_MODE == "thread":
        declare(noop, Execution(mode=Mode.THREAD))


@app.task(name="bench.probe", queue="default")
def probe(key: int) -> None:
    """Pickup latency: note when the task body starts (after fetch and middleware)."""
    started = time.time()
    store_probe(key, started)


def store_probe(key: int, started: float) -> None:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(database_url(), autocommit=True)
    conn.execute("INSERT INTO bench_probes (key, started) VALUES (%s, %s)", (key, started))


def _select_middleware(choice: str | None) -> None:
    if choice is None:
        return
    names = [] if choice == "none" else [n.strip() for n in choice.split(",") if n.strip()]
    unknown = set(names) - set(MIDDLEWARE)
    if unknown:
        raise ValueError(f"BENCH_MIDDLEWARE: unknown {sorted(unknown)}")
    app.worker_defaults["worker_middleware"] = [mw for n, mw in MIDDLEWARE.items() if n in names]


_select_middleware(os.environ.get("BENCH_MIDDLEWARE"))


@app.task(name="bench.email_probe", queue="email")
def email_probe(key: int) -> None:
    """An application-status email's stand-in: note when it starts."""
    store_probe(key, time.time())


@app.task(name="bench.slow_parse", queue="resume")
def slow_parse(seconds: float) -> None:
    """A pathological PDF's stand-in: burns CPU for `seconds`."""
    deadline = time.process_time() + seconds
    while time.process_time() < deadline:
        pass


@app.task(name="bench.tenant_job", queue="default")
def tenant_job(tenant: str, seconds: float) -> None:
    """The fairness section's unit without a key: strictly by id (FIFO)."""
    time.sleep(seconds)


@family_task(
    "bench.tenant_job_fair", queue="default", retry=retry.NEVER, key=Key("bench_tenant", "tenant")
)
def tenant_job_fair(tenant: str, seconds: float) -> None:
    """The same, keyed by tenant: fair share between tenants (queue/keys.py)."""
    time.sleep(seconds)


@family_task(
    "bench.tenant_job_capped",
    queue="default",
    retry=retry.NEVER,
    key=Key("bench_capped", "tenant", max_running=2, rate=Rate.per_second(1000)),
)
def tenant_job_capped(tenant: str, seconds: float) -> None:
    """Keyed with both limits: what the fetch costs when it must check them."""
    time.sleep(seconds)
