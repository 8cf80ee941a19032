"""Worker processes: P OS processes, each a Procrastinate worker with per-queue slots.

Each worker process runs every queue it serves with that queue's own slots
(queue/slots.py); sync tasks run in its child processes (queue/children.py), started warm
with it. A supervisor starts the P processes, forwards stop signals and restarts a
process that crashed; a worker process whose supervisor dies (even by SIGKILL) notices
within a second and stops as on SIGTERM.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import functools
import logging
import multiprocessing
import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.process import BaseProcess
from typing import Any

import psycopg
from procrastinate import PsycopgConnector, exceptions
from procrastinate.worker import Worker

from hiring_jobs.app import app, make_connector
from hiring_jobs.logs import configure_logging
from hiring_jobs.queue import batching, children, keys, registration
from hiring_jobs.queue.slots import QueueSlots
from hiring_jobs.settings import get_settings

logger = logging.getLogger(__name__)

# The worker process's own connections: sync tasks use their child's connections, so these
# serve async tasks, fetching, finishing, attempts and heartbeats (statements coalesced).
MAX_POOL_FOR_JOBS = 8
# Beyond those: the LISTEN connection, fetching, heartbeats.
EXTRA_CONNECTIONS = 3
PARENT_CHECK_SECONDS = 1.0
# Children started with the worker process; more are forked on demand in milliseconds.
WARM_CHILDREN_PER_CPU = 2
CPUS = os.cpu_count() or 1
# A child that dies within this many seconds of its start is crashing, not working.
CRASH_LOOP_SECONDS = 5.0
MAX_RECONNECT_DELAY_SECONDS = 5.0


@dataclasses.dataclass(frozen=True)
class WorkerConfig:
    slots: QueueSlots
    processes: int
    shutdown_timeout: float
    heartbeat_seconds: float = 10.0
    log_level: str = "INFO"
    log_format: str = "text"

    def worker_name(self, index: int) -> str:
        return f"{socket.gethostname()}-{os.getpid()}-{index}"


def run_worker_process(
    config: WorkerConfig, index: int = 0, supervisor_pid: int | None = None
) -> None:
    """Run one worker in this process until SIGTERM/SIGINT (graceful, then aborts).

    Thread-mode tasks run in daemon threads: one past its hard limit (abandoned, since a
    thread cannot be stopped) never keeps the process from exiting normally.
    """
    configure_logging(config.log_level, config.log_format)
    children.get_pool().prestart(min(config.slots.total, WARM_CHILDREN_PER_CPU * CPUS))
    loop = asyncio.new_event_loop()
    loop.set_default_executor(DaemonThreadExecutor())
    try:
        loop.run_until_complete(_run(config, config.worker_name(index), supervisor_pid))
    finally:
        # Stopped: a late stop signal (a supervisor forwarding one more) must not turn the
        # clean exit below into a death by signal.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN)
        children.shutdown()
        loop.close()


class DaemonThreadExecutor(concurrent.futures.ThreadPoolExecutor):
    """Daemon threads, reused: nothing waits on a thread that cannot be stopped.

    A ThreadPoolExecutor only because asyncio accepts nothing else as the default executor;
    its own (non-daemon, joined at exit) threads are never started. A call goes to an idle
    thread when there is one and to a new thread otherwise, so a thread abandoned past its
    hard limit never delays another call; threads idle for IDLE_THREAD_SECONDS end.
    Starting a thread per call cost a fifth of the event loop's time in a no-op drain.
    """

    IDLE_THREAD_SECONDS = 60.0

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self._calls: queue.SimpleQueue[Callable[[], Callable[[], None]]] = queue.SimpleQueue()
        self._idle_lock = threading.Lock()
        self._idle = 0

    def submit(
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def call() -> Callable[[], None]:
            """Run the function; return how to publish its outcome."""
            if not future.set_running_or_notify_cancel():
                return lambda: None
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                return functools.partial(future.set_exception, exc)
            return functools.partial(future.set_result, result)

        with self._idle_lock:
            start_thread = self._idle == 0
            if not start_thread:
                self._idle -= 1  # that thread is taken by this call
        self._calls.put(call)
        if start_thread:
            threading.Thread(target=self._serve, name="job-thread", daemon=True).start()
        return future

    def _serve(self) -> None:
        while True:
            try:
                call = self._calls.get(timeout=self.IDLE_THREAD_SECONDS)
            except queue.Empty:
                with self._idle_lock:
                    if self._idle > 0 and self._calls.empty():
                        self._idle -= 1
                        return
                continue
            publish = call()
            # Idle before the caller hears of the outcome: its next call finds this thread.
            with self._idle_lock:
                self._idle += 1
            publish()


async def _run(config: WorkerConfig, name: str, supervisor_pid: int | None) -> None:
    pool_size = min(config.slots.total, MAX_POOL_FOR_JOBS) + EXTRA_CONNECTIONS
    connector = make_connector(max_size=pool_size, job_state=True)
    with app.replace_connector(connector):
        async with app.open_async():
            logger.info("worker %s serving %s", name, config.slots.describe())
            app.perform_import_paths()
            keys.sync_app()  # before the first fetch: the insert trigger reads it
            signals = _StopSignals()
            watch = asyncio.ensure_future(
                _watch_supervisor(supervisor_pid, signals) if supervisor_pid else asyncio.sleep(0)
            )
            batch_size = get_settings().worker_batch
            while not signals.received:
                worker = batching.make_worker(
                    app,
                    slots=config.slots,
                    batch_size=batch_size,
                    **{
                        **app.worker_defaults,
                        "name": name,
                        "shutdown_graceful_timeout": config.shutdown_timeout,
                        "update_heartbeat_interval": config.heartbeat_seconds,
                        "stalled_worker_timeout": get_settings().stalled_after_seconds,
                        "install_signal_handlers": False,  # ours tell a stop from a crash
                    },
                )
                pool = registration.pool_details(
                    get_settings(), processes=config.processes, batch_size=batch_size
                )
                recording = asyncio.ensure_future(
                    registration.record_when_registered(app, worker, config.slots, name, pool)
                )
                with signals.stopping(worker):
                    try:
                        await worker.run()
                    except (exceptions.ConnectorException, psycopg.OperationalError) as exc:
                        logger.error("lost the database: %s", exc)
                    finally:
                        recording.cancel()
                if signals.received:
                    break
                # The database went away (restart, failover): the worker stopped. Jobs
                # whose end could not be recorded stay `doing`; the rescue re-queues
                # them once this worker's old registration stops heartbeating.
                logger.error("the worker stopped without a signal; waiting for the database")
                if not await _wait_for_database(connector, signals):
                    break
            watch.cancel()


async def _watch_supervisor(supervisor_pid: int, signals: _StopSignals) -> None:
    """The supervisor died (even by SIGKILL): stop as if it had sent SIGTERM."""
    while os.getppid() == supervisor_pid:
        await asyncio.sleep(PARENT_CHECK_SECONDS)
    logger.warning("the supervisor process is gone: stopping")
    signals.on_signal()


class _StopSignals:
    """SIGTERM/SIGINT: the first stops the worker gracefully, a second one at once."""

    def __init__(self) -> None:
        self.received = 0
        self.stopped = asyncio.Event()
        self.worker: batching.BatchingWorker | None = None

    def on_signal(self) -> None:
        self.received += 1
        self.stopped.set()
        if self.worker is None:
            return
        if self.received == 1:
            self.worker.stop()
        else:
            self.worker.stop_now()

    @contextlib.contextmanager
    def stopping(self, worker: Worker) -> Iterator[None]:
        assert isinstance(worker, batching.BatchingWorker)
        loop = asyncio.get_running_loop()
        self.worker = worker
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.on_signal)
        try:
            yield
        finally:
            self.worker = None
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)


async def _wait_for_database(connector: PsycopgConnector, signals: _StopSignals) -> bool:
    """Poll with backoff until the database answers (True) or a stop signal comes (False)."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, signals.stopped.set)
    delay = 0.5
    try:
        while not signals.stopped.is_set():
            with contextlib.suppress(exceptions.ConnectorException, psycopg.Error, OSError):
                await connector.execute_query_async("SELECT 1")
                logger.info("the database is back; restarting the worker")
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(signals.stopped.wait(), delay)
            delay = min(delay * 2, MAX_RECONNECT_DELAY_SECONDS)
        signals.received += 1
        return False
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def run_workers(config: WorkerConfig) -> int:
    """Run `config.processes` worker processes; forward stop signals; restart crashed ones."""
    if config.processes == 1:
        run_worker_process(config)
        return 0
    return _Supervisor(config).run()


class _Supervisor:
    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.context = multiprocessing.get_context("spawn")
        self.children: dict[int, tuple[BaseProcess, float]] = {}
        self.stopping = False

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        for index in range(self.config.processes):
            self._start(index)
        exit_code = 0
        while self.children:
            for index, (process, started) in list(self.children.items()):
                if process.is_alive():
                    continue
                del self.children[index]
                if self.stopping:
                    continue
                crashed_fast = time.monotonic() - started < CRASH_LOOP_SECONDS
                logger.error("worker process %d exited with %s", process.pid, process.exitcode)
                if crashed_fast:
                    # Fails at start (bad config, database gone): do not spin; stop all.
                    exit_code = process.exitcode or 1
                    self._stop_all(signal.SIGTERM)
                else:
                    self._start(index)
            time.sleep(0.2)
        return exit_code

    def _start(self, index: int) -> None:
        process = self.context.Process(
            target=run_worker_process,
            args=(self.config, index, os.getpid()),
            name=f"worker-{index}",
        )
        process.start()
        self.children[index] = (process, time.monotonic())

    def _on_signal(self, signum: int, _frame: object) -> None:
        # First signal: graceful stop in every child. Second: children stop at once.
        logger.info("stopping %d worker processes (signal %d)", len(self.children), signum)
        self.stopping = True
        self._stop_all(signum)

    def _stop_all(self, signum: int) -> None:
        self.stopping = True
        for process, _ in self.children.values():
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signum)
