"""Backlog: does completion hold when 100,000 jobs are already waiting?

The same worker, the same producer (bench_load: no-op jobs at a fixed rate above what the
workers can take, in small transactions), in two kinds of window: on an empty queue, and
with `backlog` jobs queued first. Completion rate is what succeeded during the window
divided by its length; the loaded windows should complete as fast as the empty ones (the
fetch must not cost more with more jobs waiting).

The two kinds differ in the backlog only. Each starts from an emptied job table
(TRUNCATE) with a worker started for it. Until 2026-12-04 the loaded phase ran second, on
the table the empty phase had used (its 60,000-80,000 jobs run, then vacuumed away), and
so measured that history as well as the backlog.

A round runs four windows in mirrored order (empty, loaded, loaded, empty; the next round
loaded, empty, empty, loaded), and its ratio compares the two windows of each kind
together. This machine's speed drifts by 10-40% within minutes (the same code's CPU per
job, measured over every process), more than the backlog changes: with one window of each
kind per round, rounds alternated, one run measured 0.87x and 0.80x. On 2026-12-04 two
mirrored rounds (ELLE, ELLE) measured 729 / 723 / 735 / 767 and 739 / 707 / 596 / 538
jobs/s, 0.97x and 1.02x: a drift that speeds or slows the machine steadily across a round
weighs on both kinds alike (README, "Backlogs, writes per job").

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
    """One round's windows of each kind, in the order they ran."""

    empty: tuple[Window, ...]
    loaded: tuple[Window, ...]

    @property
    def empty_rate(self) -> float:
        return _mean_rate(self.empty)

    @property
    def loaded_rate(self) -> float:
        return _mean_rate(self.loaded)

    @property
    def ratio(self) -> float:
        return self.loaded_rate / max(self.empty_rate, 1e-9)


def _mean_rate(windows: tuple[Window, ...]) -> float:
    return sum(w.completed_per_second for w in windows) / len(windows)


def mirrored_order(loaded_first: bool) -> tuple[bool, ...]:
    """Whether each of a round's four windows is the loaded one (module docstring)."""
    first, second = (True, False) if loaded_first else (False, True)
    return (first, second, second, first)


def measure(
    bench: Bench,
    contender: bench_drain.Contender,
    backlog: int,
    rate: float,
    seconds: float,
    *,
    loaded_first: bool = False,
) -> Backlog:
    """One round: two empty windows and two loaded ones, in mirrored order."""
    windows: dict[bool, list[Window]] = {False: [], True: []}
    for loaded in mirrored_order(loaded_first):
        queued = backlog if loaded else 0
        windows[loaded].append(phase(bench, contender, queued, rate, seconds))
    return Backlog(empty=tuple(windows[False]), loaded=tuple(windows[True]))


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
