"""Finished jobs per minute: rolled up from events, read back with the live tail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import ThroughputMinute
from hiring_jobs.queue import throughput
from hiring_jobs.queue.defer import batch_defer
from tests.support import tasks
from tests.support.jobs import run_worker_until_idle


def _finish_jobs(session_factory: sessionmaker[Session], ok: int, bad: int) -> None:
    with session_factory() as session, session.begin():
        batch_defer(session, tasks.echo, [{"value": n} for n in range(ok)])
        batch_defer(session, tasks.fail, [{"message": str(n)} for n in range(bad)])
    run_worker_until_idle(concurrency=4)


def _totals(counts: dict[datetime, tuple[int, int]]) -> tuple[int, int]:
    return sum(ok for ok, _ in counts.values()), sum(bad for _, bad in counts.values())


def test_live_events_are_counted_before_any_rollup(session_factory: sessionmaker[Session]) -> None:
    _finish_jobs(session_factory, ok=5, bad=2)
    with session_factory() as session:
        since = datetime.now(UTC) - timedelta(hours=1)
        assert _totals(throughput.per_minute(session, since)) == (5, 2)


def test_the_rollup_is_idempotent_and_read_back_with_the_live_tail(
    session_factory: sessionmaker[Session],
) -> None:
    _finish_jobs(session_factory, ok=6, bad=3)
    later = datetime.now(UTC) + timedelta(minutes=2)  # the jobs' minute is complete then
    for _ in range(2):
        with session_factory() as session, session.begin():
            throughput.rollup(session, now=later)
    with session_factory() as session:
        rolled = session.execute(
            select(func.sum(ThroughputMinute.succeeded), func.sum(ThroughputMinute.failed))
        ).one()
        assert tuple(rolled) == (6, 3)
    _finish_jobs(session_factory, ok=2, bad=1)  # after the rollup: the live tail
    with session_factory() as session:
        since = datetime.now(UTC) - timedelta(hours=1)
        assert _totals(throughput.per_minute(session, since)) == (8, 4)
