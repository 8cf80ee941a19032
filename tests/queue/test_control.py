"""Run-time control of queues: settings, their precedence, and real workers obeying them."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.models import AuditLogEntry, QueueSetting
from hiring_jobs.queue import control
from hiring_jobs.queue.defer import batch_defer, defer
from hiring_jobs.queue.slots import QueueSlots, SlotCounter
from tests.support import tasks
from tests.support.processes import cli_env, scalar, start_cli, stop, wait_for

SLOTS = QueueSlots(named=(("default", 4), ("resume", 2)), other=3)


def _row(queue: str, worker: str = "", paused: bool = False, slots: int | None = None) -> dict:
    return {"queue_name": queue, "worker_name": worker, "paused": paused, "concurrency": slots}


def test_a_worker_applies_its_own_setting_over_the_fleet_setting_over_its_start() -> None:
    rows = [
        _row("default", slots=1),
        _row("default", "w1", slots=6),
        _row("resume", slots=0),
        _row("*", "w2", slots=9),
    ]
    assert control.resolve(SLOTS, "w1", rows).slots == {"default": 6, "resume": 0, "*": 3}
    assert control.resolve(SLOTS, "w2", rows).slots == {"default": 1, "resume": 0, "*": 9}


def test_a_queue_is_paused_if_paused_fleet_wide_or_for_that_worker() -> None:
    rows = [_row("email", paused=True), _row("default", "w1", paused=True)]
    assert control.resolve(SLOTS, "w1", rows).paused == {"email", "default"}
    assert control.resolve(SLOTS, "w2", rows).paused == {"email"}


def test_a_paused_queue_gets_no_free_slot_and_one_not_named_is_kept_out_of_the_shared_fetch() -> (
    None
):
    woken: list[bool] = []
    gate = control.QueueControl(SLOTS, SlotCounter(SLOTS), wake=lambda: woken.append(True))
    gate.apply(control.Applied(slots=SLOTS.limits(), paused=frozenset({"default", "email"})))
    assert gate.free() == {"default": 0, "resume": 2, "*": 3, "email": 0}
    assert woken == []
    gate.apply(control.Applied(slots=SLOTS.limits(), paused=frozenset()))
    assert gate.free() == {"default": 4, "resume": 2, "*": 3}
    assert woken == [True], "a resume wakes the fetch loop"


def test_a_lowered_limit_leaves_running_jobs_alone_and_frees_nothing_until_they_end() -> None:
    counter = SlotCounter(SLOTS)
    for _ in range(3):
        counter.take("default")
    assert counter.set_capacity("default", 1) is False
    assert counter.free()["default"] == 0
    counter.release("default")
    counter.release("default")
    assert counter.free()["default"] == 0, "two still run, above the new limit of one"
    assert counter.release("default") is True
    assert counter.free()["default"] == 1
    assert counter.set_capacity("default", 5) is True


def test_pause_resume_and_limit_are_stored_audited_and_notified(session: Session) -> None:
    session.execute(text(f"LISTEN {control.CONTROL_CHANNEL}"))
    session.commit()
    control.pause(session, "email", by="alice")
    control.set_limit(session, "email", 3, by="alice")
    control.resume(session, "email", by="bob")
    session.commit()
    setting = session.scalars(select(QueueSetting)).one()
    assert (setting.queue_name, setting.worker_name, setting.paused, setting.concurrency) == (
        "email", "", False, 3,
    )  # fmt: skip
    assert setting.updated_by == "bob"
    audited = session.scalars(select(AuditLogEntry).order_by(AuditLogEntry.id)).all()
    assert [(e.actor, e.action, e.target) for e in audited] == [
        ("alice", "queue.pause", "queue email"),
        ("alice", "queue.limit", "queue email"),
        ("bob", "queue.resume", "queue email"),
    ]
    driver = session.connection().connection.driver_connection
    notified = [n.payload for n in driver.notifies(timeout=1, stop_after=3)]
    assert notified == ["email"], "delivered at commit (PostgreSQL folds identical ones)"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: control.pause(s, "nope", by="x"), "unknown queue 'nope'"),
        (lambda s: control.set_limit(s, "email", 1001, by="x"), "from 0 to 1000"),
        (lambda s: control.pause(s, "email", by="x", worker="gone-1-0"), "no live worker"),
    ],
)
def test_bad_requests_are_clear_errors_and_change_nothing(
    session: Session, call: object, message: str
) -> None:
    with pytest.raises(control.ControlError, match=message):
        call(session)  # type: ignore[operator]
    session.rollback()
    assert session.scalars(select(QueueSetting)).all() == []


# ---------------------------------------------------------------- real worker processes

WORKER_ENV = {
    "HIRING_JOBS_TASK_MODULES": "tests.support.tasks",
    "HIRING_JOBS_WORKER_PROCESSES": "2",
}


@pytest.fixture
def two_workers(database_url: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Two worker processes (one supervisor), each with 4 slots for `default`."""
    env = cli_env(DATABASE_URL=database_url, **WORKER_ENV)
    worker = start_cli("worker", "--queues", "default=4", env=env, log=tmp_path / "worker.log")
    try:
        wait_for(
            lambda: scalar(database_url, "SELECT count(*) FROM worker_processes") == 2,
            timeout=90,
            what="both worker processes to report to queue control",
            process=worker,
        )
        yield worker
    finally:
        stop(worker)


def _defer_runs(
    session_factory: sessionmaker[Session], log: Path, prefix: str, n: int, seconds: float
) -> None:
    with session_factory() as session, session.begin():
        batch_defer(
            session,
            tasks.timed_run,
            [{"log": str(log), "key": f"{prefix}{i}", "seconds": seconds} for i in range(n)],
        )


def _act(session_factory: sessionmaker[Session], change: object) -> datetime:
    """Apply a control change; the database's clock at its commit."""
    with session_factory() as session:
        change(session)  # type: ignore[operator]
        session.commit()
        return session.scalar(text("SELECT clock_timestamp()"))  # type: ignore[return-value]


def _acknowledged(database_url: str, paused: bool, slots: int | None = None) -> bool:
    rows = scalar(
        database_url,
        "SELECT count(*) FROM worker_processes WHERE paused ? 'default' = %(paused)s"
        " AND (%(slots)s::int IS NULL OR (applied->>'default')::int = %(slots)s::int)",
        paused=paused,
        slots=slots,
    )
    return rows == 2


@pytest.mark.slow
def test_a_pause_stops_new_starts_on_every_worker_within_a_second_and_resume_restarts_them(
    database_url: str,
    session_factory: sessionmaker[Session],
    two_workers: subprocess.Popen[bytes],
    tmp_path: Path,
) -> None:
    log = tmp_path / "runs.log"
    log.touch()
    _defer_runs(session_factory, log, "job", 400, 0.2)
    started = "SELECT count(*) FROM procrastinate_events WHERE type = 'started'"
    wait_for(
        lambda: scalar(database_url, started) >= 16,  # type: ignore[operator]
        timeout=60,
        what="jobs to be running on both workers",
        process=two_workers,
    )
    paused_at = _act(session_factory, lambda s: control.pause(s, "default", by="test"))
    wait_for(
        lambda: _acknowledged(database_url, paused=True),
        timeout=30,
        what="both workers to report the pause",
        process=two_workers,
    )
    wait_for(
        lambda: scalar(database_url, "SELECT count(*) FROM procrastinate_jobs"
                        " WHERE status = 'doing'") == 0,
        timeout=30,
        what="running jobs to finish",
    )  # fmt: skip
    # Quiet for a while: long enough that a worker still fetching would have started some.
    quiet = scalar(database_url, "SELECT clock_timestamp()")
    wait_for(
        lambda: scalar(database_url, "SELECT clock_timestamp() - %(q)s > interval '3 s'", q=quiet),
        timeout=30,
        what="three quiet seconds",
    )  # fmt: skip
    late = scalar(
        database_url,
        f"{started} AND at > %(at)s + interval '1 second'",
        at=paused_at,
    )
    assert late == 0, "no job started later than one second after the pause"
    waiting = scalar(database_url, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'")
    assert waiting and waiting > 0, "jobs were left waiting: the pause held them"  # type: ignore[operator]

    resumed_at = _act(session_factory, lambda s: control.resume(s, "default", by="test"))
    wait_for(
        lambda: scalar(database_url, f"{started} AND at > %(at)s", at=resumed_at) >= 8,  # type: ignore[operator]
        timeout=30,
        what="jobs to start again after the resume",
        process=two_workers,
    )
    workers_used = scalar(
        database_url,
        "SELECT count(DISTINCT worker_id) FROM procrastinate_jobs j"
        " JOIN procrastinate_events e ON e.job_id = j.id"
        " WHERE e.type = 'started' AND e.at > %(at)s",
        at=resumed_at,
    )
    assert workers_used == 2, "both workers started jobs again"


def _max_overlap(database_url: str, prefix: str) -> int:
    """The most jobs of `prefix` that ran at the same moment, from their attempt rows."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT a.started_at, a.finished_at FROM job_attempts a"
            " JOIN procrastinate_jobs j ON j.id = a.job_id"
            " WHERE j.args->>'key' LIKE %(p)s",
            {"p": prefix + "%"},
        ).fetchall()
    edges = sorted([(s, 1) for s, _ in rows] + [(f, -1) for _, f in rows])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


def _all_done(database_url: str) -> bool:
    return (
        scalar(database_url, "SELECT count(*) FROM procrastinate_jobs WHERE status IN"
                " ('todo', 'doing') AND task_name = 'tests.timed_run'") == 0
    )  # fmt: skip


@pytest.mark.slow
def test_a_changed_limit_takes_effect_on_running_workers_without_a_restart(
    database_url: str,
    session_factory: sessionmaker[Session],
    two_workers: subprocess.Popen[bytes],
    tmp_path: Path,
) -> None:
    log = tmp_path / "runs.log"
    log.touch()
    # Lowered to one slot per worker process: at most two jobs at once on the fleet.
    _act(session_factory, lambda s: control.set_limit(s, "default", 1, by="test"))
    wait_for(lambda: _acknowledged(database_url, False, 1), timeout=30, what="limit 1")
    _defer_runs(session_factory, log, "low", 12, 0.6)
    wait_for(lambda: _all_done(database_url), timeout=120, what="the first batch to end")
    assert _max_overlap(database_url, "low") <= 2

    # Raised to three: more than two at once, without restarting anything.
    _act(session_factory, lambda s: control.set_limit(s, "default", 3, by="test"))
    wait_for(lambda: _acknowledged(database_url, False, 3), timeout=30, what="limit 3")
    _defer_runs(session_factory, log, "high", 24, 1.0)
    wait_for(lambda: _all_done(database_url), timeout=120, what="the second batch to end")
    assert 2 < _max_overlap(database_url, "high") <= 6
    assert two_workers.poll() is None, "the workers were never restarted"


@pytest.mark.slow
def test_a_pause_for_one_worker_leaves_the_other_worker_serving(
    database_url: str,
    session_factory: sessionmaker[Session],
    two_workers: subprocess.Popen[bytes],
    tmp_path: Path,
) -> None:
    import psycopg

    with psycopg.connect(database_url) as conn:
        (paused_id, paused_name), (_, other_name) = conn.execute(
            "SELECT worker_id, worker_name FROM worker_processes ORDER BY worker_id"
        ).fetchall()
    _act(session_factory, lambda s: control.pause(s, "default", by="test", worker=paused_name))
    wait_for(
        lambda: scalar(database_url, "SELECT paused ? 'default' FROM worker_processes"
                        " WHERE worker_id = %(w)s", w=paused_id) is True,
        timeout=30,
        what="that worker to report its pause",
    )  # fmt: skip
    log = tmp_path / "runs.log"
    log.touch()
    _defer_runs(session_factory, log, "one", 16, 0.2)
    wait_for(lambda: _all_done(database_url), timeout=120, what="every job to run")
    ran_on = scalar(
        database_url,
        "SELECT array_agg(DISTINCT worker_name) FROM job_attempts"
        " WHERE task_name = 'tests.timed_run'",
    )
    assert ran_on == [other_name], "only the worker that is not paused started jobs"


def test_a_worker_run_until_idle_leaves_a_paused_queue_waiting_and_still_ends(
    session_factory: sessionmaker[Session],
) -> None:
    import asyncio

    from tests.support.jobs import run_batching_worker_until_idle

    with session_factory() as session:
        held = defer(session, "tests.echo", value=1)
        served = defer(session, "tests.echo", options={"queue": "email"}, value=2)
        control.pause(session, "default", by="test")
        session.commit()
    asyncio.run(run_batching_worker_until_idle(batch_size=4, concurrency=2))
    with session_factory() as session:
        statuses = dict(
            session.execute(
                text("SELECT id, status FROM procrastinate_jobs WHERE id IN (:a, :b)"),
                {"a": held, "b": served},
            ).all()
        )
    assert statuses == {held: "todo", served: "succeeded"}
