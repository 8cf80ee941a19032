"""Module-level functions for child-process tests (they must be importable to pickle)."""

from __future__ import annotations

import os
import time

from hiring_jobs.queue.time_limits import SoftTimeLimitExceeded


def pid_and_square(value: int) -> tuple[int, int]:
    return os.getpid(), value * value


def spin(seconds: float) -> str:
    """Busy CPU work that never looks at the clock for permission: only a kill stops it."""
    deadline = time.monotonic() + seconds
    total = 0
    while time.monotonic() < deadline:
        total += 1
    return "finished"


def timed_spin(seconds: float) -> tuple[int, float, float]:
    """(pid, start, end) in wall-clock time, to check that two calls overlapped."""
    started = time.time()
    spin(seconds)
    return os.getpid(), started, time.time()


def spin_but_stop_at_soft_limit(seconds: float) -> str:
    try:
        spin(seconds)
    except SoftTimeLimitExceeded:
        return "stopped cleanly"
    return "finished"


def fail(message: str) -> None:
    raise ValueError(message)


def crash() -> None:
    os._exit(3)
