"""Enqueue costs, through the documented path (`hiring_jobs.queue.defer` on a session).

Single defer: the same application transaction (one INSERT into an app table, commit)
with and without one `defer`, interleaved; the difference of the medians is the defer's
cost, and libpq's protocol trace counts the round trips of each transaction.
Batch: `batch_defer` of many jobs in one transaction, commit included.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.pq import Trace
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs import db
from hiring_jobs.queue import fast_defer
from hiring_jobs.queue.defer import batch_defer, defer
from tools.bench import tasks as bench_tasks
from tools.bench.common import Bench, median, reset_jobs

Body = Callable[[Session], None]
APP_WRITE = text("INSERT INTO bench_writes (payload) VALUES (:payload)")


@dataclasses.dataclass(frozen=True)
class SingleDefer:
    bare_ms: float
    with_defer_ms: float
    bare_round_trips: int
    defer_round_trips: int
    select1_ms: float

    @property
    def extra_ms(self) -> float:
        return self.with_defer_ms - self.bare_ms

    @property
    def extra_round_trips(self) -> int:
        return self.defer_round_trips - self.bare_round_trips


def _bare(session: Session) -> None:
    session.execute(APP_WRITE, {"payload": "resume uploaded"})


def _with_defer(session: Session) -> None:
    session.execute(APP_WRITE, {"payload": "resume uploaded"})
    defer(session, bench_tasks.noop)


def _timed(factory: sessionmaker[Session], body: Body) -> float:
    started = time.perf_counter()
    with db.session_scope(factory) as session:
        body(session)
    return (time.perf_counter() - started) * 1000


def _round_trips(engine: Engine, factory: sessionmaker[Session], body: Body) -> int:
    """Round trips of one whole transaction (checkout to checkin): libpq's ReadyForQuery
    messages in its protocol trace."""
    with tempfile.TemporaryFile() as trace:

        def on_checkout(dbapi_connection: Any, *_: Any) -> None:
            dbapi_connection.pgconn.trace(trace.fileno())
            dbapi_connection.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)

        def on_checkin(dbapi_connection: Any, *_: Any) -> None:
            dbapi_connection.pgconn.untrace()

        event.listen(engine, "checkout", on_checkout)
        event.listen(engine, "checkin", on_checkin)
        try:
            _timed(factory, body)
        finally:
            event.remove(engine, "checkout", on_checkout)
            event.remove(engine, "checkin", on_checkin)
        trace.seek(0)
        return sum(1 for line in trace if b"ReadyForQuery" in line)


def single_defer(bench: Bench, iterations: int) -> SingleDefer:
    engine = db.make_engine(bench.url)
    factory = sessionmaker(engine, expire_on_commit=False)
    try:
        for _ in range(20):  # warm up: pool, prepared statements, caches
            _timed(factory, _with_defer)
        bare, deferred = [], []
        for _ in range(iterations):
            bare.append(_timed(factory, _bare))
            deferred.append(_timed(factory, _with_defer))
        return SingleDefer(
            bare_ms=median(bare),
            with_defer_ms=median(deferred),
            bare_round_trips=_round_trips(engine, factory, _bare),
            defer_round_trips=_round_trips(engine, factory, _with_defer),
            select1_ms=_select1_ms(bench.url),
        )
    finally:
        engine.dispose()
        reset_jobs(bench)


def _batch(session: Session, kwargs: list[dict[str, Any]]) -> None:
    batch_defer(session, bench_tasks.noop, kwargs)


def _fast_batch(session: Session, kwargs: list[dict[str, Any]]) -> None:
    job = bench_tasks.noop.configure().job
    fast_defer.batch_insert(session.connection().connection.driver_connection, job, kwargs)


def _select1_ms(url: str, count: int = 200) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        times = []
        for _ in range(count):
            started = time.perf_counter()
            conn.execute("SELECT 1")
            times.append((time.perf_counter() - started) * 1000)
    return median(times)


def batch_enqueue(bench: Bench, count: int, *, fast: bool = False) -> float:
    """Jobs per second of one `batch_defer` of `count` jobs, commit included; `fast` goes
    through `queue.fast_defer.batch_insert` instead (the proposed path)."""
    engine = db.make_engine(bench.url)
    factory = sessionmaker(engine, expire_on_commit=False)
    kwargs: list[dict[str, Any]] = [{"n": n} for n in range(count)]
    enqueue = _fast_batch if fast else _batch
    try:
        with db.session_scope(factory) as session:  # warm up the connection
            enqueue(session, kwargs[:10])
        started = time.perf_counter()
        with db.session_scope(factory) as session:
            enqueue(session, kwargs)
        return count / (time.perf_counter() - started)
    finally:
        engine.dispose()
        reset_jobs(bench)
