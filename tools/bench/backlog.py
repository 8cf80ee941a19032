"""Backlog: does completion hold when 100,000 jobs are already waiting?

The same worker, the same producer (bench_load: no-op jobs at a fixed rate above what the
workers can take, in small transactions), twice in one round: once on an empty queue,
once with `backlog` jobs queued first. Completion rate is what succeeded during the
window divided by its length; the backlog phase should complete as fast as the empty one
(the fetch must not cost more with more jobs waiting).

The two phases differ in the backlog only. Each starts from an emptied job table
(TRUNCATE) with a worker started for it, and the rounds alternate which phase runs
first. Until 2026-12-04 the loaded phase ran second, on the table the empty phase had
used (its 60,000-80,000 jobs run, then vacuumed away), and so measured that history as
well as the backlog: two empty phases in a row on one table, vacuumed between them and
nothing queued, measured 0.79x and 0.94x; fresh tables alternated (empty, loaded,
loaded, empty) 978, 946, 862, 949 jobs/s; one worker over emptied tables (empty, empty,
loaded, empty) 1,037, 980, 954, 1,006 (README, "Backlogs, writes per job").

Each window starts right after a CHECKPOINT. Without it, the loaded phase paid for a
checkpoint the empty one did not: the 100,000-job enqueue just before it writes enough WAL
to start one (max_wal_size), and the first write to each page after a checkpoint logs the
whole page. Seen in the server's log (2026-12-03): in 4 of 5 loaded windows a checkpoint
had started during the window or in the 70 s before it, 2 of them set off by WAL volume;
those rounds measured 0.66-0.80x, the one without 0.89x.
"""

from __future__ import annotations

import dataclasses
import time

from tools.bench import drain as bench_drain
from tools.bench import latency as bench_latency
from tools.bench.common import (
    Bench,
    BenchError,
    Child,
    reset_jobs,
    wait_listening,
    wait_until,
)

# The producer outlives the window: it is running before the window opens and after.
PRODUCER_MARGIN_SECONDS = 30.0


@dataclasses.dataclass(frozen=True)
class Window:
    completed_per_second: float


@dataclasses.dataclass(frozen=True)
class Backlog:
    empty: Window
    loaded: Window

    @property
    def ratio(self) -> float:
        return self.loaded.completed_per_second / max(self.empty.completed_per_second, 1e-9)


def measure(
    bench: Bench,
    contender: bench_drain.Contender,
    backlog: int,
    rate: float,
    seconds: float,
    *,
    loaded_first: bool = False,
) -> Backlog:
    """One round: the empty phase and the loaded one, in the order asked."""
    if loaded_first:
        loaded = phase(bench, contender, backlog, rate, seconds)
        empty = phase(bench, contender, 0, rate, seconds)
    else:
        empty = phase(bench, contender, 0, rate, seconds)
        loaded = phase(bench, contender, backlog, rate, seconds)
    return Backlog(empty=empty, loaded=loaded)


def phase(
    bench: Bench, contender: bench_drain.Contender, queued: int, rate: float, seconds: float
) -> Window:
    """From an emptied table and a worker started for it: `queued` jobs enqueued once the
    worker listens (their notifications reach it, as a bulk import's would), then the
    window."""
    reset_jobs(bench)
    children = contender.start(bench)
    try:
        wait_listening(bench, children, contender.listeners)
        if queued:
            bench_drain.enqueue_noops(bench, queued)
        return window(bench, rate, seconds, children)
    except BenchError as exc:
        raise BenchError(f"backlog: {exc}\n{children[0].tail()}") from None
    finally:
        for child in children:
            child.stop()


def window(bench: Bench, rate: float, seconds: float, children: list[Child]) -> Window:
    """Run the producer; the completion rate over `seconds` once it is inserting."""
    with bench.connect() as conn:
        conn.execute("CHECKPOINT")  # each window from the same start (module docstring)
    load = bench_latency.start_load(bench, rate, seconds + PRODUCER_MARGIN_SECONDS)
    alive = lambda: all(child.alive() for child in children) and load.alive()  # noqa: E731
    try:
        first = newest_job(bench)
        wait_until(lambda: newest_job(bench) > first, timeout=60, what="the producer", alive=alive)
        before, started = succeeded(bench), time.monotonic()
        time.sleep(seconds)
        if not alive():
            raise BenchError("a worker or the producer exited during the window")
        after, elapsed = succeeded(bench), time.monotonic() - started
    finally:
        load.stop()
    return Window(completed_per_second=(after - before) / elapsed)


def newest_job(bench: Bench) -> int:
    with bench.connect() as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM procrastinate_jobs").fetchone()
    return int(row[0]) if row else 0


def succeeded(bench: Bench) -> int:
    with bench.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
        ).fetchone()
    return int(row[0]) if row else 0
