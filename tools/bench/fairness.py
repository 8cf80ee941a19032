"""Fair share between keys: employer B's one job behind employer A's backlog.

Two measurements on the bench database:

- `fetch_cost`: what one fetch of 8 jobs costs (EXPLAIN ANALYZE, rolled back) with
  `backlog` jobs waiting: unkeyed (with the full statement, and with the unkeyed-only one
  workers use while nothing keyed waits), keyed by one key at its max_running (every
  waiting job is held), and keyed over 1,000 keys with fair share;
- `measure`: A's `backlog` jobs queued and running, then one job of B, a worker with
  `slots` slots: how many jobs started between B's defer and its start (its position),
  and its pickup delay, with the jobs keyed by tenant (fair share) and without a key
  (by id).
"""

from __future__ import annotations

import dataclasses
import json

from sqlalchemy.orm import sessionmaker

from hiring_jobs import db
from hiring_jobs.queue import batching, keys
from hiring_jobs.queue.defer import batch_defer, defer
from tools.bench import tasks as bench_tasks
from tools.bench.common import (
    Bench,
    BenchError,
    hiring_worker,
    reset_jobs,
    wait_listening,
    wait_until,
)

FETCH_FREE = 8
JOB_SECONDS = 0.02
A_STARTED_FIRST = 20


@dataclasses.dataclass(frozen=True)
class Pickup:
    position: int  # jobs started after B's defer, before B's start
    delay_ms: float  # from B's defer to its start (its events, the database's clock)

    def __str__(self) -> str:
        return f"position {self.position:,}, delay {self.delay_ms:,.0f} ms"


def measure(bench: Bench, *, fair: bool, backlog: int, slots: int) -> Pickup:
    reset_jobs(bench)
    task = bench_tasks.tenant_job_fair if fair else bench_tasks.tenant_job
    worker = hiring_worker(bench, processes=1, concurrency=slots, queues=f"default={slots}")
    engine = db.make_engine(bench.url)
    factory = sessionmaker(engine, expire_on_commit=False)
    try:
        wait_listening(bench, [worker], 1)
        with db.session_scope(factory) as session:
            batch_defer(session, task, [{"tenant": "A", "seconds": JOB_SECONDS}] * backlog)
        # B arrives while A's backlog runs (its first jobs started), as in production.
        wait_until(
            lambda: _started(bench) >= A_STARTED_FIRST,
            timeout=120,
            what="A's backlog to run",
            interval=0.02,
            alive=worker.alive,
        )
        with db.session_scope(factory) as session:
            b_id = defer(session, task, tenant="B", seconds=JOB_SECONDS)
        wait_until(
            lambda: _started_at(bench, b_id) is not None,
            timeout=120 + backlog * JOB_SECONDS,
            what="B's job to start",
            interval=0.05,
            alive=worker.alive,
        )
        with bench.connect() as conn:
            row = conn.execute(
                "SELECT count(*) FROM procrastinate_events e WHERE e.type = 'started'"
                " AND e.job_id <> %(b)s AND e.at < (SELECT min(at) FROM procrastinate_events"
                " WHERE job_id = %(b)s AND type = 'started') AND e.at > (SELECT min(at)"
                " FROM procrastinate_events WHERE job_id = %(b)s AND type = 'deferred')",
                {"b": b_id},
            ).fetchone()
        started, deferred = _started_at(bench, b_id), _event_at(bench, b_id, "deferred")
        assert started is not None and deferred is not None and row is not None
        return Pickup(position=int(row[0]), delay_ms=(started - deferred) * 1000)
    except BenchError as exc:
        raise BenchError(f"fairness: {exc}\n{worker.tail()}") from None
    finally:
        worker.stop()
        engine.dispose()


def _started(bench: Bench) -> int:
    with bench.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM procrastinate_events WHERE type = 'started'"
        ).fetchone()
    return int(row[0]) if row else 0


def _started_at(bench: Bench, job_id: int) -> float | None:
    return _event_at(bench, job_id, "started")


def _event_at(bench: Bench, job_id: int, event: str) -> float | None:
    """When the job got that event, by the database's clock (the delay is server time)."""
    with bench.connect() as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM min(at))::float8 FROM procrastinate_events"
            " WHERE job_id = %s AND type = %s",
            (job_id, event),
        ).fetchone()
    return None if row is None or row[0] is None else float(row[0])


SCENARIOS = ("unkeyed", "keyed, one key at max_running", "keyed, fair share over 1,000 keys")


def fetch_cost(bench: Bench, backlog: int, rounds: int = 5) -> dict[str, float]:
    """Milliseconds per fetch of FETCH_FREE jobs (median of `rounds`), per scenario."""
    engine = db.make_engine(bench.url)
    factory = sessionmaker(engine, expire_on_commit=False)
    results = {}
    try:
        with db.session_scope(factory) as session:
            keys.sync(session)
        for scenario in SCENARIOS:
            reset_jobs(bench)
            _fill(bench, factory, scenario, backlog)
            with bench.connect() as conn:
                conn.execute("VACUUM ANALYZE procrastinate_jobs")
                worker_id = conn.execute(
                    "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now()) RETURNING id"
                ).fetchone()[0]  # type: ignore[index]
                times = [_explain_fetch(conn, worker_id, FETCH) for _ in range(rounds)]
                results[scenario] = sorted(times)[len(times) // 2]
                if scenario == "unkeyed":  # what a worker runs while nothing keyed waits
                    times = [_explain_fetch(conn, worker_id, UNKEYED) for _ in range(rounds)]
                    results["unkeyed, unkeyed-only statement"] = sorted(times)[len(times) // 2]
    finally:
        engine.dispose()
    return results


def _fill(bench: Bench, factory: sessionmaker, scenario: str, backlog: int) -> None:  # type: ignore[type-arg]
    with db.session_scope(factory) as session:
        if scenario == "unkeyed":
            batch_defer(session, bench_tasks.noop, [{}] * backlog)
        elif scenario.startswith("keyed, one key"):
            batch_defer(
                session, bench_tasks.tenant_job_capped, [{"tenant": "A", "seconds": 0}] * backlog
            )
        else:
            args = [{"tenant": f"t{i % 1000}", "seconds": 0} for i in range(backlog)]
            batch_defer(session, bench_tasks.tenant_job_fair, args)
    if scenario.startswith("keyed, one key"):
        with bench.connect() as conn:  # two running: the key is full
            conn.execute(
                "UPDATE procrastinate_jobs SET status = 'doing' WHERE id IN"
                " (SELECT id FROM procrastinate_jobs ORDER BY id LIMIT 2)"
            )


FETCH, UNKEYED = batching.FETCH_JOBS, batching.FETCH_UNKEYED_JOBS


def _explain_fetch(conn, worker_id: int, statement: str) -> float:  # type: ignore[no-untyped-def]
    conn.execute("SET jit TO off")  # as on worker connections (app.JOB_STATE_SETTINGS)
    conn.execute("BEGIN")
    try:
        plan = conn.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + statement,
            {
                "queues": ["default"],
                "free": [FETCH_FREE],
                "other_queues": [],
                "other_free": 0,
                "worker_id": worker_id,
            },
        ).fetchone()[0]
    finally:
        conn.execute("ROLLBACK")
    if isinstance(plan, str):
        plan = json.loads(plan)
    return float(plan[0]["Execution Time"])
