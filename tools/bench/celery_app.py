"""Celery + Redis baseline: prefork, acks late (at least once, like Procrastinate).

Everything else is Celery's default (prefetch multiplier 4, no result backend needed).
The broker URL comes from BENCH_REDIS_URL (a redis-server the harness started).
"""

from __future__ import annotations

import os

from celery import Celery

QUEUE = "bench"
HOLD_QUEUE = "bench_hold"  # filled while the worker is idle, then renamed to QUEUE at once

app = Celery("bench", broker=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:1/0"))
app.conf.update(
    task_acks_late=True,
    task_ignore_result=True,
    task_default_queue=QUEUE,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@app.task(name="bench.noop")
def noop() -> None:
    """Same no-op as the Procrastinate ones."""
