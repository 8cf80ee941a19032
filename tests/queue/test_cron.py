"""Cron at run time: which ticks are due by policy, and the deferrer against PostgreSQL
(a disabled task is not deferred; an enabled-again one obeys its catch-up policy; workers
deciding at once defer each tick once)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from procrastinate.periodic import PeriodicRegistry
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from hiring_jobs.app import app, make_connector
from hiring_jobs.models import AuditLogEntry
from hiring_jobs.queue import cron
from hiring_jobs.queue.cron import CatchUp, ControlledPeriodicDeferrer, Policy, ticks_to_defer
from tests.support import tasks
from tests.support.processes import cli_env, start_cli, wait_for

MINUTELY = "* * * * *"
NOW = 1_780_000_030.0  # 30 s after a minute's tick
T0 = int(NOW // 60 * 60)  # the latest minute tick at NOW
HOUR = 1_780_002_000  # on the hour (494,445 hours since 1970)
EVERY_20 = "*/20 * * * *"


def test_a_fresh_task_runs_only_its_latest_tick_and_only_if_barely_late() -> None:
    assert ticks_to_defer(MINUTELY, None, NOW, Policy(catch_up=CatchUp.EACH)) == [T0]
    hourly = "0 * * * *"
    late = T0 - T0 % 3600 + 900  # 15 min after the hour
    assert ticks_to_defer(hourly, None, late, Policy(catch_up=CatchUp.EACH)) == []


def test_policies_for_ticks_missed_after_the_last_deferred_one() -> None:
    last = T0 - 30 * 60  # half an hour without a worker
    assert ticks_to_defer(MINUTELY, last, NOW, Policy(catch_up=CatchUp.SKIP)) == [T0]
    # An hour without a worker, back 15 min after the latest 20-minute tick:
    late = HOUR + 15 * 60
    assert ticks_to_defer(EVERY_20, HOUR - 3600, late, Policy()) == [], (
        "skip: the latest tick is 15 min late, beyond the 10 min grace"
    )
    assert ticks_to_defer(EVERY_20, HOUR - 3600, late, Policy(catch_up=CatchUp.ONCE)) == [HOUR]
    assert ticks_to_defer(EVERY_20, HOUR - 3600, late, Policy(catch_up=CatchUp.EACH)) == [
        HOUR - 2400, HOUR - 1200, HOUR,
    ]  # fmt: skip
    each = ticks_to_defer(MINUTELY, last, NOW, Policy(catch_up=CatchUp.EACH))
    assert each == [last + 60 * n for n in range(1, 31)]
    windowed = Policy(catch_up=CatchUp.EACH, window_seconds=600)
    assert ticks_to_defer(MINUTELY, last, NOW, windowed) == [T0 - 60 * n for n in range(9, -1, -1)]
    assert ticks_to_defer(MINUTELY, T0, NOW, Policy(catch_up=CatchUp.EACH)) == []
    assert ticks_to_defer(MINUTELY, last, NOW, Policy(enabled=False)) == []


def test_ticks_due_since_the_deferrer_last_looked_are_each_deferred_whatever_the_policy() -> None:
    """A deferrer woken late (a loaded machine) owes every tick since its last pass; only
    ticks due before that pass and never deferred (a disabled task) were missed."""
    last = T0 - 180
    late = [T0 - 120, T0 - 60, T0]
    for catch_up in CatchUp:
        policy = Policy(catch_up=catch_up)
        assert ticks_to_defer(MINUTELY, last, NOW, policy, checked=last + 1) == late, catch_up
    # Disabled until 90 s before the tick: T0 - 120 came due while disabled.
    since_enabled = T0 - 90
    skip, once = Policy(catch_up=CatchUp.SKIP), Policy(catch_up=CatchUp.ONCE)
    assert ticks_to_defer(MINUTELY, last, NOW, skip, checked=since_enabled) == [T0 - 60, T0]
    assert ticks_to_defer(MINUTELY, last, NOW, once, checked=since_enabled) == late
    assert ticks_to_defer(MINUTELY, T0, NOW, skip, checked=T0 + 1) == []
    away = T0 - 30 * 60  # a pass half an hour ago: the process was stopped, not late
    assert ticks_to_defer(MINUTELY, away, NOW, skip, checked=away + 1) == [T0]
    assert ticks_to_defer(MINUTELY, last, NOW, Policy(enabled=False), checked=last + 1) == []


# ---------------------------------------------------------------- against PostgreSQL

KEY = "tests.tick:every_minute"


@pytest.fixture
def registry(database_url: str, monkeypatch: pytest.MonkeyPatch) -> PeriodicRegistry:
    """A registry of its own with one minutely task; the app's registry sees it too, for
    the operators' side (find by key)."""
    own = PeriodicRegistry()
    own.register_task(
        task=tasks.tick, cron=MINUTELY, periodic_id="every_minute", configure_kwargs={}
    )
    app.perform_import_paths()
    monkeypatch.setattr(app.periodic_registry, "periodic_tasks", own.periodic_tasks)
    return own


def run(step: Callable[[], Awaitable[Any]]) -> Any:
    async def opened() -> Any:
        with app.replace_connector(make_connector(max_size=4)):
            async with app.open_async():
                return await step()

    return asyncio.run(opened())


def deferred_ticks(session: Session) -> list[int]:
    session.rollback()
    return sorted(
        session.scalars(
            text("SELECT (args->>'timestamp')::bigint FROM procrastinate_jobs"
                 " WHERE task_name = 'tests.tick'")
        )
    )  # fmt: skip


def test_a_disabled_task_is_not_deferred_and_enabled_again_catches_up_each_tick_once(
    registry: PeriodicRegistry, session: Session
) -> None:
    deferrer = ControlledPeriodicDeferrer(registry)
    start = NOW - 20 * 60
    run(lambda: deferrer.defer_due(start))
    assert deferred_ticks(session) == [T0 - 20 * 60], "a fresh install: the latest tick only"

    cron.set_enabled(session, app, KEY, False, by="ops")
    session.commit()
    assert run(lambda: deferrer.defer_due(NOW - 10 * 60)) == []
    assert deferred_ticks(session) == [T0 - 20 * 60], "disabled: nothing deferred"

    cron.set_catch_up(session, app, KEY, "each", by="ops", window_seconds=3600)
    cron.set_enabled(session, app, KEY, True, by="ops")
    session.commit()
    other = ControlledPeriodicDeferrer(registry)  # a second worker, deciding at once

    async def both() -> list[Any]:
        return await asyncio.gather(deferrer.defer_due(NOW), other.defer_due(NOW))

    run(both)
    assert deferred_ticks(session) == [T0 - 60 * n for n in range(20, -1, -1)], (
        "every tick missed while disabled, each once"
    )
    actions = session.scalars(
        text("SELECT action FROM audit_log WHERE target = :key ORDER BY id"), {"key": KEY}
    ).all()
    assert actions == ["periodic.disable", "periodic.catch_up", "periodic.enable"]


def test_run_once_catches_up_with_one_run_and_skip_with_none(
    registry: PeriodicRegistry, session: Session
) -> None:
    deferrer = ControlledPeriodicDeferrer(registry)
    run(lambda: deferrer.defer_due(NOW - 30 * 60))
    cron.set_catch_up(session, app, KEY, "skip", by="ops")
    session.commit()
    # Half an hour without a worker; then one comes back 15 min after... a minutely task's
    # latest tick is never 10 min late, so `skip` runs the latest: the grace of restarts.
    run(lambda: deferrer.defer_due(NOW))
    assert deferred_ticks(session) == [T0 - 30 * 60, T0]
    cron.set_catch_up(session, app, KEY, "once", by="ops")
    session.commit()
    run(lambda: deferrer.defer_due(NOW + 40 * 60))
    assert deferred_ticks(session) == [T0 - 30 * 60, T0, T0 + 40 * 60], "one run, the latest"


def test_bad_settings_are_clear_errors(registry: PeriodicRegistry, session: Session) -> None:
    with pytest.raises(cron.CronError, match="no cron task 'nope:x'"):
        cron.set_enabled(session, app, "nope:x", False, by="ops")
    with pytest.raises(cron.CronError, match="skip, once or each"):
        cron.set_catch_up(session, app, KEY, "sometimes", by="ops")
    with pytest.raises(cron.CronError, match="window"):
        cron.set_catch_up(session, app, KEY, "each", by="ops", window_seconds=5)
    session.rollback()
    assert session.scalar(text("SELECT count(*) FROM periodic_settings")) == 0
    assert not session.query(AuditLogEntry).count()


# ---------------------------------------------------------------- a real worker process


def _ticks(database_url: str) -> list[int]:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT (args->>'timestamp')::bigint FROM procrastinate_jobs"
            " WHERE task_name = 'tests.every_second' ORDER BY 1"
        ).fetchall()
    return [row[0] for row in rows]


@pytest.mark.slow
def test_a_worker_stops_deferring_a_disabled_task_and_catches_up_each_tick_when_enabled(
    database_url: str, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    env = cli_env(
        DATABASE_URL=database_url,
        HIRING_JOBS_TASK_MODULES="tests.support.cron_tasks",
        HIRING_JOBS_WORKER_PROCESSES="1",
    )
    worker = start_cli("worker", "--queues", "email=1", env=env, log=tmp_path / "worker.log")
    try:
        wait_for(lambda: len(_ticks(database_url)) >= 3, timeout=90, what="ticks", process=worker)
        # The rows `hiring-jobs cron disable/catch-up` write (the task's module is the
        # worker's, not imported here: cron.find would not know the task).
        with session_factory() as session:
            session.execute(
                text("INSERT INTO periodic_settings (task_name, periodic_id, enabled, catch_up,"
                     " window_seconds, updated_by) VALUES ('tests.every_second', 'every_second',"
                     " false, 'each', 3600, 'test')")
            )  # fmt: skip
            session.commit()
            disabled_at = session.scalar(text("SELECT extract(epoch FROM clock_timestamp())"))
        time.sleep(6)  # the deferrer re-reads its settings at every tick (every second here)
        during = [t for t in _ticks(database_url) if t > float(disabled_at) + 2]
        assert during == [], "nothing deferred while disabled (one in-flight tick allowed)"
        before = _ticks(database_url)

        with session_factory() as session:
            session.execute(text("UPDATE periodic_settings SET enabled = true"))
            session.commit()
        wait_for(
            lambda: len(_ticks(database_url)) >= len(before) + 6,
            timeout=60,
            what="the missed ticks to be caught up",
            process=worker,
        )
        ticks = _ticks(database_url)
        assert len(ticks) == len(set(ticks)), "each tick once"
        # Every second: those of the pause caught up, the others deferred even when the
        # worker woke late on a loaded machine.
        assert ticks == list(range(ticks[0], ticks[-1] + 1)), "no second skipped"
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
