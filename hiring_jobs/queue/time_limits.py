"""Soft and hard time limits per task.

The soft limit gives a task the chance to stop cleanly (SoftTimeLimitExceeded is raised
inside it); at the hard limit the work is stopped for good (HardTimeLimitExceeded), and
the attempt is retried or failed by the task's retry policy like any other error.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
import time
from typing import Any

from procrastinate import JobContext, exceptions
from procrastinate.job_context import AbortReason
from procrastinate.middleware import AsyncCallNext
from procrastinate.worker import Worker

logger = logging.getLogger(__name__)


class SoftTimeLimitExceeded(Exception):
    """Raised inside the task at its soft limit: clean up and stop."""


class HardTimeLimitExceeded(Exception):
    """The task ran past its hard limit and was stopped."""


@dataclasses.dataclass(frozen=True)
class TimeLimits:
    soft_seconds: float
    hard_seconds: float

    def __post_init__(self) -> None:
        if not 0 < self.soft_seconds <= self.hard_seconds:
            raise ValueError("time limits need 0 < soft <= hard")


# Seeds: 240/300 s for ordinary tasks, 540/600 s for long ones (reports, batch work).
DEFAULT = TimeLimits(soft_seconds=240, hard_seconds=300)
LONG = TimeLimits(soft_seconds=540, hard_seconds=600)


# Per-task limits; tasks not listed get DEFAULT.
_limits: dict[str, TimeLimits] = {}

# How often a running job is checked against its limits and for a shutdown abort.
CHECK_INTERVAL_SECONDS = 0.5


def set_time_limits(task_name: str, limits: TimeLimits) -> None:
    """Give a task its own limits (call at import, next to the task)."""
    _limits[task_name] = limits


def limits_for(task_name: str) -> TimeLimits:
    return _limits.get(task_name, DEFAULT)


async def enforce_time_limits(call_next: AsyncCallNext, context: JobContext, worker: Worker) -> Any:
    """Worker middleware: soft and hard limits, and no waiting on sync jobs at shutdown.

    Async tasks are cancelled at the soft limit (their chance to clean up in `finally`)
    and abandoned at the hard one. A sync task runs in a thread that cannot be killed: at
    its limits it is told to stop (`context.should_abort()`), and at the hard limit or on
    a shutdown abort the worker stops waiting for it (the worker process exits soon after
    a shutdown, ending the thread). CPU-bound or untrusted sync work belongs in
    `queue.isolation`, whose child processes are killed at the hard limit.
    """
    limits = limits_for(context.job.task_name)
    task = context.app.tasks.get(context.job.task_name)
    is_async = task is not None and inspect.iscoroutinefunction(task.func)
    running = asyncio.ensure_future(call_next())
    started = time.monotonic()
    soft_reached = False
    while True:
        done, _ = await asyncio.wait({running}, timeout=CHECK_INTERVAL_SECONDS)
        if done:
            return running.result()
        elapsed = time.monotonic() - started
        if context.abort_reason() == AbortReason.SHUTDOWN and not is_async:
            raise exceptions.JobAborted("worker shutting down; the job will be retried")
        if elapsed >= limits.hard_seconds:
            running.cancel()
            raise HardTimeLimitExceeded(
                f"{context.job.task_name} ran past its hard time limit of {limits.hard_seconds:g} s"
            )
        if elapsed >= limits.soft_seconds and not soft_reached:
            soft_reached = True
            logger.warning(
                "job %s (%s) reached its soft time limit of %g s",
                context.job.id,
                context.job.task_name,
                limits.soft_seconds,
            )
            if is_async:
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(asyncio.shield(running), limits.hard_seconds - elapsed)
                raise SoftTimeLimitExceeded(
                    f"{context.job.task_name} stopped at its soft time limit of "
                    f"{limits.soft_seconds:g} s"
                )
