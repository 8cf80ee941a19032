"""Progress from inside a task: throttled writes, the last value always written
(the status API and pages while a real worker runs: tests/web/test_progress.py)."""

from __future__ import annotations

import time

import pytest
from procrastinate import JobContext, jobs
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.app import app
from hiring_jobs.queue import job_progress
from tests.support.processes import wait_for


class CountingWriter(job_progress.ProgressWriter):
    """The real writer, counting its database writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[job_progress.Report] = []

    def _write(self, report: job_progress.Report) -> None:
        self.writes.append(report)
        super()._write(report)


def _stored(session_factory: sessionmaker[Session], job_id: int) -> tuple[int, int, str] | None:
    with session_factory() as session:
        row = session.execute(
            text("SELECT done, total, message FROM job_progress WHERE job_id = :id"),
            {"id": job_id},
        ).one_or_none()
        return tuple(row) if row else None  # type: ignore[return-value]


def test_writes_are_throttled_per_job_and_the_last_value_is_always_written(
    session_factory: sessionmaker[Session],
) -> None:
    writer = CountingWriter()
    for done in range(1, 51):
        writer.report(job_progress.Report(1, done, 100, f"row {done}"))
        writer.report(job_progress.Report(2, done, 100, f"row {done}"))
    assert [r.done for r in writer.writes] == [1, 1], "the first report of each job at once"
    wait_for(
        lambda: (
            _stored(session_factory, 1) == (50, 100, "row 50")
            and _stored(session_factory, 2) == (50, 100, "row 50")
        ),
        timeout=30,
        what="the last reports to be written when the interval ends",
    )
    assert len(writer.writes) == 4, "one more write per job, not 49"
    writer.report(job_progress.Report(1, 100, 100, "done"))
    assert _stored(session_factory, 1) == (100, 100, "done"), "completion is written at once"


def test_bad_values_are_refused() -> None:
    job = jobs.Job(id=1, queue="default", lock=None, queueing_lock=None, task_name="tests.echo")
    context = JobContext(app=app, job=job, start_timestamp=time.time(), abort_reason=lambda: None)
    with pytest.raises(ValueError, match="done must be"):
        context.progress(-1, 10)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="total must be"):
        context.progress(1, "ten")  # type: ignore[attr-defined]


def test_an_async_task_reports_from_the_event_loop_and_its_last_value_is_kept(
    session_factory: sessionmaker[Session],
) -> None:
    import asyncio

    from hiring_jobs.queue.defer import defer
    from tests.support.jobs import run_batching_worker_until_idle

    with session_factory() as session:
        job_id = defer(session, "tests.progress_async", steps=20)
        session.commit()
    asyncio.run(run_batching_worker_until_idle(batch_size=2, concurrency=1))
    wait_for(
        lambda: _stored(session_factory, job_id) == (20, 20, "async step 20"),
        timeout=30,
        what="the last value (a completion: written at once)",
    )
