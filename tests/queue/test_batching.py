"""The batched fetch/finish path (HIRING_JOBS_WORKER_BATCH): same selection as
Procrastinate's fetch, same states and events, every job run once."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from procrastinate import jobs
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.app import app, make_connector
from hiring_jobs.queue import batching
from hiring_jobs.queue.defer import batch_defer
from hiring_jobs.queue.manager import QueueJobManager
from hiring_jobs.queue.slots import OTHER_QUEUES
from tests.support import tasks
from tests.support.factories import make_user
from tests.support.jobs import run_batching_worker_until_idle
from tests.support.processes import cli_env, start_cli, wait_for
from tests.support.reads import FLUSH_COUNTS, rows_read


def _insert(conn: psycopg.Connection, **values: Any) -> int:
    row = {"queue_name": "default", "task_name": "tests.echo", "priority": 0, **values}
    columns = ", ".join(row)
    placeholders = ", ".join(f"%({name})s" for name in row)
    sql = f"INSERT INTO procrastinate_jobs ({columns}) VALUES ({placeholders}) RETURNING id"
    found = conn.execute(sql, row).fetchone()  # type: ignore[arg-type]
    assert found is not None
    return int(found[0])


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def _worker_id(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT worker_id FROM procrastinate_register_worker_v1()").fetchone()
    assert row is not None
    return int(row[0])


async def _fetch(free: dict[str, int], worker_id: int) -> list[jobs.Job]:
    connector = make_connector(job_state=True)
    await connector.open_async()
    try:
        return await batching.fetch_jobs(connector, free, worker_id)
    finally:
        await connector.close_async()


def test_fetch_takes_what_procrastinate_would_in_its_order(conn: psycopg.Connection) -> None:
    low = _insert(conn)
    high = _insert(conn, priority=10)
    head_of_lock = _insert(conn, lock="L")
    _insert(conn, lock="L")  # waits for the one before it
    _insert(conn, lock="M", status="doing")
    _insert(conn, lock="M")  # its lock is taken
    _insert(conn, scheduled_at="2999-01-01T00:00:00Z")
    other_queue = _insert(conn, queue_name="email")
    worker_id = _worker_id(conn)

    fetched = asyncio.run(_fetch({"default": 10}, worker_id))

    assert [job.id for job in fetched] == [high, low, head_of_lock]
    assert all(job.status == "doing" and job.worker_id == worker_id for job in fetched)
    started = conn.execute(
        "SELECT count(*) FROM procrastinate_events WHERE type = 'started'"
    ).fetchone()
    assert started == (3,)
    assert [job.id for job in asyncio.run(_fetch({"*": 10}, worker_id))] == [other_queue]


def test_each_queue_gets_at_most_its_free_slots(conn: psycopg.Connection) -> None:
    resumes = [_insert(conn, queue_name="resume") for _ in range(5)]
    emails = [_insert(conn, queue_name="email") for _ in range(5)]
    custom = [_insert(conn, queue_name="custom") for _ in range(3)]
    worker_id = _worker_id(conn)

    fetched = asyncio.run(_fetch({"resume": 2, "email": 3, "*": 1}, worker_id))

    assert sorted(job.id for job in fetched) == [*resumes[:2], *emails[:3], custom[0]]


def test_the_shared_bucket_takes_the_best_jobs_across_its_queues(
    conn: psycopg.Connection,
) -> None:
    reports = [_insert(conn, queue_name="reports") for _ in range(3)]
    urgent_export = _insert(conn, queue_name="exports", priority=5)
    _insert(conn, queue_name="exports")
    full = _insert(conn, queue_name="resume", priority=9)  # named, no free slot
    worker_id = _worker_id(conn)

    fetched = asyncio.run(_fetch({"resume": 0, "*": 3}, worker_id))

    assert [job.id for job in fetched] == [urgent_export, reports[0], reports[1]]
    assert full not in {job.id for job in fetched}
    locked = conn.execute(
        "SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'"
    ).fetchone()
    assert locked == (3,), "jobs read but not chosen stay waiting"


def test_fetch_respects_the_limit_and_skips_locked_rows(conn: psycopg.Connection) -> None:
    ids = [_insert(conn) for _ in range(5)]
    worker_id = _worker_id(conn)

    async def two_at_once() -> list[list[jobs.Job]]:
        return await asyncio.gather(_fetch({"*": 3}, worker_id), _fetch({"*": 3}, worker_id))

    first, second = asyncio.run(two_at_once())
    taken = [job.id for job in first + second]
    assert sorted(taken) == ids, "every job once, none twice"
    assert max(len(first), len(second)) == 3


def test_a_batch_finishes_only_the_jobs_still_doing_under_this_worker(
    conn: psycopg.Connection,
) -> None:
    worker_id, other_worker = _worker_id(conn), _worker_id(conn)
    good = [_insert(conn, status="doing", worker_id=worker_id) for _ in range(3)]
    done_already = _insert(conn, status="succeeded", worker_id=worker_id)
    rescued_and_rerun = _insert(conn, status="doing", worker_id=other_worker)

    async def finish_all() -> None:
        connector = make_connector(job_state=True)
        await connector.open_async()
        finisher = batching.Finisher(QueueJobManager(connector, app))
        try:
            ids = [*good, done_already, rescued_and_rerun]
            await asyncio.gather(
                *(finisher.finish(i, jobs.Status.SUCCEEDED, worker_id) for i in ids)
            )
        finally:
            await connector.close_async()

    asyncio.run(finish_all())
    statuses = conn.execute(
        "SELECT status, attempts FROM procrastinate_jobs WHERE id = ANY(%s) ORDER BY id",
        ([*good, done_already, rescued_and_rerun],),
    ).fetchall()
    assert statuses == [("succeeded", 1)] * 3 + [("succeeded", 0), ("doing", 0)]


def test_the_batching_worker_runs_every_job_once_with_upstream_states(
    session_factory: sessionmaker[Session], conn: psycopg.Connection
) -> None:
    with session_factory() as session, session.begin():
        batch_defer(session, tasks.echo, [{"value": n} for n in range(120)])
        batch_defer(session, tasks.fail, [{"message": f"bad {n}"} for n in range(10)])

    asyncio.run(run_batching_worker_until_idle(batch_size=8, concurrency=8))

    statuses = dict(
        conn.execute("SELECT status, count(*) FROM procrastinate_jobs GROUP BY 1").fetchall()
    )
    assert statuses == {"succeeded": 120, "failed": 10}
    events = conn.execute(
        "SELECT type::text, count(*), count(DISTINCT job_id) FROM procrastinate_events"
        " WHERE type IN ('started', 'succeeded', 'failed') GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert events == [("failed", 10, 10), ("started", 130, 130), ("succeeded", 120, 120)]
    attempts = conn.execute(
        "SELECT outcome, count(*) FROM job_attempts GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert attempts == [("failed", 10), ("succeeded", 120)]


@pytest.mark.slow
def test_worker_processes_with_batching_run_each_success_once(
    database_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """The mixed-load check (tests/chaos) through the batching path: retries included."""
    with session_factory() as session, session.begin():
        user_id = make_user(session).id
        flaky = [{"user_id": user_id, "key": f"f{n}", "fail_percent": 30} for n in range(400)]
        batch_defer(session, tasks.flaky, flaky)

    env = cli_env(
        DATABASE_URL=database_url,
        HIRING_JOBS_TASK_MODULES="tests.support.tasks",
        HIRING_JOBS_WORKER_BATCH="8",
    )
    log = tmp_path / "worker.log"
    worker = start_cli("worker", "--processes", "2", "--concurrency", "8", env=env, log=log)
    try:
        wait_for(
            lambda: _unfinished(database_url) == 0,
            timeout=180,
            what="all 400 jobs to end",
            process=worker,
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0, log.read_text()[-3000:]

    with psycopg.connect(database_url) as check:
        succeeded = check.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
        ).fetchone()
        rows = check.execute(
            "SELECT message, count(*) FROM notifications GROUP BY 1 HAVING count(*) > 1"
        ).fetchall()
    assert rows == [], "no side effect happened twice"
    assert succeeded is not None and succeeded[0] >= 300


def _unfinished(url: str) -> int:
    with psycopg.connect(url) as check:
        row = check.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
        ).fetchone()
    return int(row[0]) if row else -1


def _fetch_loop_with_a_job_ending_during_an_empty_fetch(
    *, lock_released: bool
) -> list[dict[str, int]]:
    """The free slots each fetch of one pass of the fetch loop asked for, when a job
    ends while the first fetch runs and finds nothing (what _on_job_complete does)."""
    from hiring_jobs.queue import slots

    worker = batching.make_worker(
        app,
        slots=slots.parse("default=2"),
        batch_size=8,
        wait=True,
        install_signal_handlers=False,
    )
    worker._control.loaded.set()
    worker._control.free = lambda: {"default": 1}  # type: ignore[method-assign]
    worker._keyed_rates = False
    calls: list[dict[str, int]] = []

    async def fetch(free: dict[str, int]) -> list[jobs.Job]:
        calls.append(free)
        if len(calls) == 1:
            worker._ended += 1
            worker._locks_released += lock_released
        return []

    worker._fetch = fetch  # type: ignore[method-assign]
    asyncio.run(worker._fetch_and_process_jobs())
    return calls


def test_a_lock_released_during_a_fetch_makes_the_worker_fetch_again_before_it_sleeps() -> None:
    """The next job of a Procrastinate lock may run once its holder ended, and nothing
    notifies it: a worker whose job with a lock ended while a fetch ran fetches again."""
    calls = _fetch_loop_with_a_job_ending_during_an_empty_fetch(lock_released=True)
    assert calls == [{"default": 1}, {"default": 1}]


def test_a_queue_that_gave_fewer_jobs_than_asked_is_not_fetched_again_until_news() -> None:
    """Nothing more waits there: the worker waits for a notification, a job of a full
    queue ending or the polling interval instead of fetching for nothing (0.7 empty
    fetches per useful one under a no-op drain, before)."""
    calls = _fetch_loop_with_a_job_ending_during_an_empty_fetch(lock_released=False)
    assert calls == [{"default": 1}]


@pytest.mark.parametrize(
    ("checked_ago", "expected"),
    [(0.0, [False, True]), (2.0, [True])],
    ids=["after-an-empty-unkeyed-fetch", "once-a-second"],
)
def test_a_worker_on_the_unkeyed_only_fetch_looks_for_keyed_jobs(
    monkeypatch: pytest.MonkeyPatch, checked_ago: float, expected: list[bool]
) -> None:
    """While nothing keyed waits the worker runs the statement from before keys; it runs
    the full one when that finds nothing, and at least once a second."""

    from hiring_jobs.queue import slots

    worker = batching.make_worker(
        app, slots=slots.parse("default=2"), batch_size=8, wait=True, install_signal_handlers=False
    )
    worker._control.loaded.set()
    worker._control.free = lambda: {"default": 2}  # type: ignore[method-assign]
    worker._keyed_rates = False
    worker.worker_id = 1
    worker._keyed = False
    worker._keyed_checked_at = time.monotonic() - checked_ago
    calls: list[bool] = []

    async def fetch(*args: Any, keyed: bool, **_: Any) -> tuple[list[jobs.Job], bool]:
        calls.append(keyed)
        return [], True

    monkeypatch.setattr(batching, "fetch", fetch)
    asyncio.run(worker._fetch_and_process_jobs())
    assert calls == expected


def _busy_worker(running: int) -> batching.BatchingWorker:
    """A worker serving `default` with 8 slots, `running` of them taken."""
    from hiring_jobs.queue import slots

    worker = batching.make_worker(
        app, slots=slots.parse("default=8"), batch_size=8, wait=True, install_signal_handlers=False
    )
    assert isinstance(worker, batching.BatchingWorker)
    for _ in range(running):
        worker._counter.take("default")
    return worker


def test_a_bucket_is_backlogged_when_its_fetch_got_every_job_it_asked_for() -> None:
    from hiring_jobs.queue import slots

    served = slots.parse("email=4,resume=2,*=4")
    fetched = [
        jobs.Job(id=i, queue=queue, lock=None, queueing_lock=None, task_name="t", task_kwargs={})
        for i, queue in enumerate(["email", "email", "resume", "reports", "exports"], start=1)
    ]
    asked = {"email": 2, "resume": 2, "*": 2}
    assert batching.backlogged_buckets(fetched, asked, served) == {"email", "*"}


def test_under_a_backlog_the_fetch_waits_for_half_the_slots(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Short jobs end one by one: refilling each freed slot alone costs a fetch per job.
    With more jobs waiting, the next fetch waits until half the slots are free."""
    monkeypatch.setattr(batching, "FETCH_COOLDOWN_SECONDS", 600.0)  # never the reason here
    worker = _busy_worker(running=8)
    worker._backlogged = frozenset({"default"})
    worker._fetched_at = time.monotonic()
    free_when_fetching: list[int] = []

    async def scenario() -> None:
        gather = asyncio.ensure_future(worker._let_slots_gather())
        for _ in range(4):
            await asyncio.sleep(0.01)
            assert not gather.done(), f"fetched with {worker._control.free()['default']} free"
            worker._counter.release("default")
            worker._slot_freed.set()
        await asyncio.wait_for(gather, timeout=30)
        free_when_fetching.append(worker._control.free()["default"])

    asyncio.run(scenario())
    assert free_when_fetching == [4]


@pytest.mark.parametrize("backlogged", [True, False], ids=["cooldown-over", "no-backlog"])
def test_the_fetch_waits_no_longer_than_the_cooldown_and_never_without_a_backlog(
    monkeypatch: pytest.MonkeyPatch, backlogged: bool
) -> None:
    """A job of a queue without a backlog is fetched at once; under a backlog a freed slot
    waits for others at most FETCH_COOLDOWN_SECONDS after the last fetch."""
    monkeypatch.setattr(batching, "FETCH_COOLDOWN_SECONDS", 0.05 if backlogged else 600.0)
    worker = _busy_worker(running=7)
    worker._backlogged = frozenset({"default"}) if backlogged else frozenset()
    worker._fetched_at = time.monotonic()
    asyncio.run(asyncio.wait_for(worker._let_slots_gather(), timeout=30))
    if backlogged:
        assert time.monotonic() - worker._fetched_at >= 0.05


@pytest.mark.parametrize("keyed", [True, False], ids=["fetch_jobs", "fetch_jobs_unkeyed"])
@pytest.mark.parametrize("free", [{"default": 8}, {"*": 8}], ids=["named", "every queue"])
def test_a_fetch_first_run_on_an_empty_queue_reads_only_what_it_takes_later(
    conn: psycopg.Connection, keyed: bool, free: dict[str, int]
) -> None:
    """With the plan a worker connection prepared while the queue was empty, a burst of
    jobs made each fetch scan all of them: sequential scans are off on worker connections
    (hiring_jobs/app.py)."""
    worker_id = _worker_id(conn)
    burst = 20_000

    async def scenario() -> tuple[int, int]:
        connector = make_connector(max_size=1, job_state=True)  # one connection: one plan
        await connector.open_async()
        try:
            for _ in range(20):  # psycopg prepares it on its 5th run, PostgreSQL plans it
                fetched_now, _ = await batching.fetch(connector, free, worker_id, keyed=keyed)
                assert fetched_now == []
            conn.execute(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, args)"
                " SELECT 'default', 'tests.echo', '{}' FROM generate_series(1, %s)",
                (burst,),
            )
            before = rows_read(conn, "procrastinate_jobs")
            fetched = 0
            for _ in range(5):
                fetched_now, _ = await batching.fetch(connector, free, worker_id, keyed=keyed)
                fetched += len(fetched_now)
            await connector.execute_query_async(FLUSH_COUNTS)
        finally:
            await connector.close_async()
        return fetched, rows_read(conn, "procrastinate_jobs") - before

    fetched, read = asyncio.run(scenario())
    assert fetched == 40
    assert 0 < read < burst / 4, f"5 fetches of 8 jobs read {read} rows"


@pytest.mark.parametrize("keyed", [True, False], ids=["fetch_jobs", "fetch_jobs_unkeyed"])
def test_a_fetch_for_an_empty_queue_beside_a_backlog_reads_only_what_it_takes(
    conn: psycopg.Connection, keyed: bool
) -> None:
    """Once ANALYZE had seen every waiting job in one queue (a bulk import), the planner
    looked for an empty queue's jobs by walking Procrastinate's priority index through the
    whole backlog: the queue name's n_distinct is fixed (migration 0020)."""
    worker_id = _worker_id(conn)
    backlog = 20_000
    conn.execute(
        "INSERT INTO procrastinate_jobs (queue_name, task_name, args)"
        " SELECT 'default', 'tests.echo', '{}' FROM generate_series(1, %s)",
        (backlog,),
    )
    conn.execute("ANALYZE procrastinate_jobs")
    free = {"email": 8, "default": 8, OTHER_QUEUES: 8}

    async def scenario() -> int:
        connector = make_connector(max_size=1, job_state=True)  # one connection: one plan
        await connector.open_async()
        fetched = 0
        try:
            for _ in range(20):  # psycopg prepares it on its 5th run, PostgreSQL plans it
                fetched_now, _ = await batching.fetch(connector, free, worker_id, keyed=keyed)
                fetched += len(fetched_now)
            await connector.execute_query_async(FLUSH_COUNTS)
        finally:
            await connector.close_async()
        return fetched

    before = rows_read(conn, "procrastinate_jobs")
    fetched = asyncio.run(scenario())
    read = rows_read(conn, "procrastinate_jobs") - before
    assert fetched == 20 * 8
    assert read < backlog / 4, f"20 fetches of 8 jobs read {read} rows"


def test_worker_connections_are_replaced_so_their_plans_fit_the_table_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A prepared statement keeps the plan made for the table as it was: a worker
    connection is replaced after JOB_STATE_CONNECTION_SECONDS, and its statements are
    planned again."""
    from hiring_jobs import app as app_module

    monkeypatch.setattr(app_module, "JOB_STATE_CONNECTION_SECONDS", 1.0)

    async def backends() -> set[int]:
        connector = make_connector(max_size=1, job_state=True)
        await connector.open_async()
        seen: set[int] = set()
        try:
            deadline = time.monotonic() + 30
            while len(seen) < 2 and time.monotonic() < deadline:
                row = await connector.execute_query_one_async("SELECT pg_backend_pid() AS pid")
                seen.add(row["pid"])
                await asyncio.sleep(0.2)
        finally:
            await connector.close_async()
        return seen

    assert len(asyncio.run(backends())) == 2
