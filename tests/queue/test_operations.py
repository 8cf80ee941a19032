"""Job operations, the dead-letter review: failed jobs reviewed, retried, discarded, in bulk
or one by one (hiring_jobs/queue/operations.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import AuditLogEntry, ReviewAction
from hiring_jobs.queue import operations
from hiring_jobs.queue.defer import defer
from tests.support import tasks
from tests.support.factories import make_user
from tests.support.jobs import jobs, run_worker_until_idle


def _fail(session_factory: sessionmaker[Session], *messages: str) -> list[int]:
    with session_factory() as session, session.begin():
        ids = [defer(session, tasks.fail, message=message) for message in messages]
    run_worker_until_idle()
    return ids


def test_failed_jobs_are_pending_with_their_last_error(
    session_factory: sessionmaker[Session],
) -> None:
    [job_id] = _fail(session_factory, "boom 1")
    with session_factory() as session:
        [letter] = operations.pending_dead_letters(session)
        stats = operations.dead_letter_stats(session)
    assert letter.job_id == job_id
    assert letter.task_name == "tests.fail"
    assert letter.args == {"message": "boom 1"}
    assert letter.exception_type == "builtins.RuntimeError"
    assert letter.error_message == "boom 1"
    assert not letter.reviewed
    assert stats.pending == 1
    assert stats.by_task == [("tests.fail", 1)]


def test_failures_group_by_task_and_normalised_error(
    session_factory: sessionmaker[Session],
) -> None:
    _fail(session_factory, "user 1 missing", "user 2 missing", "disk full")
    with session_factory() as session:
        found = operations.dead_letter_groups(session)
    assert [(group.count, group.exception_type) for group in found] == [
        (2, "builtins.RuntimeError"),
        (1, "builtins.RuntimeError"),
    ]
    assert found[0].first_seen is not None and found[0].last_seen >= found[0].first_seen


def test_retry_requeues_the_same_task_and_arguments_linked_to_the_original(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        user = make_user(session)
        [original] = [defer(session, tasks.fail, message="x")]
    run_worker_until_idle()
    with session_factory() as session, session.begin():
        new_id = operations.retry_dead_letter(session, original, by="ops", notes="fixed the relay")
    with session_factory() as session:
        [old, new] = jobs(session)
        [review] = operations.dead_letter_reviews(session, original)
        [entry] = session.scalars(select(AuditLogEntry))
    assert (old["id"], old["status"]) == (original, "failed")
    assert (new["id"], new["status"], new["args"]) == (new_id, "todo", {"message": "x"})
    assert (review.action, review.retry_job_id, review.reviewed_by) == (
        ReviewAction.RETRIED,
        new_id,
        "ops",
    )
    assert (entry.actor, entry.action, entry.job_count) == ("ops", "dlq.retry", 1)
    del user
    with session_factory() as session:
        assert operations.pending_dead_letters(session) == []
        with pytest.raises(operations.DeadLetterError, match="already retried"):
            operations.retry_dead_letter(session, original, by="ops")


def test_discard_and_resolve_keep_the_history(session_factory: sessionmaker[Session]) -> None:
    first, second = _fail(session_factory, "a", "b")
    with session_factory() as session, session.begin():
        operations.discard_dead_letter(session, first, by="ops", notes="known issue")
        operations.resolve_dead_letter(session, second, by="ops", notes="fixed by hand")
    with session_factory() as session:
        assert operations.pending_dead_letters(session) == []
        assert operations.dead_letter_stats(session).pending == 0
        assert [r.action for r in operations.dead_letter_reviews(session, first)] == [
            ReviewAction.DISCARDED
        ]
        assert operations.dead_letter(session, first).reviewed


def test_bulk_retry_by_fingerprint_touches_only_that_group(
    session_factory: sessionmaker[Session],
) -> None:
    _fail(session_factory, "user 1 missing", "user 2 missing", "disk full")
    with session_factory() as session:
        big = operations.dead_letter_groups(session)[0]
    with session_factory() as session, session.begin():
        new_ids = operations.retry_dead_letter_group(
            session, fingerprint=big.error_fingerprint, by="ops"
        )
    assert len(new_ids) == 2
    with session_factory() as session:
        [left] = operations.pending_dead_letters(session)
        assert left.error_message == "disk full"
        [entry] = session.scalars(select(AuditLogEntry))
        assert (entry.action, entry.job_count) == ("dlq.retry_group", 2)


def test_bulk_discard_by_task(session_factory: sessionmaker[Session]) -> None:
    _fail(session_factory, "a", "b", "c")
    with session_factory() as session, session.begin():
        assert operations.discard_dead_letter_group(session, task="tests.fail", by="ops") == 3
    with session_factory() as session:
        assert operations.dead_letter_stats(session).pending == 0


def test_a_bulk_action_must_name_its_group(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session, pytest.raises(operations.DeadLetterError):
        operations.retry_dead_letter_group(session, by="ops")


def test_a_job_that_did_not_fail_is_not_a_dead_letter(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session, session.begin():
        job_id = defer(session, tasks.echo, value=1)
    with session_factory() as session, pytest.raises(operations.DeadLetterError):
        operations.retry_dead_letter(session, job_id, by="ops")


EXPECTED_GROUPS = """
SELECT task_name, error_fingerprint, count(*) FROM dead_letters WHERE NOT reviewed
GROUP BY 1, 2
"""


def _counted(session: Session) -> dict[tuple[str, str | None], int]:
    return {
        (g.task_name, g.error_fingerprint): g.count for g in operations.dead_letter_groups(session)
    }


def _expected(session: Session) -> dict[tuple[str, str | None], int]:
    return {(task, fp): n for task, fp, n in session.execute(text(EXPECTED_GROUPS))}


def test_group_counts_follow_every_way_a_failure_comes_and_goes_and_survive_folding(
    session_factory: sessionmaker[Session],
) -> None:
    ids = _fail(session_factory, "user 1 missing", "user 2 missing", "user 3 missing", "disk full")
    changes = [
        "UPDATE dead_letters SET reviewed = true WHERE job_id = :a",  # resolved
        "DELETE FROM procrastinate_jobs WHERE id = :b",  # deleted by retention
        "UPDATE procrastinate_jobs SET status = 'todo' WHERE id = :c",  # retried in place
        "UPDATE dead_letters SET reviewed = false WHERE job_id = :a",  # reopened
        # Failed outside any worker (no attempt: no fingerprint).
        "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status)"
        " VALUES ('default', 'tests.fail', '{}', 'failed')",
    ]
    with session_factory() as session:
        assert _counted(session) == _expected(session) != {}
        for change in changes:
            session.execute(text(change), {"a": ids[0], "b": ids[1], "c": ids[3]})
            session.commit()
            assert _counted(session) == _expected(session), change

        folded = operations.fold_dead_letter_counts(session)
        session.commit()
        assert _counted(session) == _expected(session)
        assert folded == len(_expected(session)) == 2, "one row per group with failures left"
        assert session.scalar(text("SELECT count(*) FROM dead_letter_counts")) == folded

        session.execute(text("UPDATE dead_letters SET reviewed = true"))
        operations.fold_dead_letter_counts(session)
        session.commit()
        assert _counted(session) == {}
        assert session.scalar(text("SELECT count(*) FROM dead_letter_counts")) == 0
