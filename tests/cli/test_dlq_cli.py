"""`hiring-jobs dlq`: the dead-letter queue from a terminal, same service as the web UI."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import AuditLogEntry
from hiring_jobs.queue import operations
from hiring_jobs.queue.defer import defer
from tests.support import tasks
from tests.support.jobs import jobs, run_worker_until_idle
from tests.support.processes import cli_env, run_cli


def _failed_jobs(session_factory: sessionmaker[Session], *messages: str) -> list[int]:
    with session_factory() as session, session.begin():
        ids = [defer(session, tasks.fail, message=m) for m in messages]
    run_worker_until_idle()
    return ids


def test_stats_list_show_then_retry_one(
    database_url: str, session_factory: sessionmaker[Session]
) -> None:
    first, _second = _failed_jobs(session_factory, "relay 1 down", "relay 2 down")
    env = cli_env(DATABASE_URL=database_url)

    stats = run_cli("dlq", "stats", env=env)
    assert stats.returncode == 0, stats.stderr
    assert "pending review: 2" in stats.stdout
    assert "tests.fail" in stats.stdout

    listed = run_cli("dlq", "list", env=env)
    assert f"{first}" in listed.stdout and "builtins.RuntimeError: relay 1 down" in listed.stdout

    shown = run_cli("dlq", "show", str(first), env=env)
    assert "attempt 1: failed" in shown.stdout
    assert "raise RuntimeError(message)" in shown.stdout  # the traceback

    retried = run_cli("dlq", "retry", str(first), "--notes", "relay fixed", "--by", "ana", env=env)
    assert retried.returncode == 0, retried.stderr
    with session_factory() as session:
        new_job = jobs(session)[-1]
        [review] = operations.dead_letter_reviews(session, first)
    assert f"job {first} re-queued as job {new_job['id']}" in retried.stdout
    assert (review.reviewed_by, review.notes) == ("ana", "relay fixed")


def test_show_masks_personal_data_unless_unmasked_which_is_audited(
    database_url: str, session_factory: sessionmaker[Session]
) -> None:
    [job_id] = _failed_jobs(session_factory, "mailbox ada.lovelace@example.com is full")
    env = cli_env(DATABASE_URL=database_url)

    listed = run_cli("dlq", "list", env=env)
    shown = run_cli("dlq", "show", str(job_id), env=env)
    for output in (listed.stdout, shown.stdout):
        assert "ada.lovelace@example.com" not in output
        assert "a***@e***.com" in output

    unmasked = run_cli("dlq", "show", str(job_id), "--unmasked", "--by", "ana", env=env)
    assert "ada.lovelace@example.com" in unmasked.stdout
    with session_factory() as session:
        [entry] = session.scalars(select(AuditLogEntry).where(AuditLogEntry.action == "reveal"))
    assert (entry.actor, entry.target) == ("ana", f"job {job_id}")
    assert "ada.lovelace" not in str(entry.details)


def test_bulk_discard_by_task_and_review(
    database_url: str, session_factory: sessionmaker[Session]
) -> None:
    ids = _failed_jobs(session_factory, "a", "b", "c")
    env = cli_env(DATABASE_URL=database_url)
    reviewed = run_cli("dlq", "review", str(ids[0]), "--notes", "done by hand", env=env)
    assert reviewed.returncode == 0, reviewed.stderr
    discarded = run_cli("dlq", "discard", "--task", "tests.fail", env=env)
    assert "2 jobs discarded" in discarded.stdout
    assert "pending review: 0" in run_cli("dlq", "stats", env=env).stdout


def test_errors_are_one_clear_line(database_url: str) -> None:
    env = cli_env(DATABASE_URL=database_url)
    missing = run_cli("dlq", "retry", "424242", env=env)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "Error: job 424242 is not a failed job"
    unnamed = run_cli("dlq", "discard", env=env)
    assert "name a task or an error fingerprint" in unnamed.stderr
