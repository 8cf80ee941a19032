"""One way to declare a family's tasks: the name prefix, queue, default priority, retry
policy and (for fan-outs, reports and cleanups) the seeds' long time limits."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from procrastinate.tasks import Task

from hiring_jobs.app import app
from hiring_jobs.queue.queues import Priority, Queue
from hiring_jobs.queue.retry import RetryPolicy
from hiring_jobs.queue.time_limits import LONG, set_time_limits

P = ParamSpec("P")
R = TypeVar("R")


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
        long: bool = False,
    ) -> Callable[[Callable[P, R]], Task[P, R, P]]:
        """`@family.task("name")` registers "<prefix>.name" with the family's defaults."""
        full_name = f"{self.prefix}.{name}"
        if long:  # 540/600 s instead of 240/300 s
            set_time_limits(full_name, LONG)
        return app.task(
            name=full_name,
            queue=queue or self.queue,
            priority=self.priority if priority is None else priority,
            retry=self.retry,
        )
