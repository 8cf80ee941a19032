"""Pickup latency: commit of the deferring transaction -> first line of the task body.

Probes are deferred one per transaction through `hiring_jobs.queue.defer.defer`; the
caller notes the time when its commit returns, the task the time it starts (same
machine, same clock). Under load, a separate process defers no-op jobs at a steady rate.
"""

from __future__ import annotations

import dataclasses
import time

from sqlalchemy.orm import sessionmaker

from hiring_jobs import db
from hiring_jobs.queue.defer import defer
from tools.bench import tasks as bench_tasks
from tools.bench.common import (
    PYTHON,
    Bench,
    BenchError,
    Child,
    percentile,
    reset_jobs,
    wait_listening,
    wait_until,
)
from tools.bench.drain import Contender

PROBE_INTERVAL_SECONDS = 0.04


@dataclasses.dataclass(frozen=True)
class Latency:
    p50_ms: float
    p99_ms: float
    max_ms: float
    samples: int
    load_rate: float  # jobs/s of background load asked for (0: idle)


def measure(bench: Bench, contender: Contender, probes: int, load_rate: float) -> Latency:
    reset_jobs(bench)
    children = contender.start(bench)
    load: Child | None = None
    try:
        wait_listening(bench, children, contender.listeners)
        if load_rate > 0:
            load = start_load(bench, load_rate, probes * PROBE_INTERVAL_SECONDS + 30)
            time.sleep(1.0)  # let the load reach its steady state
        committed = send_probes(bench, probes)
        started = wait_probes(bench, probes, children)
    except BenchError as exc:
        raise BenchError(f"latency: {exc}\n{children[0].tail()}") from None
    finally:
        if load is not None:
            load.stop()
        for child in children:
            child.stop()
    latencies = [(started[key] - committed[key]) * 1000 for key in committed]
    return Latency(
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        max_ms=max(latencies),
        samples=len(latencies),
        load_rate=load_rate,
    )


def start_load(bench: Bench, rate: float, seconds: float) -> Child:
    """The producer (tools/bench/load.py): no-op jobs at `rate` per second for `seconds`."""
    command = [PYTHON, "-m", "tools.bench.load", bench.url, f"{rate:.1f}"]
    return Child("load", [*command, f"{seconds:.0f}"], bench.env(), bench.tmp / "logs")


def send_probes(bench: Bench, probes: int) -> dict[int, float]:
    engine = db.make_engine(bench.url)
    factory = sessionmaker(engine, expire_on_commit=False)
    committed: dict[int, float] = {}
    try:
        next_at = time.monotonic()
        for key in range(probes):
            with db.session_scope(factory) as session:
                defer(session, bench_tasks.probe, key=key)
            committed[key] = time.time()
            next_at += PROBE_INTERVAL_SECONDS
            time.sleep(max(0.0, next_at - time.monotonic()))
    finally:
        engine.dispose()
    return committed


PROBE_WAIT_SECONDS = 120.0


def wait_probes(
    bench: Bench, probes: int, children: list[Child], *, all_or_fail: bool = True
) -> dict[int, float]:
    """Start times of the probes, once all started. Without `all_or_fail`, those that
    started within PROBE_WAIT_SECONDS (a contender that fell behind is measured too)."""

    def rows() -> dict[int, float]:
        with bench.connect() as conn:
            return dict(conn.execute("SELECT key, started FROM bench_probes").fetchall())

    try:
        wait_until(
            lambda: len(rows()) >= probes,
            timeout=PROBE_WAIT_SECONDS,
            what=f"{probes} probes to start",
            interval=0.2,
            alive=lambda: all(child.alive() for child in children),
        )
    except BenchError:
        if all_or_fail or not all(child.alive() for child in children):
            raise
    return rows()
