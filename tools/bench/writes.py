"""Writes per job: what one no-op job costs the database on disk, ours against stock.

Each side drains the same N no-op jobs (enqueued in one transaction, so the producer's
share is the same) in its own database: ours in the bench database with every table,
index and trigger of our migrations, stock Procrastinate in a database holding only
Procrastinate's schema. Measured from a CHECKPOINT (both start without full-page images
pending) to the last job's end: WAL bytes (`pg_current_wal_lsn()` difference; the server
is the bench's own, so little else writes), growth of the relations on disk, and rows
written (inserted + updated + deleted, from `pg_stat_user_tables`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator

import psycopg

from tools.bench import drain as bench_drain
from tools.bench.common import (
    STATS_FLUSH_SECONDS,
    Bench,
    BenchError,
    create_bench_tables,
    created_database,
    reset_jobs,
)


@dataclasses.dataclass(frozen=True)
class Writes:
    jobs: int
    wal_bytes: int
    disk_bytes: int
    rows: int

    def per_job(self) -> str:
        return (
            f"WAL {self.wal_bytes / self.jobs:,.0f} B, disk {self.disk_bytes / self.jobs:,.0f} B,"
            f" rows {self.rows / self.jobs:.1f}"
        )


@dataclasses.dataclass(frozen=True)
class Snapshot:
    lsn: str
    disk: int
    rows: int


def measure(bench: Bench, contender: bench_drain.Contender, count: int) -> Writes:
    """Drain `count` no-op jobs with `contender` on `bench.url`; the writes they cost."""
    bench_drain_reset(bench)
    children = contender.start(bench)
    try:
        bench_drain.wait_listening(bench, children, contender.listeners)
        before = snapshot(bench)
        first, last, _ = bench_drain.enqueue_noops(bench, count)
        bench_drain.wait_drained(bench, first, last, children)
    finally:
        for child in children:
            child.stop()
    time.sleep(STATS_FLUSH_SECONDS)
    after = snapshot(bench)
    with bench.connect() as conn:
        wal = conn.execute("SELECT pg_wal_lsn_diff(%s, %s)::bigint", (after.lsn, before.lsn))
        wal_bytes = int(wal.fetchone()[0])  # type: ignore[index]
    return Writes(count, wal_bytes, after.disk - before.disk, after.rows - before.rows)


def bench_drain_reset(bench: Bench) -> None:
    """Empty the job tables (ours or stock's) and checkpoint: the same start for both."""
    reset_jobs(bench)
    with bench.connect() as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


def snapshot(bench: Bench) -> Snapshot:
    with bench.connect() as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT pg_current_wal_lsn()::text,"
            " coalesce(sum(pg_total_relation_size(relid)), 0)::bigint,"
            " coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint"
            " FROM pg_stat_user_tables"
        ).fetchone()
    assert row is not None
    return Snapshot(lsn=row[0], disk=int(row[1]), rows=int(row[2]))


@contextlib.contextmanager
def stock_database(bench: Bench) -> Iterator[Bench]:
    """A database on the bench's server with Procrastinate's schema only; dropped after."""
    from procrastinate import schema

    name = f"{psycopg.conninfo.conninfo_to_dict(bench.url)['dbname']}_stock"
    with created_database(bench.url, name) as url:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(schema.SchemaManager.get_schema())  # type: ignore[arg-type]
            create_bench_tables(url)
            yield dataclasses.replace(bench, url=url)
        except psycopg.Error as exc:
            raise BenchError(f"stock database: {exc}") from None
