"""How a job's task runs, and the limits that hold while it does: one worker middleware.

Being a *worker* middleware, it is where Procrastinate's stock worker
(`procrastinate --app=hiring_jobs.app.app worker`) and ours meet, so both get the same
execution, limits, leases and argument checks.

- **process** (the default for sync tasks): the task runs in a child process of the worker
  (queue/children.py). SIGUSR1 at the soft limit, SIGKILL at the hard limit: the slot is
  free the moment the child dies, and nothing of the killed task is committed after.
- **async** (async tasks): in the worker's event loop; cancelled at the soft limit and
  abandoned at the hard one.
- **thread** (opt-in, for cheap I/O-bound sync work): in a thread, which nothing can kill:
  at its hard limit the worker stops waiting and frees the slot, but the thread runs on.

The time limit counts from the start of the task body. The worker's lease (its last
renewed heartbeat, queue/manager.py) is checked while the task runs: a worker that could
not renew it kills its running tasks before any rescue may consider them stalled.
Arguments are checked against the task's signature before it runs: arguments that cannot
fit fail at once, as permanent errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import inspect
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

from procrastinate import JobContext, exceptions
from procrastinate.job_context import AbortReason
from procrastinate.middleware import AsyncCallNext
from procrastinate.tasks import Task
from procrastinate.worker import Worker

from hiring_jobs.logs import current_fields
from hiring_jobs.queue import arguments, children
from hiring_jobs.queue.time_limits import (
    DEFAULT,
    HardTimeLimitExceeded,
    SoftTimeLimitExceeded,
    TimeLimits,
)

logger = logging.getLogger(__name__)

# How often a running job is checked against its limits, its worker's lease and aborts.
CHECK_INTERVAL_SECONDS = 0.25
# An operator's abort reaches a child task as `should_abort()`; if it has not stopped this
# much later, the child is killed.
ABORT_GRACE_SECONDS = 5.0


class Mode(enum.StrEnum):
    PROCESS = "process"
    THREAD = "thread"
    ASYNC = "async"


class LeaseLost(Exception):
    """The worker could not renew its heartbeat: it stopped the job before a rescue could
    hand it to another worker. Retried like any transient error."""


@dataclasses.dataclass(frozen=True)
class Execution:
    """How a task runs: declared with the task (tasks/family.py), read by the worker."""

    mode: Mode
    limits: TimeLimits = DEFAULT
    store_result: bool = True


# The attribute of a Procrastinate Task that holds its Execution.
ATTRIBUTE = "hiring_jobs_execution"


def execution_of(task: Task[Any, Any, Any]) -> Execution:
    """The declared execution, or the default: process for sync functions, async for async."""
    declared = getattr(task, ATTRIBUTE, None)
    if isinstance(declared, Execution):
        return declared
    return Execution(mode=default_mode(task.func))


def default_mode(func: Callable[..., Any]) -> Mode:
    return Mode.ASYNC if inspect.iscoroutinefunction(func) else Mode.PROCESS


def declare(task: Task[Any, Any, Any], execution: Execution) -> None:
    is_async = inspect.iscoroutinefunction(task.func)
    if is_async != (execution.mode == Mode.ASYNC):
        raise ValueError(f"task {task.name}: mode {execution.mode} does not fit its function")
    setattr(task, ATTRIBUTE, execution)


async def execute(call_next: AsyncCallNext, context: JobContext, worker: Worker) -> Any:
    """Worker middleware: run the job's task by its mode, under its limits and the lease."""
    task = context.app.tasks[context.job.task_name]  # unknown tasks never get here
    arguments.check(task, context.job.task_kwargs)
    lease = _lease_check(context, worker)
    if lease():
        raise LeaseLost("the worker lost its lease before the job started")
    execution = execution_of(task)
    if execution.mode == Mode.PROCESS:
        running: _Running = _InChild(task, context)
    else:
        running = _InLoop(call_next(), cancellable=execution.mode == Mode.ASYNC)
    return await _supervise(running, context, execution.limits, lease)


def _lease_check(context: JobContext, worker: Worker) -> Callable[[], bool]:
    manager = context.app.job_manager
    expired = getattr(manager, "lease_expired", None)
    if expired is None or worker.worker_id is None:
        return lambda: False
    worker_id, interval = worker.worker_id, worker.update_heartbeat_interval
    return lambda: bool(expired(worker_id, interval))


class _Running:
    """A task started by `execute`: its outcome, and how to stop it."""

    outcome: asyncio.Future[Any]

    def soft_stop(self) -> None: ...
    def hard_stop(self) -> None: ...
    def ask_to_abort(self) -> None: ...


class _InLoop(_Running):
    """An async task (cancellable) or a thread task (only abandoned)."""

    def __init__(self, outcome: Awaitable[Any], *, cancellable: bool) -> None:
        self.outcome = asyncio.ensure_future(outcome)
        self.cancellable = cancellable

    def soft_stop(self) -> None:
        if self.cancellable:
            self.outcome.cancel()

    def hard_stop(self) -> None:
        self.outcome.cancel()  # a thread runs on; its result is no longer awaited
        self.outcome.add_done_callback(_consume)


class _InChild(_Running):
    def __init__(self, task: Task[Any, Any, Any], context: JobContext) -> None:
        self.pool = children.get_pool()
        self.child: children.Child | None = None
        self.outcome = asyncio.ensure_future(self._run(task, context))
        self.outcome.add_done_callback(_consume)

    async def _run(self, task: Task[Any, Any, Any], context: JobContext) -> Any:
        self.child = self.pool.checkout_idle()
        if self.child is None:  # forking one may wait on the forkserver: not on the loop
            self.child = await asyncio.get_running_loop().run_in_executor(None, self.pool.checkout)
        answer = None
        try:
            answer = await self.child.call(_task_call(task, context))
        finally:
            if answer is None:  # crashed, killed, cancelled, or the call never went out
                self.pool.discard(self.child)
            else:
                self.pool.checkin(self.child, answer)
        if not answer.ok:
            raise answer.error()
        return answer.value

    def soft_stop(self) -> None:
        if self.child is not None:
            # Replaced once it answers: its memory after a timeout is not worth keeping.
            self.child.retire = True
            self.child.signal(signal.SIGUSR1)

    def hard_stop(self) -> None:
        self.outcome.cancel()
        if self.child is not None:
            self.pool.discard(self.child)

    def ask_to_abort(self) -> None:
        if self.child is not None:
            self.child.signal(signal.SIGUSR2)


def _task_call(task: Task[Any, Any, Any], context: JobContext) -> children.TaskCall:
    return children.TaskCall(
        task_name=task.name,
        task_module=task.func.__module__,
        job=context.job,
        pass_context=task.pass_context,
        worker_name=context.worker_name,
        worker_queues=tuple(context.worker_queues) if context.worker_queues else None,
        log_fields=current_fields(),
        env=children.worker_env(),
    )


def _consume(future: asyncio.Future[Any]) -> None:
    # An abandoned outcome's exception is expected: do not log it as "never retrieved".
    if not future.cancelled():
        future.exception()


async def _supervise(
    running: _Running, context: JobContext, limits: TimeLimits, lease_expired: Callable[[], bool]
) -> Any:
    job = context.job
    started = time.monotonic()
    soft_sent = False
    abort_asked_at: float | None = None
    try:
        while True:
            done, _ = await asyncio.wait({running.outcome}, timeout=CHECK_INTERVAL_SECONDS)
            if done:
                if soft_sent and running.outcome.cancelled():
                    raise SoftTimeLimitExceeded(
                        f"{job.task_name} stopped at its soft time limit of "
                        f"{limits.soft_seconds:g} s"
                    )
                return running.outcome.result()
            now = time.monotonic()
            if lease_expired():
                running.hard_stop()
                raise LeaseLost("the worker could not renew its lease: the job was stopped")
            reason = context.abort_reason()
            if reason == AbortReason.SHUTDOWN:
                running.hard_stop()
                raise exceptions.JobAborted("worker shutting down; the job will be retried")
            if reason == AbortReason.USER_REQUEST:
                if abort_asked_at is None:
                    abort_asked_at = now
                    running.ask_to_abort()
                elif now - abort_asked_at >= ABORT_GRACE_SECONDS:
                    running.hard_stop()
                    raise exceptions.JobAborted("aborted by an operator")
            if now - started >= limits.hard_seconds:
                running.hard_stop()
                raise HardTimeLimitExceeded(
                    f"{job.task_name} ran past its hard time limit of {limits.hard_seconds:g} s"
                )
            if now - started >= limits.soft_seconds and not soft_sent:
                soft_sent = True
                logger.warning(
                    "job %s (%s) reached its soft time limit of %g s",
                    job.id,
                    job.task_name,
                    limits.soft_seconds,
                )
                running.soft_stop()
    except asyncio.CancelledError:
        # Procrastinate cancels an async job on abort; a stop of the whole worker too.
        with contextlib.suppress(Exception):
            running.hard_stop()
        raise
