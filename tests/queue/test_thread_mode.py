"""A task declared `mode=thread`, in a real worker process: past its hard limit the
attempt is recorded as timed out and its slot serves the next jobs at once, while the
thread it ran in goes on (a thread cannot be stopped: README, "Execution model")."""

from __future__ import annotations

import signal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import AttemptOutcome, JobAttempt
from hiring_jobs.queue.defer import defer
from tests.support import tasks
from tests.support.processes import cli_env, start_cli, wait_for

# Far longer than the test can take: the thread is still sleeping when the others ran.
STUCK_SECONDS = 600.0


def _outcomes(session_factory: sessionmaker[Session], ids: list[int]) -> list[str]:
    with session_factory() as session:
        rows = session.execute(
            select(JobAttempt.job_id, JobAttempt.outcome).where(JobAttempt.job_id.in_(ids))
        ).all()
    return [outcome for _, outcome in rows]


def test_a_stuck_thread_mode_task_frees_its_slot_at_its_hard_limit(
    database_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with session_factory() as session, session.begin():
        stuck = defer(session, tasks.stuck_thread, seconds=STUCK_SECONDS)
    with session_factory() as session, session.begin():
        others = [defer(session, tasks.echo, value=n) for n in range(5)]
    env = cli_env(
        DATABASE_URL=database_url,
        HIRING_JOBS_TASK_MODULES="tests.support.tasks",
        HIRING_JOBS_WORKER_PROCESSES="1",
        HIRING_JOBS_WORKER_QUEUES="default=1",  # one slot: the stuck job holds it
    )
    worker = start_cli("worker", env=env, log=tmp_path / "worker.log")
    try:
        wait_for(
            lambda: len(_outcomes(session_factory, others)) == len(others),
            timeout=120,
            what="the jobs behind the stuck one",
            process=worker,
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)

    assert _outcomes(session_factory, [stuck]) == [AttemptOutcome.TIMED_OUT]
    assert set(_outcomes(session_factory, others)) == {AttemptOutcome.SUCCEEDED}
