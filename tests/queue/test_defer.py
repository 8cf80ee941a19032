"""Transactional defer: the job and the caller's writes commit or roll back together."""

from __future__ import annotations

import pytest
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import Notification, User
from hiring_jobs.queue.defer import FAST_BATCH_MIN, batch_defer, defer
from tests.support import tasks
from tests.support.factories import make_user
from tests.support.jobs import jobs, run_worker_until_idle


def _count_users(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as fresh:
        return fresh.scalar(select(func.count()).select_from(User)) or 0


def _job_count(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as fresh:
        return len(jobs(fresh))


def test_commit_keeps_both_the_row_and_the_job(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session, session.begin():
        user = make_user(session)
        job_id = defer(session, tasks.record, user_id=user.id, message="hello")

    with session_factory() as fresh:
        [job] = jobs(fresh)
    assert job["id"] == job_id
    assert job["status"] == "todo"
    assert job["args"] == {"user_id": user.id, "message": "hello"}
    assert _count_users(session_factory) == 1


def test_rollback_drops_both(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        session.begin()
        user = make_user(session)
        defer(session, tasks.record, user_id=user.id, message="never")
        session.rollback()

    assert _count_users(session_factory) == 0
    assert _job_count(session_factory) == 0


def test_an_exception_in_the_transaction_drops_both(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError), session_factory() as session, session.begin():
        user = make_user(session)
        defer(session, tasks.record, user_id=user.id, message="never")
        raise RuntimeError("the request failed after deferring")

    assert _count_users(session_factory) == 0
    assert _job_count(session_factory) == 0


def test_a_worker_never_runs_a_job_before_its_transaction_commits(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as setup, setup.begin():
        user_id = make_user(setup).id

    with session_factory() as session:
        session.begin()
        defer(session, tasks.record, user_id=user_id, message="after commit")
        run_worker_until_idle()  # the job is invisible: nothing to run
        with session_factory() as fresh:
            assert fresh.scalar(select(func.count()).select_from(Notification)) == 0
        session.commit()

    run_worker_until_idle()
    with session_factory() as fresh:
        assert fresh.scalars(select(Notification.message)).all() == ["after commit"]
        assert [job["status"] for job in jobs(fresh)] == ["succeeded"]


def test_a_queueing_lock_conflict_leaves_the_transaction_usable(
    session_factory: sessionmaker[Session],
) -> None:
    options = {"queueing_lock": "user:1:recompute"}
    with session_factory() as session, session.begin():
        user = make_user(session)
        defer(session, tasks.record, options=options, user_id=user.id, message="first")
        with pytest.raises(AlreadyEnqueued):
            defer(session, tasks.record, options=options, user_id=user.id, message="second")
        # The transaction is still alive: more writes and defers succeed and commit.
        make_user(session)
        defer(session, tasks.record, user_id=user.id, message="third")

    with session_factory() as fresh:
        assert [job["args"]["message"] for job in jobs(fresh)] == ["first", "third"]
    assert _count_users(session_factory) == 2


def test_options_override_the_task_defaults(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session, session.begin():
        user = make_user(session)
        defer(
            session,
            tasks.record,
            options={"queue": "email", "priority": 50, "schedule_in": {"hours": 1}},
            user_id=user.id,
            message="later",
        )
    with session_factory() as fresh:
        [job] = jobs(fresh)
    assert (job["queue_name"], job["priority"]) == ("email", 50)
    run_worker_until_idle()  # scheduled an hour ahead: not run now
    with session_factory() as fresh:
        assert jobs(fresh)[0]["status"] == "todo"


def test_a_task_can_be_named_instead_of_imported(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session, session.begin():
        user = make_user(session)
        defer(session, "tests.record", user_id=user.id, message="by name")
    run_worker_until_idle()
    with session_factory() as fresh:
        assert fresh.scalars(select(Notification.message)).all() == ["by name"]


def test_batch_defer_inserts_every_job_in_the_transaction(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        user = make_user(session)
        ids = batch_defer(
            session,
            tasks.record,
            [{"user_id": user.id, "message": str(n)} for n in range(50)],
        )
    assert len(set(ids)) == 50
    run_worker_until_idle(concurrency=4)
    with session_factory() as fresh:
        assert fresh.scalar(select(func.count()).select_from(Notification)) == 50


def test_a_large_batch_takes_the_fast_insert_and_rolls_back_with_the_transaction(
    session_factory: sessionmaker[Session],
) -> None:
    count = FAST_BATCH_MIN + 150
    with session_factory() as session, session.begin():
        user = make_user(session)
        kwargs = [{"user_id": user.id, "message": str(n)} for n in range(count)]
        ids = batch_defer(session, tasks.record, kwargs, options={"priority": 3})
    with session_factory() as fresh:
        stored = jobs(fresh)
    assert [job["id"] for job in stored] == ids, "ids in the arguments' order"
    assert [job["args"]["message"] for job in stored] == [str(n) for n in range(count)]
    assert {(job["task_name"], job["priority"]) for job in stored} == {("tests.record", 3)}

    with session_factory() as session, session.begin():
        batch_defer(session, tasks.record, kwargs)
        session.rollback()
    with session_factory() as fresh:
        assert len(jobs(fresh)) == count


def test_a_large_batch_with_a_queueing_lock_conflict_leaves_the_transaction_usable(
    session_factory: sessionmaker[Session],
) -> None:
    options = {"queueing_lock": "nightly-import"}
    kwargs = [{"user_id": 0, "message": str(n)} for n in range(FAST_BATCH_MIN)]
    with session_factory() as session, session.begin():
        defer(session, tasks.record, options=options, user_id=0, message="first")
        with pytest.raises(AlreadyEnqueued):
            batch_defer(session, tasks.record, kwargs, options=options)
        defer(session, tasks.record, user_id=0, message="after")
    with session_factory() as fresh:
        assert [job["args"]["message"] for job in jobs(fresh)] == ["first", "after"]


@pytest.mark.parametrize(
    ("task", "kind"),
    [(tasks.defer_from_sync_task, "sync"), (tasks.defer_from_async_task, "async")],
)
def test_a_running_task_defers_its_next_step_in_its_own_transaction(
    session_factory: sessionmaker[Session], task: object, kind: str
) -> None:
    with session_factory() as session, session.begin():
        user = make_user(session)
        defer(session, task, user_id=user.id)  # type: ignore[arg-type]

    run_worker_until_idle()

    with session_factory() as fresh:
        messages = set(fresh.scalars(select(Notification.message)))
        statuses = [job["status"] for job in jobs(fresh)]
    assert messages == {f"{kind} parent", f"child of {kind} task"}
    assert statuses == ["succeeded", "succeeded"]
