"""Held snapshot: a forgotten idle transaction holding an XID while jobs flow.

While any transaction holds an XID, VACUUM cannot remove the row versions that every job
leaves behind (three per job, plus events and attempts), and index scans cannot mark
them dead. The phase runs the producer (bench_load) at a fixed rate below capacity and
sends probes (pickup latency, as the latency section does) for its whole length, once
clean and once with another connection idle in a transaction that took an XID at its
start. Reported: completion rate, probe pickup p99, the share of dead tuples in each job
table at the end, and procrastinate_jobs' dead row versions per finished job.

The share alone rewards falling behind: a contender that runs few of the jobs it is
offered keeps them live (`todo`) and its share low. Per finished job, it is the bloat a
unit of work leaves: two versions (`todo`, then `doing`) for any worker that updates a
job's row in place, as Procrastinate's and ours do.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from math import inf

import psycopg

from tools.bench import backlog as bench_backlog
from tools.bench import drain as bench_drain
from tools.bench import latency as bench_latency
from tools.bench.common import (
    STATS_FLUSH_SECONDS,
    Bench,
    BenchError,
    percentile,
    reset_jobs,
    wait_listening,
)

TABLES = ("procrastinate_jobs", "procrastinate_events", "job_attempts")


@dataclasses.dataclass(frozen=True)
class Phase:
    completed_per_second: float
    pickup_p99_ms: float
    dead_share: dict[str, float]  # table -> dead / (live + dead) at the end
    dead_per_finished_job: float  # procrastinate_jobs' dead tuples / jobs no longer queued
    probes_not_started: int = 0  # PROBE_WAIT_SECONDS after the phase: the contender fell behind

    def pickup(self) -> str:
        if self.probes_not_started:
            return (
                f"pickup p99 over {bench_latency.PROBE_WAIT_SECONDS:.0f} s after the phase"
                f" ({self.probes_not_started:,} probes had not started)"
            )
        return f"pickup p99 {self.pickup_p99_ms:,.0f} ms"

    def dead(self) -> str:
        return ", ".join(f"{table} {share:.0%}" for table, share in self.dead_share.items())


def measure(
    bench: Bench, contender: bench_drain.Contender, rate: float, seconds: float, *, hold: bool
) -> Phase:
    reset_jobs(bench)
    with bench.connect() as conn:
        conn.execute("VACUUM ANALYZE")
    children = contender.start(bench)
    try:
        wait_listening(bench, children, contender.listeners)
        with _held_xid(bench) if hold else contextlib.nullcontext():
            load = bench_latency.start_load(bench, rate, seconds + 30)
            try:
                before, started = bench_backlog.succeeded(bench), time.monotonic()
                probes = max(10, int(seconds / bench_latency.PROBE_INTERVAL_SECONDS))
                committed = bench_latency.send_probes(bench, probes)
                after, elapsed = bench_backlog.succeeded(bench), time.monotonic() - started
            finally:
                load.stop()
            begun = bench_latency.wait_probes(bench, probes, children, all_or_fail=False)
            time.sleep(STATS_FLUSH_SECONDS)
            dead, per_job = dead_tuples(bench)
    except BenchError as exc:
        raise BenchError(f"held snapshot: {exc}\n{children[0].tail()}") from None
    finally:
        for child in children:
            child.stop()
    # A probe that had not started PROBE_WAIT_SECONDS after the phase counts as never.
    pickups = [(begun[key] - committed[key]) * 1000 if key in begun else inf for key in committed]
    return Phase(
        completed_per_second=(after - before) / elapsed,
        pickup_p99_ms=percentile(pickups, 0.99),
        dead_share=dead,
        dead_per_finished_job=per_job,
        probes_not_started=sum(1 for key in committed if key not in begun),
    )


@contextlib.contextmanager
def _held_xid(bench: Bench) -> Iterator[None]:
    """Another session, idle in a transaction that holds an XID, for the block's length."""
    with psycopg.connect(bench.url) as holder:
        holder.execute("SELECT txid_current()")
        try:
            yield
        finally:
            holder.rollback()


def dead_tuples(bench: Bench) -> tuple[dict[str, float], float]:
    """The dead share of each table (dead / (live + dead)), and procrastinate_jobs' dead
    versions per finished job, from one read of the statistics."""
    with bench.connect() as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        rows = conn.execute(
            "SELECT relname, n_live_tup, n_dead_tup FROM pg_stat_user_tables"
            " WHERE relname = ANY(%s) ORDER BY relname",
            (list(TABLES),),
        ).fetchall()
        finished = conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status NOT IN ('todo', 'doing')"
        ).fetchone()
    assert finished is not None
    shares = {name: dead / max(live + dead, 1) for name, live, dead in rows}
    jobs_dead = next((dead for name, _, dead in rows if name == "procrastinate_jobs"), 0)
    return shares, jobs_dead / max(int(finished[0]), 1)
