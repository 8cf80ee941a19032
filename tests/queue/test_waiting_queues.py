"""The shared bucket's queues: found by a probe planned for the table as it is, kept for a
second or until a job is inserted, and never at the cost of a job left waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from hiring_jobs.app import app, make_connector
from hiring_jobs.queue import batching, slots, waiting_queues
from hiring_jobs.queue.waiting_queues import WaitingQueues
from tests.support.reads import FLUSH_COUNTS, rows_read


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def _insert(conn: psycopg.Connection, queue: str, count: int = 1, **values: Any) -> None:
    conn.execute(
        "INSERT INTO procrastinate_jobs (queue_name, task_name, args, scheduled_at)"
        " SELECT %(queue)s, 'tests.echo', '{\"value\": 1}', %(scheduled_at)s"
        " FROM generate_series(1, %(count)s)",
        {"queue": queue, "count": count, "scheduled_at": values.get("scheduled_at")},
    )


async def _probe(named: list[str], runs: int = 1) -> list[str]:
    connector = make_connector(max_size=1, job_state=True)  # one connection throughout
    await connector.open_async()
    try:
        for _ in range(runs):
            found = await waiting_queues.probe(connector, named)
        await connector.execute_query_async(FLUSH_COUNTS)
        return found
    finally:
        await connector.close_async()


def test_the_probe_finds_the_queues_with_jobs_waiting_that_the_worker_does_not_name(
    conn: psycopg.Connection,
) -> None:
    _insert(conn, "default")
    _insert(conn, "reports")
    _insert(conn, "exports", scheduled_at="2999-01-01T00:00:00Z")  # waiting all the same
    _insert(conn, "archive")
    conn.execute("UPDATE procrastinate_jobs SET status = 'succeeded' WHERE queue_name = 'archive'")

    assert asyncio.run(_probe(["default", "email"])) == ["exports", "reports"]


def test_the_probe_is_planned_for_the_table_as_it_is_not_as_it_was(
    conn: psycopg.Connection,
) -> None:
    """Prepared while the table was empty, the probe read every waiting job and sorted
    them on each fetch (20-30 ms with 30,000 waiting): it is never prepared."""
    asyncio.run(_probe(["default"], runs=20))  # psycopg prepares a statement on its 5th run
    backlog = 20_000
    _insert(conn, "default", backlog)
    before = rows_read(conn, "procrastinate_jobs")

    assert asyncio.run(_probe(["default"], runs=20)) == []

    read = rows_read(conn, "procrastinate_jobs") - before
    assert read < backlog / 4, f"20 probes read {read} rows"


def test_worker_connections_prepare_no_probe(database_url: str) -> None:
    async def statements() -> list[str]:
        connector = make_connector(max_size=1, job_state=True)
        await connector.open_async()
        try:
            for _ in range(10):
                await waiting_queues.probe(connector, ["default"])
            rows = await connector.execute_query_all_async(
                "SELECT statement FROM pg_prepared_statements"  # type: ignore[arg-type]
            )
            return [row["statement"] for row in rows]
        finally:
            await connector.close_async()

    assert not [s for s in asyncio.run(statements()) if "waiting_queue" in s]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_answer_holds_for_a_second_without_news() -> None:
    clock = Clock()
    waiting = WaitingQueues(["default"], clock=clock)
    assert waiting.probe_due_in() == 0.0  # never probed
    waiting._probed_at = clock.now
    clock.now += waiting_queues.MAX_AGE_SECONDS / 2
    assert waiting.probe_due_in() is None
    clock.now += waiting_queues.MAX_AGE_SECONDS / 2
    assert waiting.probe_due_in() == 0.0


def test_a_job_inserted_makes_the_answer_due_once_the_cooldown_is_over() -> None:
    clock = Clock()
    waiting = WaitingQueues(["default"], clock=clock)
    waiting._probed_at = clock.now
    clock.now += waiting_queues.COOLDOWN_SECONDS / 5
    waiting.note_insert()
    assert waiting.probe_due_in() == pytest.approx(waiting_queues.COOLDOWN_SECONDS * 4 / 5)
    clock.now += waiting_queues.COOLDOWN_SECONDS
    assert waiting.probe_due_in() == 0.0


def test_a_stream_of_inserts_costs_at_most_one_probe_per_cooldown(database_url: str) -> None:
    """Under a producer, every fetch follows a notification: probing for each would put
    the probe back into every fetch."""
    clock = Clock()
    waiting = WaitingQueues(["default"], clock=clock)
    probes = 0

    async def scenario() -> None:
        nonlocal probes
        connector = make_connector(max_size=1, job_state=True)
        await connector.open_async()
        try:
            for _ in range(100):  # a fetch per millisecond, each after an insert
                before = waiting._probed_at
                waiting.note_insert()
                await waiting.current(connector)
                probes += waiting._probed_at != before
                clock.now += 0.001
        finally:
            await connector.close_async()

    asyncio.run(scenario())
    # The first, then one per cooldown over the 100 ms.
    assert 1 < probes <= 1 + 0.1 / waiting_queues.COOLDOWN_SECONDS


def test_a_job_in_a_queue_nobody_names_starts_without_waiting_for_the_polling_interval(
    conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inserted within the cooldown of the last probe, it is fetched once the cooldown is
    over, not at the next poll (600 s here) nor when the answer ages (600 s here)."""
    monkeypatch.setattr(waiting_queues, "COOLDOWN_SECONDS", 2.0)
    monkeypatch.setattr(waiting_queues, "MAX_AGE_SECONDS", 600.0)

    app.perform_import_paths()
    monkeypatch.setattr(app.periodic_registry, "periodic_tasks", {})  # no other inserts

    async def scenario() -> list[str]:
        connector = make_connector(max_size=6, job_state=True)
        with app.replace_connector(connector):
            async with app.open_async():
                worker = batching.make_worker(
                    app,
                    slots=slots.parse("default=2,*=2"),
                    batch_size=8,
                    **{**app.worker_defaults, "wait": True, "fetch_job_polling_interval": 600},
                    install_signal_handlers=False,
                    listen_notify=True,
                )
                assert isinstance(worker, batching.BatchingWorker)
                running = asyncio.create_task(worker.run())
                try:
                    await _until(lambda: worker._waiting._probed_at is not None)
                    await _until(lambda: _listening(conn))
                    _insert(conn, "reports")  # a notification, within the cooldown
                    await _until(lambda: _succeeded(conn) == 1)
                    _insert(conn, "exports")  # again, just after the probe that found it
                    await _until(lambda: _succeeded(conn) == 2)
                finally:
                    worker.stop()
                    await asyncio.wait_for(running, timeout=60)
        return [
            row[0]
            for row in conn.execute(
                "SELECT queue_name FROM procrastinate_jobs"
                " WHERE status = 'succeeded' AND task_name = 'tests.echo' ORDER BY id"
            )
        ]

    assert asyncio.run(scenario()) == ["reports", "exports"]


def _listening(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND query ILIKE 'LISTEN%%'"
    ).fetchone()
    return bool(row and row[0])


def _succeeded(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT count(*) FROM procrastinate_jobs"
        " WHERE status = 'succeeded' AND task_name = 'tests.echo'"
    ).fetchone()
    return int(row[0]) if row else 0


async def _until(condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_the_notification_handler_we_extend_is_still_procrastinates() -> None:
    """Fails when an upgrade renames Worker._handle_notification (BatchingWorker counts
    the jobs inserted there) or changes how the listener calls it."""
    import inspect

    from procrastinate.worker import Worker

    parameters = inspect.signature(Worker._handle_notification).parameters
    assert list(parameters) == ["self", "channel", "notification"]
    assert "on_notification=self._handle_notification" in inspect.getsource(
        Worker._start_side_tasks
    )
