"""Run CPU-bound or untrusted work in child processes that can be killed.

A thread cannot be stopped, so a sync task that parses a hostile PDF could run forever
and hold the GIL. `run_isolated(func, ...)` sends the call to a child process instead:
at the soft limit the child gets SIGUSR1 (SoftTimeLimitExceeded is raised inside the
function, its chance to stop cleanly), at the hard limit it is killed and
HardTimeLimitExceeded is raised in the caller. Children are reused, and recycled after
HIRING_JOBS_MAX_TASKS_PER_CHILD calls (like Celery's max tasks per child) so a leak in a
parser cannot grow without bound. Functions and arguments must be picklable (module-level
functions, plain data).
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from hiring_jobs.queue.time_limits import (
    DEFAULT,
    HardTimeLimitExceeded,
    SoftTimeLimitExceeded,
    TimeLimits,
)

T = TypeVar("T")

READY = ("ready", None)
CHILD_START_TIMEOUT_SECONDS = 60.0


class ChildCrashed(Exception):
    """The child process died during the call (out of memory, a crash in C code)."""


class IsolatedError(Exception):
    """An exception from the child that could not be sent back as itself."""


@dataclasses.dataclass(eq=False)  # identity: children live in a set
class _Child:
    process: BaseProcess
    connection: Connection
    calls: int = 0

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, OSError):
            self.process.kill()
        self.process.join(5)
        self.connection.close()


class ChildPool:
    """At most `size` children, started on demand; one call at a time per child."""

    def __init__(self, size: int, max_calls_per_child: int) -> None:
        self.max_calls_per_child = max_calls_per_child
        self._idle: queue.LifoQueue[_Child] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._all: set[_Child] = set()
        self._lock = threading.Lock()
        self._context = multiprocessing.get_context("spawn")

    def run(
        self, func: Callable[..., T], *args: Any, limits: TimeLimits = DEFAULT, **kwargs: Any
    ) -> T:
        with self._slots:
            child = self._checkout()
            try:
                result = self._call(child, func, args, kwargs, limits)
            except (HardTimeLimitExceeded, ChildCrashed):
                self._discard(child)
                raise
            except BaseException:
                self._checkin(child)
                raise
            self._checkin(child)
            return result

    def close(self) -> None:
        """Kill every child (worker shutdown)."""
        with self._lock:
            children, self._all = list(self._all), set()
        for child in children:
            child.kill()

    def _call(
        self, child: _Child, func: Callable[..., T], args: tuple, kwargs: dict, limits: TimeLimits
    ) -> T:
        child.connection.send((func, args, kwargs))
        child.calls += 1
        started = time.monotonic()
        soft_sent = False
        while True:
            elapsed = time.monotonic() - started
            if elapsed >= limits.hard_seconds:
                raise HardTimeLimitExceeded(
                    f"{_name(func)} ran past its hard time limit of {limits.hard_seconds:g} s"
                )
            if elapsed >= limits.soft_seconds and not soft_sent:
                soft_sent = True
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.process.pid or 0, signal.SIGUSR1)
            wait = (limits.hard_seconds if soft_sent else limits.soft_seconds) - elapsed
            if child.connection.poll(max(0.0, wait)):
                return _unpack(func, self._receive(child))

    def _receive(self, child: _Child) -> tuple[str, Any]:
        try:
            return child.connection.recv()  # type: ignore[no-any-return]
        except (EOFError, OSError):
            child.process.join(1)
            raise ChildCrashed(
                f"the child process exited with code {child.process.exitcode} during the call"
            ) from None
        except Exception as exc:  # an exception type that cannot be rebuilt here
            return ("error", f"{type(exc).__name__} while reading the child's answer: {exc}")

    def _checkout(self) -> _Child:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return self._start()

    def _checkin(self, child: _Child) -> None:
        if child.calls >= self.max_calls_per_child or not child.process.is_alive():
            self._discard(child)
        else:
            self._idle.put(child)

    def _discard(self, child: _Child) -> None:
        with self._lock:
            self._all.discard(child)
        child.kill()

    def _start(self) -> _Child:
        parent_end, child_end = self._context.Pipe()
        process = self._context.Process(
            target=_child_main, args=(child_end,), name="isolated", daemon=True
        )
        process.start()
        child_end.close()
        child = _Child(process, parent_end)
        # Wait until the child's signal handlers are in place: a soft-limit SIGUSR1 sent
        # to a child still starting up would kill it (the signal's default action).
        if not parent_end.poll(CHILD_START_TIMEOUT_SECONDS) or parent_end.recv() != READY:
            child.kill()
            raise ChildCrashed("the child process did not start")
        with self._lock:
            self._all.add(child)
        return child


def _unpack(func: Callable[..., Any], message: tuple[str, Any]) -> Any:
    kind, payload = message
    if kind == "ok":
        return payload
    if isinstance(payload, BaseException):
        raise payload
    raise IsolatedError(f"{_name(func)} failed in its child process:\n{payload}")


def _name(func: Callable[..., Any]) -> str:
    return f"{func.__module__}.{func.__qualname__}"


_in_call = False


def _on_soft_limit(_signum: int, _frame: object) -> None:
    # A signal that arrives just after the call returned must not hit the idle loop.
    if _in_call:
        raise SoftTimeLimitExceeded("the soft time limit was reached")


def _child_main(connection: Connection) -> None:
    global _in_call
    # Ctrl-C reaches the whole process group; the parent decides when children stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, _on_soft_limit)
    connection.send(READY)
    while True:
        try:
            func, args, kwargs = connection.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return  # the parent is gone or closed the pipe
        try:
            _in_call = True
            message: tuple[str, Any] = ("ok", func(*args, **kwargs))
        except BaseException as exc:
            message = ("error", exc)
        finally:
            _in_call = False
        try:
            connection.send(message)
        except Exception:
            # The result or exception does not pickle: send its text instead.
            text = "".join(traceback.format_exception(message[1])) if message[0] == "error" else ""
            connection.send(("error", text or "the result could not be sent back"))


_pool: ChildPool | None = None
_pool_lock = threading.Lock()


def get_pool() -> ChildPool:
    """This process's pool, sized to the worker's concurrency."""
    global _pool
    with _pool_lock:
        if _pool is None:
            from hiring_jobs.settings import get_settings

            settings = get_settings()
            _pool = ChildPool(settings.worker_concurrency, settings.max_tasks_per_child)
        return _pool


def run_isolated(
    func: Callable[..., T], *args: Any, limits: TimeLimits = DEFAULT, **kwargs: Any
) -> T:
    return get_pool().run(func, *args, limits=limits, **kwargs)


def shutdown() -> None:
    """Kill this process's children; called when the worker process exits."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.close()
            _pool = None
