"""Groups: members defer with the group, and the completion job is deferred exactly once,
by whichever member finishes last, even when they finish at the same moment."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs import db
from hiring_jobs.app import app
from hiring_jobs.models import JobGroup, Notification
from hiring_jobs.queue.groups import member_finished, start_group
from hiring_jobs.queue.retry import PermanentError
from tests.support.factories import make_user
from tests.support.jobs import jobs, run_worker_until_idle


@app.task(name="tests.groups.member", queue="default")
def member(group_id: int, n: int) -> None:
    with db.session_scope() as session:
        member_finished(session, group_id, f"n{n}")


@app.task(name="tests.groups.done", queue="default")
def done(group_id: int, user_id: int) -> None:
    with db.session_scope() as session:
        session.add(Notification(user_id=user_id, kind="test", message=f"group {group_id} done"))


def _start(session_factory: sessionmaker[Session], members: int, user_id: int = 0) -> int:
    with session_factory() as session, session.begin():
        return start_group(
            session,
            "test",
            member,
            [{"n": n} for n in range(members)],
            on_complete=("tests.groups.done", {"user_id": user_id}),
        )


def _group(session_factory: sessionmaker[Session], group_id: int) -> JobGroup:
    with session_factory() as session:
        group = session.get(JobGroup, group_id)
        assert group is not None
        return group


def test_members_are_deferred_with_the_group_id_in_the_callers_transaction(
    session_factory: sessionmaker[Session],
) -> None:
    group_id = _start(session_factory, 3)

    with session_factory() as session:
        members = jobs(session, "tests.groups.member")
    assert [job["args"] for job in members] == [{"n": n, "group_id": group_id} for n in range(3)]
    group = _group(session_factory, group_id)
    assert (group.total, group.finished, group.completion_job_id) == (3, 0, None)

    with session_factory() as session:
        session.begin()
        start_group(session, "rolled back", member, [{"n": 9}], on_complete=("x", {}))
        session.rollback()
    with session_factory() as session:
        assert len(jobs(session, "tests.groups.member")) == 3
        assert session.scalar(select(JobGroup.id).where(JobGroup.name == "rolled back")) is None


def test_only_the_last_member_defers_the_completion(session_factory: sessionmaker[Session]) -> None:
    group_id = _start(session_factory, 3, user_id=7)
    returned = []
    for n, failed in enumerate((False, True, False)):
        with session_factory() as session, session.begin():
            returned.append(member_finished(session, group_id, f"n{n}", failed=failed))

    assert returned[:2] == [None, None] and returned[2] is not None
    group = _group(session_factory, group_id)
    assert (group.finished, group.failed) == (3, 1)
    assert group.completion_job_id == returned[2] and group.completed_at is not None
    with session_factory() as session:
        [completion] = jobs(session, "tests.groups.done")
    assert completion["id"] == returned[2]
    assert completion["args"] == {"user_id": 7, "group_id": group_id}


def test_a_report_after_completion_changes_nothing(session_factory: sessionmaker[Session]) -> None:
    group_id = _start(session_factory, 1)
    for member_key in ("n0", "late"):
        with session_factory() as session, session.begin():
            member_finished(session, group_id, member_key)

    assert _group(session_factory, group_id).finished == 1
    with session_factory() as session:
        assert len(jobs(session, "tests.groups.done")) == 1


def test_an_unknown_group_is_a_permanent_error(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(PermanentError), session_factory() as session, session.begin():
        member_finished(session, 424242, "n0")


def test_an_empty_group_completes_at_once(session_factory: sessionmaker[Session]) -> None:
    group_id = _start(session_factory, 0)

    group = _group(session_factory, group_id)
    assert group.completion_job_id is not None and group.completed_at is not None
    with session_factory() as session:
        assert len(jobs(session, "tests.groups.done")) == 1


def test_members_finishing_at_once_defer_the_completion_exactly_once(
    session_factory: sessionmaker[Session],
) -> None:
    members = 8
    group_id = _start(session_factory, members)
    barrier = threading.Barrier(members)
    results: list[int | None] = []
    errors: list[BaseException] = []

    def finish(n: int) -> None:
        try:
            with session_factory() as session, session.begin():
                session.execute(select(1))  # open the transaction before the race
                barrier.wait(timeout=10)
                results.append(member_finished(session, group_id, f"n{n}"))
        except BaseException as exc:  # surfaced below: a thread's failure fails the test
            errors.append(exc)

    threads = [threading.Thread(target=finish, args=(n,)) for n in range(members)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    completions = [job_id for job_id in results if job_id is not None]
    assert len(results) == members and len(completions) == 1
    group = _group(session_factory, group_id)
    assert (group.finished, group.completion_job_id) == (members, completions[0])
    with session_factory() as session:
        assert [job["id"] for job in jobs(session, "tests.groups.done")] == completions


def test_a_group_run_by_a_concurrent_worker_completes_once(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        user_id = make_user(session).id
    group_id = _start(session_factory, 6, user_id=user_id)

    run_worker_until_idle(queues=["default"], concurrency=4)
    run_worker_until_idle(queues=["default"])  # the completion, deferred by the last member

    with session_factory() as session:
        statuses = [job["status"] for job in jobs(session)]
        messages = session.scalars(select(Notification.message)).all()
    assert statuses == ["succeeded"] * 7
    assert messages == [f"group {group_id} done"]


def test_a_member_that_runs_again_counts_once(session_factory: sessionmaker[Session]) -> None:
    """At-least-once delivery: a member re-run after its report must not complete the group."""
    group_id = _start(session_factory, 2)
    for member_key in ("n0", "n0"):  # the same member reports twice
        with session_factory() as session, session.begin():
            assert member_finished(session, group_id, member_key) is None
    group = _group(session_factory, group_id)
    assert (group.finished, group.completion_job_id) == (1, None)
