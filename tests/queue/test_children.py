"""Task children: replaced past the memory cap or after N tasks; a crash is reported;
the task's own traceback comes back with its error."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from procrastinate import jobs

from hiring_jobs.queue import children
from hiring_jobs.queue.children import Answer, ChildPool, TaskCall


@pytest.fixture
def pool(database_url: str) -> Iterator[ChildPool]:
    started = ChildPool(max_tasks_per_child=3, max_memory_bytes=200 << 20)
    yield started
    started.close()


def _call(task_name: str, **kwargs: Any) -> TaskCall:
    job = jobs.Job(
        id=1, queue="default", lock=None, queueing_lock=None, task_name=task_name,
        task_kwargs=kwargs,
    )  # fmt: skip
    return TaskCall(
        task_name=task_name,
        task_module="tests.support.tasks",
        job=job,
        pass_context=False,
        worker_name="test",
        worker_queues=None,
        log_fields={},
        env=children.worker_env(),
    )


def _run(pool: ChildPool, call: TaskCall) -> tuple[int, Answer]:
    async def once() -> tuple[int, Answer]:
        child = pool.checkout()
        try:
            answer = await child.call(call)
        except children.ChildCrashed:
            pool.discard(child)
            raise
        pool.checkin(child, answer)
        return child.pid, answer

    return asyncio.run(once())


def test_a_child_past_the_memory_cap_is_replaced(pool: ChildPool) -> None:
    small_pid, _ = _run(pool, _call("tests.allocate", megabytes=1))
    assert _run(pool, _call("tests.allocate", megabytes=1))[0] == small_pid, "reused"
    big_pid, answer = _run(pool, _call("tests.allocate", megabytes=300))
    assert answer.rss_bytes > 300 << 20
    assert _run(pool, _call("tests.allocate", megabytes=1))[0] != big_pid
    assert pool.resident_bytes() < 200 << 20, "the big child is gone"


def test_children_are_replaced_after_max_tasks(pool: ChildPool) -> None:
    pids = [_run(pool, _call("tests.allocate", megabytes=1))[0] for _ in range(4)]
    assert pids[0] == pids[1] == pids[2] != pids[3]


def test_an_error_comes_back_as_itself_with_the_tasks_traceback(pool: ChildPool) -> None:
    _, answer = _run(pool, _call("tests.fail", message="bad resume 12"))
    error = answer.error()
    assert isinstance(error, RuntimeError) and str(error) == "bad resume 12"
    assert "raise RuntimeError(message)" in str(error.__cause__)


def test_an_unknown_task_in_the_child_is_an_error_not_a_hang(pool: ChildPool) -> None:
    call = _call("tests.never_registered")
    _, answer = _run(pool, call)
    assert isinstance(answer.error(), LookupError)
