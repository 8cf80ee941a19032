"""Worker logs: one start line per attempt, with the job's context."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from hiring_jobs import logs


@pytest.fixture
def capture() -> Iterator[tuple[io.StringIO, logging.Logger]]:
    """configure_logging's handler writing to a buffer; Procrastinate's worker logger."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    logs.configure_logging("INFO", "text")
    [handler] = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    handler.setStream(stream)
    yield stream, logging.getLogger("procrastinate.worker.host-1-0")
    root.handlers, root.level = saved_handlers, saved_level


def test_procrastinates_start_line_is_debug_and_its_end_line_stays(
    capture: tuple[io.StringIO, logging.Logger],
) -> None:
    """The attempt's own start line (queue/attempts.py) carries the job's context; the
    upstream one says the same without it, once per job: written only at DEBUG."""
    stream, worker_logger = capture
    worker_logger.info("Starting job tests.echo[1]()", extra={"action": "start_job"})
    worker_logger.info("Job tests.echo[1]() ended", extra={"action": "job_success"})
    assert "Starting job" not in stream.getvalue()
    assert "INFO [MainProcess] procrastinate.worker.host-1-0: Job tests.echo[1]() ended" in (
        stream.getvalue()
    )

    logging.getLogger().setLevel(logging.DEBUG)
    worker_logger.info("Starting job tests.echo[2]()", extra={"action": "start_job"})
    assert "DEBUG [MainProcess] procrastinate.worker.host-1-0: Starting job tests.echo[2]()" in (
        stream.getvalue()
    )
