"""Finished jobs per minute: rolled up from events, read back with the live tail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text
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


def _totals(counts: dict[int, tuple[int, int]]) -> tuple[int, int]:
    return sum(ok for ok, _ in counts.values()), sum(bad for _, bad in counts.values())


def test_live_events_are_counted_before_any_rollup(session_factory: sessionmaker[Session]) -> None:
    _finish_jobs(session_factory, ok=5, bad=2)
    with session_factory() as session:
        since = datetime.now(UTC) - timedelta(hours=1)
        assert _totals(throughput.per_bucket(session, since, timedelta(minutes=5))) == (5, 2)


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
        assert _totals(throughput.per_bucket(session, since, timedelta(minutes=5))) == (8, 4)


def test_minutes_rolled_up_and_live_fall_into_their_buckets(
    session_factory: sessionmaker[Session],
) -> None:
    """Bucket n holds [origin + n * step, origin + (n + 1) * step); a bucket that is part
    rolled up, part live, sums both."""
    _finish_jobs(session_factory, ok=3, bad=1)
    with session_factory() as session, session.begin():
        finished_at = session.execute(
            text("SELECT min(at) FROM procrastinate_events WHERE type IN ('succeeded', 'failed')")
        ).scalar_one()
        throughput.rollup(session, now=finished_at + timedelta(minutes=2))
    _finish_jobs(session_factory, ok=2, bad=0)  # live tail
    minute = finished_at.replace(second=0, microsecond=0)
    step = timedelta(minutes=5)
    with session_factory() as session:
        # The first jobs' minute opens bucket 1; the later ones are at most minutes later.
        counts = throughput.per_bucket(session, minute - step, step)
        assert counts.get(0) is None
        assert _totals(counts) == (5, 1)
        assert counts[1][1] == 1
        assert set(counts) <= {1, 2}
