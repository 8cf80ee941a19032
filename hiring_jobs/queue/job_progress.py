"""Progress from inside a task: `context.progress(done, total, message)` (Celery's
`update_state`), stored in `job_progress`, shown on the job pages and returned by the
status API as state PROGRESS.

Writes are throttled per job: the first report is written at once, later ones at most
once per WRITE_INTERVAL_SECONDS; a report that falls inside the interval is kept and
written when the interval ends (a timer thread), so the last value is always written. A
report of completion (done == total) is written at once. It works wherever the task runs:
in the worker's event loop, in a thread, or in a task child process (queue/children.py),
since each process writes through its own database connection. The write is synchronous:
in an async task it holds the event loop for one round trip, at most once a second.

Procrastinate's JobContext has no such method and is built both by the worker and by the
task children; `install()` gives the class one (our only addition to it), so every task
declared with `pass_context=True` can call it. Messages are shown to operators: write
counts and steps, not personal data.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from procrastinate import JobContext
from sqlalchemy.orm import Session

from hiring_jobs import db
from hiring_jobs.sql import QUEUE, run

logger = logging.getLogger(__name__)

WRITE_INTERVAL_SECONDS = 1.0
MAX_MESSAGE = 500


@dataclasses.dataclass(frozen=True)
class Report:
    job_id: int
    done: int
    total: int | None
    message: str


class ProgressWriter:
    """Per process: the last write time and the report waiting for its turn, per job."""

    def __init__(self, interval: float = WRITE_INTERVAL_SECONDS) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._written_at: dict[int, float] = {}
        self._pending: dict[int, Report] = {}

    def report(self, report: Report) -> None:
        now = time.monotonic()
        finished = report.total is not None and report.done >= report.total
        with self._lock:
            due = self._written_at.get(report.job_id, float("-inf")) + self.interval
            if now < due and not finished:
                waiting = report.job_id in self._pending
                self._pending[report.job_id] = report
                if not waiting:
                    timer = threading.Timer(due - now, self._flush, (report.job_id,))
                    timer.daemon = True
                    timer.start()
                return
            self._pending.pop(report.job_id, None)
            self._written_at[report.job_id] = now
            self._forget_old(now)
        self._write(report)

    def _forget_old(self, now: float) -> None:
        """A long-lived process runs many jobs: keep only recent ones' write times."""
        if len(self._written_at) > 1000:
            for job_id, at in list(self._written_at.items()):
                if at < now - self.interval and job_id not in self._pending:
                    del self._written_at[job_id]

    def _flush(self, job_id: int) -> None:
        with self._lock:
            report = self._pending.pop(job_id, None)
            if report is None:
                return
            self._written_at[job_id] = time.monotonic()
        self._write(report)

    def _write(self, report: Report) -> None:
        try:
            with db.get_engine().begin() as connection:
                run(connection, QUEUE["upsert_job_progress"], dataclasses.asdict(report))
        except Exception:  # progress is a display: never fail the task over it
            logger.warning("could not store progress of job %s", report.job_id, exc_info=True)


_writer = ProgressWriter()

if TYPE_CHECKING:

    class TaskContext(JobContext):
        """What a `pass_context=True` task receives: a JobContext with `progress`."""

        def progress(self, done: int, total: int | None = None, message: str = "") -> None: ...

else:
    TaskContext = JobContext


def progress(context: JobContext, done: int, total: int | None = None, message: str = "") -> None:
    """Report that `done` of `total` units are done (total None: unknown), with a message."""
    job_id = context.job.id
    if job_id is None:
        return
    if isinstance(done, bool) or not isinstance(done, int) or done < 0:
        raise ValueError("done must be a whole number, 0 or more")
    if total is not None and (isinstance(total, bool) or not isinstance(total, int) or total < 0):
        raise ValueError("total must be a whole number, 0 or more, or None")
    _writer.report(Report(job_id, done, total, str(message)[:MAX_MESSAGE]))


def read(session: Session, job_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The last progress of each of these jobs that reported some."""
    if not job_ids:
        return {}
    rows = run(session, QUEUE["job_progress_of"], {"ids": job_ids})
    return {row.job_id: dict(row._mapping) for row in rows}


def install() -> None:
    """Give JobContext its `progress` method (idempotent)."""
    JobContext.progress = progress  # type: ignore[attr-defined]


def as_step_reporter(context: JobContext) -> Any:
    """A hiring_jobs.progress.Progress (step, done, total) that reports to the job."""

    def report(step: str, done: int, total: int) -> None:
        progress(context, done, total, step)

    return report
