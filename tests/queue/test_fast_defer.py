"""queue.fast_defer.batch_insert writes the rows Procrastinate's batch_defer writes."""

from __future__ import annotations

from typing import Any

import pytest
from procrastinate import exceptions
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.queue import fast_defer
from hiring_jobs.queue.defer import batch_defer
from tests.support import tasks

COLUMNS = "queue_name, task_name, priority, lock, queueing_lock, args, status, scheduled_at"


def _rows(session: Session, ids: list[int]) -> list[tuple[Any, ...]]:
    query = text(f"SELECT {COLUMNS} FROM procrastinate_jobs WHERE id = ANY(:ids) ORDER BY id")
    return [tuple(row) for row in session.execute(query, {"ids": ids})]


def _driver(session: Session) -> Any:
    return session.connection().connection.driver_connection


def test_same_rows_and_events_as_upstream(session_factory: sessionmaker[Session]) -> None:
    kwargs = [{"value": n} for n in range(50)]
    options = {"priority": 7, "lock": "L1", "schedule_in": {"hours": 1}, "queue": "email"}
    with session_factory() as session, session.begin():
        upstream = batch_defer(session, tasks.echo, kwargs, options=options)  # type: ignore[arg-type]
        job = tasks.echo.configure(**options).job  # type: ignore[arg-type]
        fast = fast_defer.batch_insert(_driver(session), job, kwargs)

    with session_factory() as session:
        mine, theirs = _rows(session, fast), _rows(session, upstream)
        events = session.execute(
            text(
                "SELECT job_id = ANY(:fast), type::text, count(*) FROM procrastinate_events"
                " GROUP BY 1, 2 ORDER BY 1, 2"
            ),
            {"fast": fast},
        ).all()
    assert [row[:7] for row in mine] == [row[:7] for row in theirs]
    assert [row[5] for row in mine] == kwargs, "ids come back in the arguments' order"
    assert all(abs((a[7] - b[7]).total_seconds()) < 60 for a, b in zip(mine, theirs, strict=True))
    assert [tuple(e) for e in events] == [
        (False, "deferred", 50),
        (False, "scheduled", 50),
        (True, "deferred", 50),
        (True, "scheduled", 50),
    ]


def test_a_queueing_lock_conflict_raises_already_enqueued(
    session_factory: sessionmaker[Session],
) -> None:
    job = tasks.echo.configure(queueing_lock="only-one").job
    with session_factory() as session, session.begin():
        fast_defer.batch_insert(_driver(session), job, [{"value": 1}])
    with (
        session_factory() as session,
        session.begin(),
        pytest.raises(exceptions.AlreadyEnqueued),
    ):
        fast_defer.batch_insert(_driver(session), job, [{"value": 2}])
