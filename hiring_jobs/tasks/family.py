"""The one way to declare a task: queue, priority, retry policy, time limits, execution mode
and result storage, written once where the task is (Oban's `use Oban.Worker, ...`).

`TaskFamily` holds a family's defaults (name prefix, queue, priority, retry policy);
`@family.task("name", ...)` registers "<prefix>.name" on the app with them, overridable per
task. `hiring-jobs tasks` lists every task with what was declared here.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

from procrastinate.tasks import Task

from hiring_jobs.app import app
from hiring_jobs.queue import keys
from hiring_jobs.queue.execution import Execution, Mode, declare, default_mode
from hiring_jobs.queue.keys import Key
from hiring_jobs.queue.queues import Priority, Queue
from hiring_jobs.queue.retry import RetryPolicy
from hiring_jobs.queue.time_limits import DEFAULT, LONG, TimeLimits


def task(
    name: str,
    *,
    queue: str,
    retry: RetryPolicy,
    priority: int = Priority.NORMAL,
    limits: TimeLimits = DEFAULT,
    mode: Mode | None = None,
    store_result: bool = True,
    pass_context: bool = False,
    lock: str | None = None,
    key: Key | None = None,
) -> Callable[[Callable[..., Any]], Task[Any, Any, Any]]:
    """Register a task. `mode`: process (sync default), thread (opt-in), async (async def).

    `key`: the key its jobs are limited and shared fairly by (queue/keys.py).

    A thread task cannot be stopped at its hard limit (the slot is freed, the thread runs
    on): declare it only for cheap I/O-bound work.
    """

    def register(func: Callable[..., Any]) -> Task[Any, Any, Any]:
        registered: Task[Any, Any, Any] = app.task(
            name=name,
            queue=queue,
            priority=priority,
            retry=retry,
            pass_context=pass_context,
            lock=lock,
        )(func)
        execution = Execution(
            mode=mode or default_mode(func), limits=limits, store_result=store_result
        )
        declare(registered, execution)
        if key is not None:
            if key.field not in inspect.signature(func).parameters:
                raise ValueError(f"{name}: key field {key.field!r} is not an argument")
            keys.declare(name, key)
        return registered

    return register


@dataclasses.dataclass(frozen=True)
class TaskFamily:
    prefix: str
    queue: Queue
    retry: RetryPolicy
    priority: Priority = Priority.NORMAL

    def task(
        self,
        name: str,
        priority: Priority | None = None,
        *,
        queue: Queue | None = None,
        retry: RetryPolicy | None = None,
        lock: str | None = None,
        key: Key | None = None,
        long: bool = False,
        limits: TimeLimits | None = None,
        mode: Mode | None = None,
        store_result: bool = True,
        pass_context: bool = False,
    ) -> Callable[[Callable[..., Any]], Task[Any, Any, Any]]:
        """`@family.task("name")`: "<prefix>.name" with the family's defaults.

        `long=True` gives the seeds' 540/600 s limits instead of 240/300 s.
        """
        return task(
            f"{self.prefix}.{name}",
            queue=queue or self.queue,
            retry=retry or self.retry,
            priority=self.priority if priority is None else priority,
            lock=lock,
            key=key,
            limits=limits or (LONG if long else DEFAULT),
            mode=mode,
            store_result=store_result,
            pass_context=pass_context,
        )
