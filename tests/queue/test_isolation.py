"""Child processes for CPU-bound work: killed at the hard limit, recycled after N calls."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from hiring_jobs.queue.isolation import ChildCrashed, ChildPool
from hiring_jobs.queue.time_limits import HardTimeLimitExceeded, TimeLimits
from tests.support import cpu


@pytest.fixture
def pool() -> Iterator[ChildPool]:
    children = ChildPool(size=2, max_calls_per_child=3)
    yield children
    children.close()


def test_a_call_runs_in_another_process_and_returns_its_result(pool: ChildPool) -> None:
    pid, square = pool.run(cpu.pid_and_square, 7)
    assert square == 49
    assert pid != psutil.Process().pid


def test_exceptions_come_back_as_themselves(pool: ChildPool) -> None:
    with pytest.raises(ValueError, match="bad resume 12"):
        pool.run(cpu.fail, "bad resume 12")
    assert pool.run(cpu.pid_and_square, 2)[1] == 4  # the child is still usable


def test_the_hard_limit_kills_cpu_bound_work(pool: ChildPool) -> None:
    pid, _ = pool.run(cpu.pid_and_square, 1)
    started = time.monotonic()
    with pytest.raises(HardTimeLimitExceeded, match="hard time limit of 1 s"):
        pool.run(cpu.spin, 60, limits=TimeLimits(soft_seconds=1, hard_seconds=1))
    assert time.monotonic() - started < 5
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert pool.run(cpu.pid_and_square, 3)[1] == 9  # a fresh child takes over


def test_the_soft_limit_lets_the_function_stop_cleanly(pool: ChildPool) -> None:
    limits = TimeLimits(soft_seconds=0.5, hard_seconds=10)
    assert pool.run(cpu.spin_but_stop_at_soft_limit, 60, limits=limits) == "stopped cleanly"


def test_children_are_recycled_after_max_calls(pool: ChildPool) -> None:
    pids = [pool.run(cpu.pid_and_square, n)[0] for n in range(4)]
    assert pids[0] == pids[1] == pids[2]
    assert pids[3] != pids[0]


def test_a_crashed_child_is_reported_and_replaced(pool: ChildPool) -> None:
    with pytest.raises(ChildCrashed, match="exited with code 3"):
        pool.run(cpu.crash)
    assert pool.run(cpu.pid_and_square, 5)[1] == 25


def test_calls_run_in_parallel_on_separate_children(pool: ChildPool) -> None:
    limits = TimeLimits(soft_seconds=30, hard_seconds=30)
    with ThreadPoolExecutor(2) as threads:
        (pid_a, start_a, end_a), (pid_b, start_b, end_b) = threads.map(
            lambda _: pool.run(cpu.timed_spin, 1.0, limits=limits), range(2)
        )
    assert pid_a != pid_b
    assert start_a < end_b and start_b < end_a, "the two calls ran at the same time"
