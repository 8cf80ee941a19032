"""Per-key concurrency and rate limits, and fair share between keys (queue/keys.py).

The fetch statement alone first (what it picks, what it leaves), then real worker
processes: every run's start and end is written to a file, and the invariants are checked
on those intervals.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.queue import batching, waiting_queues
from hiring_jobs.queue.defer import DeferOptions, batch_defer, defer
from tests.support import tasks
from tests.support.processes import cli_env, scalar, start_cli, stop, wait_for


def fetch(database_url: str, free: dict[str, int]) -> list[dict[str, Any]]:
    """One fetch as a worker with these free slots makes it; the jobs it took."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.row_factory = psycopg.rows.dict_row
        worker_id = conn.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now()) RETURNING id"
        ).fetchone()["id"]
        named = {q: n for q, n in free.items() if q != "*"}
        other_queues = [
            row["queue_name"]
            for row in conn.execute(waiting_queues.WAITING_QUEUES, {"named": list(named)})
        ]
        rows = conn.execute(
            batching.FETCH_JOBS,
            {
                "queues": list(named),
                "free": list(named.values()),
                "other_queues": other_queues,
                "other_free": free.get("*", 0),
                "worker_id": worker_id,
            },
        ).fetchall()
    return sorted(
        (row for row in rows if row["id"] is not None),
        key=lambda row: (-row["priority"], row["id"]),
    )


def finish(database_url: str, job_ids: list[int]) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE procrastinate_jobs SET status = 'succeeded' WHERE id = ANY(%(ids)s)",
            {"ids": job_ids},
        )


def defer_many(
    session: Session, task: Any, tenant: str, n: int, options: DeferOptions | None = None
) -> list[int]:
    ids = batch_defer(
        session,
        task,
        [
            {"log": "/dev/null", "key": f"{tenant}{i}", "tenant": tenant, "seconds": 0}
            for i in range(n)
        ],
        options=options,
    )
    session.commit()
    return ids


def test_a_keyed_job_gets_its_key_from_its_arguments_on_both_defer_paths(
    session: Session, database_url: str
) -> None:
    one = defer(session, tasks.capped_run, log="-", key="k", tenant="acme", seconds=0)
    many = defer_many(session, tasks.capped_run, "globex", 2)
    plain = defer(session, "tests.echo", value=1)
    session.commit()
    with psycopg.connect(database_url) as conn:
        found = dict(conn.execute("SELECT id, hj_key FROM procrastinate_jobs").fetchall())
    assert found == {one: "tenant_cap:acme", many[0]: "tenant_cap:globex",
                     many[1]: "tenant_cap:globex", plain: None}  # fmt: skip


def test_the_fetch_starts_at_most_max_running_jobs_of_a_key_and_the_rest_when_they_end(
    session: Session, database_url: str
) -> None:
    a = defer_many(session, tasks.capped_run, "a", 5)
    b = defer_many(session, tasks.capped_run, "b", 1)
    first = fetch(database_url, {"default": 8})
    assert sorted(row["id"] for row in first) == sorted([a[0], a[1], b[0]])
    assert fetch(database_url, {"default": 8}) == [], "a is at its limit, b has nothing left"
    finish(database_url, [a[0]])
    assert [row["id"] for row in fetch(database_url, {"default": 8})] == [a[2]]
    with psycopg.connect(database_url) as conn:
        attempts = conn.execute(
            "SELECT max(attempts) FROM procrastinate_jobs WHERE status = 'todo'"
        ).fetchone()[0]
    assert attempts == 0, "the jobs held by their key spent no attempt"


def test_a_limited_key_without_its_state_row_is_still_limited(
    session: Session, database_url: str
) -> None:
    """Limits declared after the key's jobs were deferred: the fetch makes the row."""
    defer_many(session, tasks.capped_run, "a", 4)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM rate_limit_buckets WHERE name = 'tenant_cap:a'")
    assert len(fetch(database_url, {"default": 8})) == 2
    assert fetch(database_url, {"default": 8}) == []


def test_the_fetch_spends_a_keys_rate_tokens_and_leaves_the_rest_waiting(
    session: Session, database_url: str
) -> None:
    defer_many(session, tasks.rated_run, "a", 5)
    assert len(fetch(database_url, {"default": 8})) == 1, "a burst of one"
    assert fetch(database_url, {"default": 8}) == []


def test_fair_share_takes_jobs_round_robin_across_keys_and_priorities_still_win(
    session: Session, database_url: str
) -> None:
    a = defer_many(session, tasks.fair_run, "a", 10)
    b = defer_many(session, tasks.fair_run, "b", 2)
    plain = [defer(session, "tests.echo", value=i) for i in range(2)]
    urgent = defer_many(session, tasks.fair_run, "a", 1, options={"priority": 10})
    session.commit()
    # Unkeyed jobs share like one more key; within a round, by id.
    taken = {row["id"] for row in fetch(database_url, {"default": 4})}
    assert taken == {urgent[0], a[0], b[0], plain[0]}
    taken = {row["id"] for row in fetch(database_url, {"default": 5})}
    assert taken == {a[1], b[1], plain[1], a[2], a[3]}, "then a alone"


def test_a_key_waiting_in_two_queues_gets_its_allowance_once(
    session: Session, database_url: str
) -> None:
    defer_many(session, tasks.capped_run, "a", 3)
    defer_many(session, tasks.capped_run, "a", 3, options={"queue": "email"})
    assert len(fetch(database_url, {"default": 8, "email": 8})) == 2


def test_with_more_keys_than_slots_every_key_gets_its_turn_before_any_gets_two(
    session: Session, database_url: str
) -> None:
    for tenant in range(12):
        defer_many(session, tasks.fair_run, f"t{tenant:02}", 3)
    taken = fetch(database_url, {"default": 8})
    assert len(taken) == 8
    assert len({row["hj_key"] for row in taken}) == 8, "one job each of 8 keys"
    taken += fetch(database_url, {"default": 8})
    assert len({row["hj_key"] for row in taken}) == 12, "the other 4 keys come next"


# ---------------------------------------------------------------- real worker processes


REPORTED_TO_QUEUE_CONTROL = "SELECT count(*) FROM worker_processes WHERE applied IS NOT NULL"


@pytest.fixture
def four_workers(database_url: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Four worker processes (one supervisor), each with 8 slots for `default`."""
    yield from _workers(database_url, tmp_path, processes=4, slots=8)


@pytest.fixture
def one_worker(database_url: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """One worker process with 4 slots for `default`."""
    yield from _workers(database_url, tmp_path, processes=1, slots=4)


def _workers(
    database_url: str, tmp_path: Path, *, processes: int, slots: int
) -> Iterator[subprocess.Popen[bytes]]:
    env = cli_env(
        DATABASE_URL=database_url,
        HIRING_JOBS_TASK_MODULES="tests.support.tasks",
        HIRING_JOBS_WORKER_PROCESSES=str(processes),
    )
    worker = start_cli(
        "worker", "--queues", f"default={slots}", env=env, log=tmp_path / "worker.log"
    )
    try:
        wait_for(
            lambda: scalar(database_url, REPORTED_TO_QUEUE_CONTROL) == processes,
            timeout=120,
            what=f"{processes} worker processes to report to queue control",
            process=worker,
        )
        yield worker
    finally:
        stop(worker)


def _runs(log: Path) -> list[tuple[str, float, float]]:
    """(tenant, start, end) of every run in the log; the key is `<tenant>-<n>`."""
    starts: dict[str, tuple[str, float]] = {}
    runs = []
    for line in log.read_text().splitlines():
        key, run, _pid, event, at = line.split()
        if event == "start":
            starts[run] = (key.split("-")[0], float(at))
        elif event == "end":
            tenant, started = starts.pop(run)
            runs.append((tenant, started, float(at)))
    return runs


def _max_overlap(runs: list[tuple[str, float, float]]) -> int:
    edges = sorted([(start, 1) for _, start, _ in runs] + [(end, -1) for _, _, end in runs])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def _defer_runs(
    factory: sessionmaker[Session], task: Any, log: Path, tenant: str, n: int, seconds: float
) -> list[int]:
    with factory() as session, session.begin():
        return batch_defer(
            session,
            task,
            [{"log": str(log), "key": f"{tenant}-{i}", "tenant": tenant, "seconds": seconds}
             for i in range(n)],
        )  # fmt: skip


def _all_done(database_url: str, task: str) -> bool:
    return not scalar(
        database_url,
        "SELECT count(*) FROM procrastinate_jobs WHERE task_name = %(t)s"
        " AND status IN ('todo', 'doing')",
        t=task,
    )


@pytest.mark.slow
def test_max_running_per_key_holds_under_four_processes_of_eight_slots(
    database_url: str,
    session_factory: sessionmaker[Session],
    four_workers: subprocess.Popen[bytes],
    tmp_path: Path,
) -> None:
    log = tmp_path / "runs.log"
    log.touch()
    for tenant in ("acme", "globex", "initech"):
        _defer_runs(session_factory, tasks.capped_run, log, tenant, 16, 0.3)
    wait_for(
        lambda: _all_done(database_url, "tests.capped_run"),
        timeout=240,
        what="every capped job to run",
        process=four_workers,
    )
    runs = _runs(log)
    assert len(runs) == 48
    peaks = {t: _max_overlap([r for r in runs if r[0] == t]) for t in ("acme", "globex", "initech")}
    assert all(peak <= 2 for peak in peaks.values()), peaks
    assert _max_overlap(runs) > 2, "tenants ran side by side: the limit is per key"
    attempts = scalar(
        database_url,
        "SELECT array_agg(DISTINCT attempts) FROM procrastinate_jobs"
        " WHERE task_name = 'tests.capped_run'",
    )
    assert attempts == [1], "each job ran once: waiting on its key spent no attempt"


@pytest.mark.slow
def test_a_key_rate_holds_across_processes_and_its_jobs_start_when_tokens_come(
    database_url: str,
    session_factory: sessionmaker[Session],
    four_workers: subprocess.Popen[bytes],
    tmp_path: Path,
) -> None:
    log = tmp_path / "runs.log"
    log.touch()
    _defer_runs(session_factory, tasks.rated_run, log, "acme", 20, 0.05)
    _defer_runs(session_factory, tasks.rated_run, log, "globex", 20, 0.05)
    wait_for(
        lambda: _all_done(database_url, "tests.rated_run"),
        timeout=240,
        what="every rated job to run",
        process=four_workers,
    )
    assert len(_runs(log)) == 40
    for tenant in ("acme", "globex"):
        # When each job was fetched (its `started` event): what the limit governs.
        with psycopg.connect(database_url) as conn:
            starts = sorted(
                row[0]
                for row in conn.execute(
                    "SELECT extract(epoch FROM e.at)::float8 FROM procrastinate_events e"
                    " JOIN procrastinate_jobs j ON j.id = e.job_id"
                    " WHERE e.type = 'started' AND j.hj_key = %(k)s",
                    {"k": f"tenant_rate:{tenant}"},
                )
            )
        # 6 per 2 s with a burst of 1: at most 7 starts in any 2-second window.
        busiest = max(sum(1 for s in starts if first <= s < first + 2.0) for first in starts)
        assert busiest <= 7, (tenant, busiest)
        # 19 tokens at 3/s after the first: about 6.3 s; far less than polling each 5 s
        # would take (a wake-up at each token's time, not a poll).
        assert 5.5 < starts[-1] - starts[0] < 30, starts


@pytest.mark.slow
def test_fair_share_a_single_job_of_b_starts_within_two_rounds_of_slots_behind_a_backlog(
    database_url: str,
    session_factory: sessionmaker[Session],
    one_worker: subprocess.Popen[bytes],
    tmp_path: Path,
) -> None:
    slots = 4
    log = tmp_path / "runs.log"
    log.touch()
    _defer_runs(session_factory, tasks.fair_run, log, "a", 2000, 0.02)
    wait_for(
        lambda: len(log.read_text().splitlines()) >= 20,
        timeout=120,
        what="a's backlog to be running",
        process=one_worker,
    )
    [b_job] = _defer_runs(session_factory, tasks.fair_run, log, "b", 1, 0.0)
    deferred_at = scalar(
        database_url,
        "SELECT extract(epoch FROM at) FROM procrastinate_events"
        " WHERE job_id = %(id)s AND type = 'deferred'",
        id=b_job,
    )
    wait_for(
        lambda: scalar(
            database_url, "SELECT status FROM procrastinate_jobs WHERE id = %(id)s", id=b_job
        ) == "succeeded",
        timeout=120,
        what="b's job to run",
        process=one_worker,
    )  # fmt: skip
    position = scalar(
        database_url,
        "SELECT count(*) FROM procrastinate_events WHERE type = 'started' AND job_id <> %(id)s"
        " AND at > to_timestamp(%(since)s) AND at < (SELECT at FROM procrastinate_events"
        " WHERE job_id = %(id)s AND type = 'started')",
        id=b_job,
        since=float(deferred_at),
    )
    waiting = scalar(
        database_url,
        "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'"
        " AND task_name = 'tests.fair_run'",
    )
    assert waiting > 1000, "a's backlog was still there when b's job ran"
    assert position <= 2 * slots, f"b's job started after {position} of a's jobs"
