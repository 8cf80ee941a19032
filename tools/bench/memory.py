"""Memory: resident size of the production worker's processes after 1,000 jobs and after
100,000 (same processes, jobs fed in chunks of at most 20,000)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from tools.bench.common import (
    Bench,
    BenchError,
    child_pids,
    hiring_worker,
    reset_jobs,
    rss_bytes,
    wait_listening,
)
from tools.bench.drain import INSERT_CHUNK, enqueue_noops, wait_drained


@dataclasses.dataclass(frozen=True)
class Memory:
    jobs_small: int
    jobs_large: int
    small_bytes: int  # sum over worker processes
    large_bytes: int

    @property
    def growth(self) -> float:
        return self.large_bytes / self.small_bytes - 1 if self.small_bytes else float("nan")


def measure(bench: Bench, small: int, large: int) -> Memory:
    reset_jobs(bench)
    worker = hiring_worker(bench, processes=bench.processes, concurrency=bench.concurrency)
    try:
        wait_listening(bench, [worker], bench.processes)
        pids = _worker_pids(worker.pid)
        _feed(bench, small, worker)
        small_bytes = _settled_rss(pids)
        _feed(bench, large - small, worker)
        large_bytes = _settled_rss(pids)
    except BenchError as exc:
        raise BenchError(f"memory: {exc}\n{worker.tail()}") from None
    finally:
        worker.stop()
    return Memory(small, large, small_bytes, large_bytes)


def _worker_pids(pid: int) -> list[int]:
    """The processes that run jobs: the supervisor's children, or the process itself."""
    children = [p for p in child_pids(pid) if not _is_helper(p)]
    return children or [pid]


def _is_helper(pid: int) -> bool:
    try:
        return b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def _feed(bench: Bench, count: int, worker) -> None:  # type: ignore[no-untyped-def]
    while count > 0:
        size = min(count, INSERT_CHUNK)
        first, last, _ = enqueue_noops(bench, size)
        wait_drained(bench, first, last, [worker])
        count -= size


def _settled_rss(pids: list[int]) -> int:
    time.sleep(1.0)  # let finishing writes and log flushes settle
    return sum(rss_bytes(pid) for pid in pids)
