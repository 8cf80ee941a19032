"""Why is this job not running? Each reason, from the data a live system holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from hiring_jobs.models import AttemptOutcome, JobAttempt
from hiring_jobs.queue import control
from hiring_jobs.queue.defer import DeferOptions, batch_defer, defer
from hiring_jobs.queue.why import explain
from tests.support.jobs import live_worker


def echo(session: Session, *, options: DeferOptions | None = None) -> int:
    return defer(session, "tests.echo", options=options, value=1)


def codes(session: Session, job_id: int) -> list[str]:
    found = explain(session, job_id)
    assert found is not None
    return [reason.code for reason in found.reasons]


def message(session: Session, job_id: int, code: str) -> str:
    found = explain(session, job_id)
    assert found is not None
    return next(reason.message for reason in found.reasons if reason.code == code)


def start(session: Session, job_id: int, worker_id: int) -> None:
    session.execute(
        text("UPDATE procrastinate_jobs SET status = 'doing', worker_id = :w WHERE id = :id"),
        {"w": worker_id, "id": job_id},
    )
    session.commit()  # the status trigger writes the `started` event the explainer reads


@pytest.fixture
def serving(database_url: str) -> int:
    """One live worker serving `default` with one slot (and nothing else)."""
    return live_worker(database_url, "default=1", "host-1-0")


def test_a_job_scheduled_for_later_says_when(session: Session, serving: int) -> None:
    at = datetime.now(UTC) + timedelta(hours=2)
    job_id = echo(session, options={"schedule_at": at})
    session.commit()
    assert codes(session, job_id) == ["scheduled"]
    assert at.strftime("%Y-%m-%d %H:%M:%S UTC") in message(session, job_id, "scheduled")


def test_a_job_in_retry_backoff_says_until_when_and_after_which_error(
    session: Session, serving: int
) -> None:
    job_id = echo(session)
    session.add(
        JobAttempt(
            job_id=job_id,
            attempt=1,
            task_name="tests.echo",
            queue="default",
            outcome=AttemptOutcome.FAILED,
            exception_type="ConnectionError",
            error_message="smtp.example.com refused",
        )
    )
    session.execute(
        text(
            "UPDATE procrastinate_jobs SET attempts = 1,"
            " scheduled_at = now() + interval '90 seconds' WHERE id = :id"
        ),
        {"id": job_id},
    )
    session.commit()
    found = explain(session, job_id)
    assert found is not None
    [reason] = found.reasons
    assert reason.code == "retry_backoff" and reason.until is not None
    assert "waiting to retry (attempt 2) until" in reason.message
    assert reason.message.endswith("after ConnectionError")
    assert reason.error_message == "smtp.example.com refused", "kept apart, to be masked"


def test_a_job_of_a_paused_queue_says_so_and_by_whom(session: Session, serving: int) -> None:
    job_id = echo(session)
    control.pause(session, "default", by="alice")
    session.commit()
    assert codes(session, job_id) == ["queue_paused"]
    assert message(session, job_id, "queue_paused") == "its queue default is paused by alice"


def test_a_job_no_live_worker_serves_says_so(database_url: str, session: Session) -> None:
    job_id = echo(session)
    session.commit()
    assert codes(session, job_id) == ["no_worker"]
    assert message(session, job_id, "no_worker") == "no live worker serves queue default"
    live_worker(database_url, "email=2", "host-2-0")  # a worker, but of another queue
    assert message(session, job_id, "no_worker") == "no live worker serves queue default"
    control.set_limit(session, "default", 0, by="ops")
    session.commit()
    live_worker(database_url, "default=1", "host-3-0")  # started with 1, applies 0
    assert message(session, job_id, "no_worker") == (
        "no live worker would start jobs of queue default now: host-3-0 (0 slots)"
    )


def test_a_job_whose_queue_slots_are_all_busy_names_the_running_jobs(
    session: Session, serving: int
) -> None:
    running, waiting = batch_defer(session, "tests.echo", [{"value": 1}, {"value": 2}])
    session.commit()
    start(session, running, serving)
    found = explain(session, waiting)
    assert found is not None
    [reason] = found.reasons
    assert reason.code == "slots_busy" and reason.job_ids == (running,)
    assert reason.message.startswith(
        f"every slot of queue default is busy (1 slots on 1 workers): job {running}"
        " (tests.echo, since "
    )


def test_a_job_whose_lock_is_held_names_the_holder_and_one_behind_a_lock_names_the_first(
    database_url: str, session: Session
) -> None:
    live_worker(database_url, "default=4", "host-4-0")
    holder = echo(session, options={"lock": "candidate-7"})
    first = echo(session, options={"lock": "candidate-7"})
    second = echo(session, options={"lock": "candidate-7"})
    session.commit()
    assert codes(session, second) == ["lock_queued", "jobs_ahead"]
    assert message(session, second, "lock_queued").startswith(f"job {holder} holds the same lock")
    worker_id = session.scalar(text("SELECT worker_id FROM worker_processes"))
    start(session, holder, worker_id)
    assert codes(session, first) == ["lock_held"]
    assert message(session, first, "lock_held").startswith(
        f"its lock is held by job {holder}, running since "
    )


def test_a_job_behind_others_says_how_many_come_first(database_url: str, session: Session) -> None:
    live_worker(database_url, "default=4", "host-5-0")
    ids = batch_defer(session, "tests.echo", [{"value": n} for n in range(3)])
    urgent = echo(session, options={"priority": 100})
    session.commit()
    assert codes(session, urgent) == ["nothing"]
    assert message(session, ids[2], "jobs_ahead").startswith("3 ready jobs of queue default")
    assert message(session, ids[0], "jobs_ahead").startswith("1 ready jobs")


def test_a_job_that_is_not_waiting_says_its_state(session: Session, serving: int) -> None:
    job_id = echo(session)
    session.commit()
    start(session, job_id, serving)
    assert codes(session, job_id) == ["not_waiting"]
    assert explain(session, 10**9) is None


def _keyed(session: Session, task: str, tenant: str, n: int = 1) -> list[int]:
    ids = batch_defer(
        session,
        task,
        [{"log": "-", "key": f"{tenant}{i}", "tenant": tenant, "seconds": 0} for i in range(n)],
    )
    session.commit()
    return ids


def test_a_job_whose_key_is_at_its_max_running_names_the_jobs_holding_it(
    session: Session, serving: int
) -> None:
    first, second, waiting = _keyed(session, "tests.capped_run", "acme", 3)
    for job_id in (first, second):
        session.execute(
            text("UPDATE procrastinate_jobs SET status = 'doing', worker_id = :w WHERE id = :id"),
            {"w": serving, "id": job_id},
        )
    session.commit()
    found = explain(session, waiting)
    assert found is not None
    [reason] = [r for r in found.reasons if r.code == "key_concurrency"]
    assert reason.job_ids == (first, second)
    assert "its key tenant_cap:acme runs 2 jobs, its limit is 2" in reason.message


def test_a_job_whose_key_used_up_its_rate_says_until_when(session: Session, serving: int) -> None:
    [job_id] = _keyed(session, "tests.rated_run", "acme")
    session.execute(
        text(
            "UPDATE rate_limit_buckets SET tokens = 0, refilled_at = now()"
            " WHERE name = 'tenant_rate:acme'"
        )
    )
    session.commit()
    found = explain(session, job_id)
    assert found is not None
    [reason] = [r for r in found.reasons if r.code == "key_rate"]
    assert reason.until is not None
    waited = (reason.until - datetime.now(UTC)).total_seconds()
    assert 0 < waited <= 1.0, "one token at 3 a second"
    assert "its key tenant_rate:acme used up its rate (180/min, burst 1)" in reason.message


def test_a_keyed_job_says_how_many_jobs_of_other_keys_come_first_in_the_fair_share(
    session: Session, serving: int
) -> None:
    a = _keyed(session, "tests.fair_run", "a", 5)
    _keyed(session, "tests.fair_run", "b", 2)
    assert "fair_share" not in codes(session, a[0])
    # a's third job is on its third turn: b's two jobs come first (and a's own two).
    assert message(session, a[2], "fair_share").startswith(
        "fair share: 2 ready jobs of other keys of queue default come first"
    )
    assert "jobs_ahead" not in codes(session, a[2]), "none of a higher priority"
