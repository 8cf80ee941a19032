"""Child processes that run sync tasks and can be killed (Celery's prefork pool, for Procrastinate).

A thread cannot be stopped, so a sync task in a thread keeps its slot (and keeps writing)
after its time limit. Every sync task runs here instead, in a child process of the worker
process: SIGUSR1 at the soft limit (SoftTimeLimitExceeded is raised inside the task),
SIGKILL at the hard limit, after which the slot is free at once and a fresh child takes
the dead one's place.

Children are forked from a *forkserver* that imported the task modules once: a new child
costs milliseconds and shares the imported code with its siblings, so the pool is started
warm with the worker. A child is replaced after HIRING_JOBS_MAX_TASKS_PER_CHILD tasks,
when its resident memory passes HIRING_JOBS_MAX_MEMORY_PER_CHILD, and after any timeout.
A child whose worker process dies (even by SIGKILL) notices within a second and exits.

The task is found in the child by name (its module is imported if the name is unknown),
and called with the job's arguments and, for `pass_context` tasks, a JobContext built in
the child: `context.job`, `context.should_abort()` (an operator's abort reaches the child
as SIGUSR2) and the worker's name work as in the worker.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import dataclasses
import importlib
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from procrastinate import JobContext, jobs, middleware
from procrastinate.job_context import AbortReason

from hiring_jobs.queue.time_limits import SoftTimeLimitExceeded

logger = logging.getLogger(__name__)

CHILD_START_TIMEOUT_SECONDS = 60.0
# How often a child checks that its worker process is still alive.
PARENT_CHECK_SECONDS = 1.0
# A child idle this long closes its database connections: a burst that used many children
# must not leave each holding a connection (PostgreSQL's max_connections).
IDLE_RELEASE_SECONDS = 5.0
# Environment a child mirrors from its worker process for every call: the settings and
# the database the task must use (tests switch databases between calls).
MIRRORED_ENV_PREFIXES = ("HIRING_JOBS_", "DATABASE_URL")
READY = "ready"


class ChildCrashed(Exception):
    """The child process died during the call (killed, out of memory, a crash in C code)."""


class RemoteError(Exception):
    """An exception from the child that could not be sent back as itself."""


class RemoteTraceback(Exception):
    """The task's own traceback, as text from the child: the cause of the re-raised error."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


@dataclasses.dataclass(frozen=True)
class TaskCall:
    """What a child needs to run one job: picklable, no app, no connection."""

    task_name: str
    task_module: str
    job: jobs.Job
    pass_context: bool
    worker_name: str | None
    worker_queues: tuple[str, ...] | None
    log_fields: dict[str, Any]
    env: dict[str, str]


@dataclasses.dataclass(frozen=True)
class Answer:
    ok: bool
    value: Any  # the result, or the exception
    rss_bytes: int
    traceback: str = ""  # the task's own traceback (pickling an exception loses it)

    def error(self) -> BaseException:
        """The task's exception, its traceback in the child attached as its cause."""
        assert not self.ok
        error: BaseException = self.value
        if self.traceback:
            error.__cause__ = RemoteTraceback(f'\n"""\n{self.traceback}"""')
        return error


@dataclasses.dataclass(eq=False)  # identity: children live in sets
class Child:
    process: BaseProcess
    connection: Connection
    calls: int = 0
    retire: bool = False  # replaced at check-in (timed out, too big)

    @property
    def pid(self) -> int:
        return self.process.pid or 0

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, OSError):
            os.kill(self.pid, signum)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, OSError, ValueError):
            self.process.kill()
        with contextlib.suppress(ValueError, AssertionError):
            self.process.join(5)
        self.connection.close()

    async def call(self, call: TaskCall) -> Answer:
        """Send the call and wait (without blocking the event loop) for the answer; the
        task's log records, sent as they happen, are logged here on the way."""
        self.connection.send(call)
        self.calls += 1
        while True:
            await _readable(self.connection)
            message = self._receive()
            if isinstance(message, Answer):
                return message
            logging.getLogger(message.name).handle(message)

    def _receive(self) -> Answer | logging.LogRecord:
        try:
            answer = self.connection.recv()
        except (EOFError, OSError):
            with contextlib.suppress(ValueError, AssertionError):
                self.process.join(1)
            raise ChildCrashed(
                f"the child process exited with code {self.process.exitcode} during the task"
            ) from None
        except Exception as exc:  # an exception type that cannot be rebuilt here
            text = f"{type(exc).__name__} while reading the child's answer: {exc}"
            return Answer(ok=False, value=RemoteError(text), rss_bytes=0)
        assert isinstance(answer, Answer | logging.LogRecord)
        return answer


async def _readable(connection: Connection) -> None:
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    fd = connection.fileno()

    def on_readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, on_readable)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


class ChildPool:
    """Children for one worker process; one task at a time per child.

    The worker's slots bound how many tasks run at once, so the pool never makes a task
    wait for a child beyond the few milliseconds of a fork; `warm` children are kept
    started and idle.
    """

    def __init__(self, *, max_tasks_per_child: int, max_memory_bytes: int) -> None:
        self.max_tasks_per_child = max_tasks_per_child
        self.max_memory_bytes = max_memory_bytes
        self.warm = 0
        self._closed = False
        self._idle: list[Child] = []
        self._all: set[Child] = set()
        self._lock = threading.Lock()
        self._context = _forkserver_context()

    def prestart(self, count: int) -> None:
        """Keep `count` children started and idle (more are forked on demand, in
        milliseconds); start the missing ones in the background."""
        self.warm = max(self.warm, count)
        threading.Thread(target=self._top_up, name="prestart children", daemon=True).start()

    def checkout(self) -> Child:
        return self.checkout_idle() or self._start()

    def checkout_idle(self) -> Child | None:
        """An idle child, or None (without waiting): the common case costs no thread."""
        with self._lock:
            return self._idle.pop() if self._idle else None

    def checkin(self, child: Child, answer: Answer | None = None) -> None:
        """Back to the idle set, or replaced when it is spent, dead or too big."""
        too_big = answer is not None and answer.rss_bytes > self.max_memory_bytes
        if too_big:
            logger.info("child %d uses %d MiB: replaced", child.pid, answer.rss_bytes >> 20)
        if (
            child.retire
            or too_big
            or child.calls >= self.max_tasks_per_child
            or not child.process.is_alive()
        ):
            self.discard(child)
            return
        with self._lock:
            if child in self._all:
                self._idle.append(child)  # last in, first out: hot children stay hot
                return
        self.discard(child)

    def discard(self, child: Child) -> None:
        """Kill a child (a hard limit, a crash, retirement) and start its replacement."""
        with self._lock:
            self._all.discard(child)
            with contextlib.suppress(ValueError):
                self._idle.remove(child)
        child.kill()
        if self.warm and not self._closed:
            threading.Thread(target=self._top_up, name="replace child", daemon=True).start()

    def close(self) -> None:
        """Kill every child (the worker process is exiting)."""
        with self._lock:
            children, self._all, self._idle, self.warm = list(self._all), set(), [], 0
            self._closed = True
        for child in children:
            child.kill()

    def resident_bytes(self) -> int:
        """Resident memory of every child, summed (shared pages counted in each)."""
        with self._lock:
            children = list(self._all)
        return sum(_rss_of(child.pid) for child in children)

    def _top_up(self) -> None:
        while True:
            with self._lock:
                if self._closed or len(self._idle) >= self.warm:
                    return
            try:
                child = self._start()
            except (ChildCrashed, OSError, EOFError):
                if not self._closed:
                    logger.exception("could not start a child process")
                return
            with self._lock:
                if child in self._all:  # not killed by close() meanwhile
                    self._idle.insert(0, child)  # behind the hot ones

    def _start(self) -> Child:
        parent_end, child_end = self._context.Pipe()
        process = self._context.Process(
            target=_child_main, args=(child_end,), name="task-child", daemon=True
        )
        process.start()
        child_end.close()
        child = Child(process, parent_end)
        with self._lock:  # known at once: close() must kill a child still starting
            closed = self._closed
            if not closed:
                self._all.add(child)
        if closed:
            child.kill()
            raise ChildCrashed("the pool is closed")
        # Wait until its signal handlers are in place: a soft-limit SIGUSR1 sent to a
        # child still starting would kill it (the signal's default action).
        try:
            ready = parent_end.poll(CHILD_START_TIMEOUT_SECONDS) and parent_end.recv() == READY
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.discard(child)
            raise ChildCrashed("the child process did not start")
        return child


def _forkserver_context() -> Any:
    """The forkserver preloads the app and its task modules once; children fork from it."""
    if sys.platform == "win32":  # pragma: no cover
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    from hiring_jobs.settings import get_settings

    context.set_forkserver_preload(
        [
            "hiring_jobs.queue.children",
            "hiring_jobs.app",
            "hiring_jobs.tasks",
            *get_settings().task_modules,
        ]
    )
    return context


def _rss_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


# --- the child's side ---------------------------------------------------------------------

_in_call = False
_abort_requested = False


def _on_soft_limit(_signum: int, _frame: object) -> None:
    # A signal that arrives just after the task returned must not hit the idle loop.
    if _in_call:
        raise SoftTimeLimitExceeded("the soft time limit was reached")


def _on_abort(_signum: int, _frame: object) -> None:
    global _abort_requested
    _abort_requested = True


def _watch_parent(parent_pid: int) -> None:
    # The forkserver (our parent) exits with the worker process: go with them. A thread,
    # so that a task busy in C code still goes; os._exit: nothing of a half-run task to save.
    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(70)


def _child_main(connection: Connection) -> None:
    global _in_call, _abort_requested
    # Ctrl-C and SIGTERM reach the whole process group; the worker decides when children stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, _on_soft_limit)
    signal.signal(signal.SIGUSR2, _on_abort)
    threading.Thread(
        target=_watch_parent, args=(os.getppid(),), name="watch parent", daemon=True
    ).start()
    connection.send(READY)
    logging_ready = False
    log_handler = _PipeHandler(connection)
    while True:
        try:
            if not connection.poll(IDLE_RELEASE_SECONDS):
                _release_connections()
            call = connection.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return  # the worker is gone or closed the pipe
        _mirror_env(call.env)
        if not logging_ready:
            _log_to_worker(log_handler)
            logging_ready = True
        _abort_requested = False
        try:
            _in_call = True
            answer = Answer(ok=True, value=_run(call), rss_bytes=0)
        except BaseException as exc:
            answer = Answer(ok=False, value=exc, rss_bytes=0)
        finally:
            _in_call = False
        _send(connection, dataclasses.replace(answer, rss_bytes=_rss_of(os.getpid())))


def _run(call: TaskCall) -> Any:
    from hiring_jobs.logs import log_context

    task = _find_task(call.task_name, call.task_module)
    args: list[Any] = []
    if call.pass_context:
        args.append(
            JobContext(
                app=task.blueprint,  # type: ignore[arg-type]
                worker_name=call.worker_name,
                worker_queues=call.worker_queues,
                job=call.job,
                start_timestamp=time.time(),
                abort_reason=_abort_reason,
            )
        )

    def run_task() -> Any:
        return task(*args, **call.job.task_kwargs)

    with log_context(**call.log_fields):
        return middleware.compose(task.task_middleware, run_task, None, None)()


def _abort_reason() -> AbortReason | None:
    return AbortReason.USER_REQUEST if _abort_requested else None


def _find_task(name: str, module: str) -> Any:
    from hiring_jobs.app import app

    task = app.tasks.get(name)
    if task is None and module:
        importlib.import_module(module)
        task = app.tasks.get(name)
    if task is None:
        raise LookupError(f"task {name!r} is not registered in the child process")
    return task


_mirrored: dict[str, str] = {}


def _mirror_env(env: dict[str, str]) -> None:
    global _mirrored
    if env == _mirrored:
        return  # the usual case: nothing changed since the last call
    _mirrored = env
    mine = {k: v for k, v in os.environ.items() if k.startswith(MIRRORED_ENV_PREFIXES)}
    if mine == env:
        return
    for key in mine.keys() - env.keys():
        del os.environ[key]
    os.environ.update(env)
    from hiring_jobs import db, settings

    for cached in (settings.get_settings, db.database_url, db.get_engine, db.get_sessionmaker):
        if cached is db.get_engine and cached.cache_info().currsize:
            cached().dispose()
        cached.cache_clear()


def _release_connections() -> None:
    from hiring_jobs import db

    if db.get_engine.cache_info().currsize:
        db.get_engine().dispose()


_worker_env: tuple[object, dict[str, str]] | None = None


def worker_env() -> dict[str, str]:
    """The worker's settings and database URL, resolved (a child never starts a server).

    Read again only when the settings were (tests that change the environment clear them).
    """
    global _worker_env
    from hiring_jobs import db
    from hiring_jobs.settings import get_settings

    settings = get_settings()
    if _worker_env is None or _worker_env[0] is not settings:
        env = {k: v for k, v in os.environ.items() if k.startswith(MIRRORED_ENV_PREFIXES)}
        env["DATABASE_URL"] = db.database_url()
        _worker_env = (settings, env)
    return _worker_env[1]


class _PipeHandler(logging.Handler):
    """Sends each record to the worker process, which logs it with its own configuration
    (format, masking, the job's context), as the task runs: a killed task's last records
    have already reached the log."""

    def __init__(self, connection: Connection) -> None:
        super().__init__()
        self.connection = connection

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.connection.send(_portable_record(record))
        except Exception:
            self.handleError(record)


def _portable_record(record: logging.LogRecord) -> logging.LogRecord:
    portable = logging.makeLogRecord(
        {
            key: value
            for key, value in record.__dict__.items()
            if key in _RECORD_FIELDS or isinstance(value, str | int | float | bool | None)
        }
    )
    portable.msg, portable.args = record.getMessage(), None
    if record.exc_info:
        portable.exc_text = logging.Formatter().formatException(record.exc_info)
    portable.exc_info = None
    return portable


_RECORD_FIELDS = set(logging.makeLogRecord({}).__dict__)


def _log_to_worker(handler: _PipeHandler) -> None:
    from hiring_jobs.logs import configure_logging
    from hiring_jobs.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)  # levels of noisy libraries
    logging.getLogger().handlers[:] = [handler]


def _send(connection: Connection, answer: Answer) -> None:
    if not answer.ok:
        answer = dataclasses.replace(
            answer,
            value=_portable_error(answer.value),
            traceback="".join(traceback.format_exception(answer.value)),
        )
    try:
        connection.send(answer)
    except Exception:
        # The result does not pickle.
        error = RemoteError(f"the task's result could not be sent back: {answer.value!r:.500}")
        connection.send(Answer(ok=False, value=error, rss_bytes=answer.rss_bytes))


def _portable_error(exc: BaseException) -> BaseException:
    """The exception itself if it survives pickling, else a RemoteError naming it."""
    try:
        return pickle.loads(pickle.dumps(exc))  # type: ignore[no-any-return]
    except Exception:
        return RemoteError(f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}")


# --- the worker process's pool ------------------------------------------------------------

_pool: ChildPool | None = None
_pool_lock = threading.Lock()


def get_pool() -> ChildPool:
    global _pool
    with _pool_lock:
        if _pool is None:
            from hiring_jobs.settings import get_settings

            settings = get_settings()
            _pool = ChildPool(
                max_tasks_per_child=settings.max_tasks_per_child,
                max_memory_bytes=settings.max_memory_per_child_mib << 20,
            )
            atexit.register(shutdown)
        return _pool


def shutdown() -> None:
    """Kill this process's children; called when the worker process exits."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.close()
