"""Per-key concurrency and rate limits, and fair share between keys (queue/keys.py).

The fetch statement alone first (what it picks, what it leaves), then real worker
processes: every run's start and end is written to a file, and the invariants are checked
on those intervals.
"""

from __future__ import annotations

from typing import Any

import psycopg
from sqlalchemy.orm import Session

from hiring_jobs.queue import batching
from hiring_jobs.queue.defer import DeferOptions, batch_defer, defer
from tests.support import tasks


def fetch(database_url: str, free: dict[str, int]) -> list[dict[str, Any]]:
    """One fetch as a worker with these free slots makes it; the jobs it took."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.row_factory = psycopg.rows.dict_row
        worker_id = conn.execute(
            "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now()) RETURNING id"
        ).fetchone()["id"]
        named = {q: n for q, n in free.items() if q != "*"}
        rows = conn.execute(
            batching.FETCH_JOBS,
            {
                "queues": list(named),
                "free": list(named.values()),
                "other_free": free.get("*", 0),
                "worker_id": worker_id,
            },
        ).fetchall()
    return sorted(rows, key=lambda row: (-row["priority"], row["id"]))


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
