"""Queue isolation: an email's pickup delay while the resume queue has a backlog of slow
parses, with per-queue slots (ours) and with one pool of slots shared by every queue.

Both shapes run the same worker with the same number of slots in all (6); only the split
differs: `resume=2,email=4` against `*=6`.
"""

from __future__ import annotations

import dataclasses
import time

from sqlalchemy.orm import sessionmaker

from hiring_jobs import db
from hiring_jobs.queue.defer import batch_defer, defer
from tools.bench import tasks as bench_tasks
from tools.bench.common import (
    Bench,
    BenchError,
    descendant_pids,
    hiring_worker,
    percentile,
    pss_bytes,
    reset_jobs,
    wait_listening,
)
from tools.bench.latency import wait_probes

SHAPES = {"per-queue slots": "resume=2,email=4", "one shared pool": "*=6"}
PROBE_INTERVAL_SECONDS = 0.1
SLOW_PARSE_SECONDS = 2.0


@dataclasses.dataclass(frozen=True)
class Isolation:
    p50_ms: float
    p99_ms: float
    probes: int
    children_rss_mib: float  # proportional memory (PSS) of the worker's task children, summed


def measure(bench: Bench, queues: str, slow_parses: int, probes: int) -> Isolation:
    reset_jobs(bench)
    worker = hiring_worker(bench, processes=1, concurrency=1, queues=queues)
    engine = db.make_engine(bench.url)
    factory = sessionmaker(engine, expire_on_commit=False)
    try:
        wait_listening(bench, [worker], 1)
        _warm_up(bench, factory)
        with db.session_scope(factory) as session:
            batch_defer(
                session, bench_tasks.slow_parse, [{"seconds": SLOW_PARSE_SECONDS}] * slow_parses
            )
        time.sleep(0.5)  # the parses hold their slots
        committed = {}
        for key in range(probes):
            with db.session_scope(factory) as session:
                defer(session, bench_tasks.email_probe, key=key)
            committed[key] = time.time()
            time.sleep(PROBE_INTERVAL_SECONDS)
        started = wait_probes(bench, probes, [worker])
        children_rss = sum(pss_bytes(pid) for pid in descendant_pids(worker.pid))
    except BenchError as exc:
        raise BenchError(f"isolation: {exc}\n{worker.tail()}") from None
    finally:
        worker.stop()
        engine.dispose()
    delays = [(started[key] - committed[key]) * 1000 for key in committed]
    return Isolation(
        p50_ms=percentile(delays, 0.5),
        p99_ms=percentile(delays, 0.99),
        probes=len(delays),
        children_rss_mib=children_rss / 2**20,
    )


def _warm_up(bench: Bench, factory: sessionmaker) -> None:  # type: ignore[type-arg]
    """One probe through the worker first: measured is the steady state, not its start."""
    with db.session_scope(factory) as session:
        defer(session, bench_tasks.email_probe, key=-1)
    wait_probes(bench, 1, [])
    with bench.connect() as conn:
        conn.execute("DELETE FROM bench_probes")
