"""Finished jobs per minute, rolled up from procrastinate_events for the dashboards.

Counting a day of events on every page load means reading a million rows at scale. A
periodic task folds each completed minute into `job_throughput_minutes` (idempotently:
a re-run rewrites the same rows); readers take the rolled-up minutes and count only the
events since the last one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from hiring_jobs.sql import QUEUE, run

# How far back a first rollup (or one after an outage) looks, and how long rows are kept.
BACKFILL = timedelta(days=1)
KEEP = timedelta(days=30)


def rollup(session: Session, now: datetime | None = None) -> int:
    """Fold every completed minute not yet rolled up (the last one again: it may have been
    partial); return how many minutes were written."""
    until = _minute(now or datetime.now(UTC))
    last = run(session, QUEUE["throughput_rolled_until"]).scalar()
    since = max(last, until - BACKFILL) if last else until - BACKFILL
    written = run(session, QUEUE["throughput_rollup"], {"since": since, "until": until}).rowcount
    run(session, QUEUE["throughput_forget"], {"old": until - KEEP})
    return written


def per_bucket(session: Session, origin: datetime, step: timedelta) -> dict[int, tuple[int, int]]:
    """(succeeded, failed) per bucket of `step` since `origin` (bucket 0 starts there):
    rolled-up minutes plus the live tail."""
    rolled_until = run(session, QUEUE["throughput_rolled_until"]).scalar()
    buckets = {"origin": origin, "step": step.total_seconds()}
    counts: dict[int, tuple[int, int]] = {}
    live_since = origin
    if rolled_until is not None and rolled_until >= origin:
        params = {**buckets, "since": origin, "until": rolled_until}
        rows = run(session, QUEUE["throughput_rolled"], params)
        counts.update({row.bucket: (row.succeeded, row.failed) for row in rows})
        live_since = rolled_until  # recounted live: it may have been rolled up partially
    for row in run(session, QUEUE["throughput_live"], {**buckets, "since": live_since}):
        succeeded, failed = counts.get(row.bucket, (0, 0))
        counts[row.bucket] = (succeeded + row.succeeded, failed + row.failed)
    return counts


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)
