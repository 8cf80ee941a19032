"""Worker processes: P OS processes, each a Procrastinate worker sized to its concurrency.

Sync tasks run in the event loop's default thread pool, which Python sizes to
min(32, cpus + 4) whatever the worker's concurrency; and the connector's pool serves
fetching, finishing, heartbeats and our own queries. Both are sized here to the
concurrency, so `--concurrency 20` really runs 20 jobs at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.process import BaseProcess

import psycopg
from procrastinate import PsycopgConnector, exceptions
from procrastinate.worker import Worker

from hiring_jobs.app import app, make_connector
from hiring_jobs.logs import configure_logging
from hiring_jobs.queue import batching, isolation
from hiring_jobs.settings import get_settings

logger = logging.getLogger(__name__)

# Connections beyond one per running job: the LISTEN connection, fetching, heartbeats.
EXTRA_CONNECTIONS = 3
# A child that dies within this many seconds of its start is crashing, not working.
CRASH_LOOP_SECONDS = 5.0
MAX_RECONNECT_DELAY_SECONDS = 5.0


@dataclasses.dataclass(frozen=True)
class WorkerConfig:
    queues: tuple[str, ...]  # empty: every queue
    concurrency: int
    processes: int
    shutdown_timeout: float
    heartbeat_seconds: float = 10.0
    log_level: str = "INFO"
    log_format: str = "text"

    def worker_name(self, index: int) -> str:
        return f"{socket.gethostname()}-{os.getpid()}-{index}"


def run_worker_process(config: WorkerConfig, index: int = 0) -> None:
    """Run one worker in this process until SIGTERM/SIGINT (graceful, then aborts).

    Not `asyncio.run`: at exit it would wait for every sync job's thread, and a thread
    the shutdown gave up on (past the graceful timeout, already marked aborted and
    re-queued) must not keep the process alive.
    """
    configure_logging(config.log_level, config.log_format)
    executor = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="job")
    loop = asyncio.new_event_loop()
    loop.set_default_executor(executor)
    try:
        loop.run_until_complete(_run(config, config.worker_name(index)))
    finally:
        isolation.shutdown()  # kill child processes: an abandoned job may be waiting on one
        executor.shutdown(wait=False, cancel_futures=True)
        abandoned = [t for t in threading.enumerate() if t.name.startswith("job")]
        loop.close()
        if abandoned:
            logger.warning("exiting with %d abandoned job thread(s)", len(abandoned))
            logging.shutdown()
            os._exit(0)


async def _run(config: WorkerConfig, name: str) -> None:
    connector = make_connector(max_size=config.concurrency + EXTRA_CONNECTIONS, job_state=True)
    with app.replace_connector(connector):
        async with app.open_async():
            logger.info(
                "worker %s listening on %s with concurrency %d",
                name,
                ",".join(config.queues) or "all queues",
                config.concurrency,
            )
            app.perform_import_paths()
            signals = _StopSignals()
            batch_size = get_settings().worker_batch
            while not signals.received:
                worker = batching.make_worker(
                    app,
                    batch_size=batch_size,
                    **{
                        **app.worker_defaults,
                        "queues": list(config.queues) or None,
                        "concurrency": config.concurrency,
                        "name": name,
                        "shutdown_graceful_timeout": config.shutdown_timeout,
                        "update_heartbeat_interval": config.heartbeat_seconds,
                        "stalled_worker_timeout": 3 * config.heartbeat_seconds,
                        "install_signal_handlers": False,  # ours tell a stop from a crash
                    },
                )
                with signals.stopping(worker):
                    try:
                        await worker.run()
                    except (exceptions.ConnectorException, psycopg.OperationalError) as exc:
                        logger.error("lost the database: %s", exc)
                if signals.received:
                    return
                # The database went away (restart, failover): the worker stopped. Jobs
                # whose end could not be recorded stay `doing`; the rescue re-queues
                # them once this worker's old registration stops heartbeating.
                logger.error("the worker stopped without a signal; waiting for the database")
                if not await _wait_for_database(connector, signals):
                    return


class _StopSignals:
    """SIGTERM/SIGINT: the first stops the worker gracefully, a second one at once."""

    def __init__(self) -> None:
        self.received = 0
        self.stopped = asyncio.Event()

    @contextlib.contextmanager
    def stopping(self, worker: Worker) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        run_task = asyncio.current_task()

        def on_signal() -> None:
            self.received += 1
            self.stopped.set()
            if self.received == 1:
                worker.stop()
            elif run_task is not None:
                run_task.cancel()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal)
        try:
            yield
        finally:
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
            target=run_worker_process, args=(self.config, index), name=f"worker-{index}"
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


def parse_queues(raw: str | Sequence[str]) -> tuple[str, ...]:
    items = raw.split(",") if isinstance(raw, str) else raw
    return tuple(item.strip() for item in items if item.strip())
