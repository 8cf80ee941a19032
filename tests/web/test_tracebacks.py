"""The job page shows the task's own frames first; the full traceback stays one click away."""

from __future__ import annotations

import asyncio
import traceback

from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from tests.web.helpers import failed_job
from web.tracebacks import is_machinery, task_frames


def _parse_resume(text: str) -> int:
    return int(text)  # raises ValueError for "not a number"


def _task(text: str) -> int:
    try:
        return _parse_resume(text)
    except ValueError as exc:
        raise RuntimeError("the resume could not be read") from exc


async def _machinery_around(text: str) -> int:
    """Standard-library frames (asyncio) above and below nothing of the task's."""
    return await asyncio.to_thread(_task, text)


def _real_traceback() -> str:
    try:
        asyncio.run(_machinery_around("not a number"))
    except RuntimeError as error:
        return "".join(traceback.format_exception(error))
    raise AssertionError("the task did not fail")


def test_task_frames_keep_only_the_tasks_code_in_order_with_its_exception() -> None:
    text = _real_traceback()
    assert "asyncio" in text  # the machinery is in the full text
    own = task_frames(text)
    functions = [frame.function for frame in own.frames]
    # Outermost first, as Python prints them; the chain's repeated frames appear once.
    assert functions[:2] == ["_task", "_parse_resume"]
    assert "_real_traceback" in functions and "_machinery_around" in functions
    assert len(own.frames) == len({(f.path, f.line) for f in own.frames})
    assert all(not is_machinery(frame.path) for frame in own.frames)
    assert not any("asyncio" in frame.path for frame in own.frames)
    assert own.frames[1].code == 'return int(text)  # raises ValueError for "not a number"'
    # The exception the task let out, which is what the attempt ended with.
    assert own.exception == "RuntimeError: the resume could not be read"
    assert "_parse_resume" in own.format()


def test_the_exception_is_the_one_ending_the_task_part_even_below_library_frames() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/srv/app/hiring_jobs/tasks/email.py", line 10, in send\n'
        "    session.commit()\n"
        '  File "/srv/app/.venv/lib/python3.11/site-packages/sqlalchemy/orm/session.py",'
        " line 2, in commit\n"
        "    self._flush()\n"
        "sqlalchemy.exc.IntegrityError: (psycopg.errors.ForeignKeyViolation) insert\n"
    )
    own = task_frames(text)
    assert [f.function for f in own.frames] == ["send"]
    assert own.exception is not None and "ForeignKeyViolation" in own.exception


def test_a_traceback_without_task_frames_gives_none() -> None:
    assert task_frames(None).frames == []
    machinery_only = (
        "Traceback (most recent call last):\n"
        '  File "/usr/lib/python3.11/asyncio/tasks.py", line 1, in wait_for\n'
        "    return fut.result()\n"
        '  File "/srv/app/.venv/lib/python3.11/site-packages/procrastinate/worker.py",'
        " line 2, in run\n"
        "    x()\n"
        "TimeoutError\n"
    )
    own = task_frames(machinery_only)
    assert own.frames == [] and own.exception is None


def test_the_job_page_shows_the_task_frames_first_and_the_full_traceback_on_request(
    operator: FlaskClient, session_factory: sessionmaker[Session]
) -> None:
    job_id = failed_job(session_factory, "the parser broke")
    page = operator.get(f"/admin/jobs/{job_id}").data.decode()
    own_at = page.index('class="task-frames" open')
    full_at = page.index('class="full-traceback"')
    assert own_at < full_at
    own_block = page[own_at:full_at]
    assert "tests/support/tasks.py" in own_block and "raise RuntimeError(message)" in own_block
    assert "RuntimeError: the parser broke" in own_block
    assert "procrastinate" not in own_block and "hiring_jobs/queue" not in own_block
    full_block = page[full_at:]
    assert 'class="full-traceback" open' not in page  # one click away, not in the way
    assert "hiring_jobs/queue/" in full_block and "tests/support/tasks.py" in full_block
