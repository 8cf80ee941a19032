"""Tasks that exist only for tests; each leaves a Notification row as its side effect.

Importing this module registers them on the app; worker processes started by tests
import it through HIRING_JOBS_TASK_MODULES.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
import uuid

from procrastinate import JobContext
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from hiring_jobs import db
from hiring_jobs.app import app
from hiring_jobs.models import Notification
from hiring_jobs.queue.defer import defer, defer_async
from hiring_jobs.queue.execution import Mode
from hiring_jobs.queue.keys import Key
from hiring_jobs.queue.rate_limit import Rate
from hiring_jobs.queue.retry import RetryPolicy
from hiring_jobs.queue.time_limits import SoftTimeLimitExceeded, TimeLimits
from hiring_jobs.tasks.family import task


@app.task(name="tests.record", queue="default")
def record(user_id: int, message: str) -> None:
    with db.session_scope() as session:
        session.add(Notification(user_id=user_id, kind="test", message=message))


@app.task(name="tests.defer_from_sync_task", queue="default")
def defer_from_sync_task(user_id: int) -> None:
    """A sync task that writes a row and defers the next step in the same transaction."""
    with db.session_scope() as session:
        session.add(Notification(user_id=user_id, kind="test", message="sync parent"))
        defer(session, record, user_id=user_id, message="child of sync task")


@app.task(name="tests.defer_from_async_task", queue="default")
async def defer_from_async_task(user_id: int) -> None:
    engine = db.make_async_engine(db.database_url())
    try:
        async with async_sessionmaker(engine)() as session, session.begin():
            session.add(Notification(user_id=user_id, kind="test", message="async parent"))
            await defer_async(session, record, user_id=user_id, message="child of async task")
    finally:
        await engine.dispose()


@app.task(name="tests.fail", queue="default")
def fail(message: str) -> None:
    raise RuntimeError(message)


@app.task(name="tests.echo", queue="default")
def echo(value: object) -> object:
    return value


@app.task(name="tests.echo_async", queue="default")
async def echo_async(value: object) -> object:
    """Runs in the worker's event loop: jobs of one batch end together."""
    return value


@app.task(name="tests.fail_async", queue="default")
async def fail_async(message: str) -> None:
    raise RuntimeError(message)


@app.task(
    name="tests.fail_twice_then_succeed",
    queue="default",
    retry=RetryPolicy(max_retries=3, base_seconds=0, cap_seconds=0),
)
def fail_twice_then_succeed(user_id: int, marker: str) -> str:
    """Raises on its first two attempts, then leaves a Notification: retries made visible."""
    with db.session_scope() as session:
        failures = session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.message == f"failed {marker}")
        )
        if failures is not None and failures < 2:
            session.add(Notification(user_id=user_id, kind="test", message=f"failed {marker}"))
    if failures is not None and failures < 2:
        raise ConnectionError(f"transient failure {failures + 1} for {marker}")
    with db.session_scope() as session:
        session.add(Notification(user_id=user_id, kind="test", message=f"done {marker}"))
    return "done"


@app.task(
    name="tests.always_transient",
    queue="default",
    retry=RetryPolicy(max_retries=2, base_seconds=3600, cap_seconds=3600),
)
def always_transient() -> None:
    raise ConnectionError("the relay is down")


@app.task(
    name="tests.slow",
    queue="default",
    pass_context=True,
    retry=RetryPolicy(max_retries=2, base_seconds=0, cap_seconds=0),
)
def slow(context: JobContext, user_id: int, marker: str, seconds: float) -> str:
    """Sleeps `seconds` on its first attempt only; leaves one "done" row when it finishes."""
    if context.job.attempts == 0:
        time.sleep(seconds)
    with db.session_scope() as session:
        session.add(Notification(user_id=user_id, kind="test", message=f"done {marker}"))
    return marker


@task(
    "tests.hang",
    queue="default",
    retry=RetryPolicy(max_retries=1, base_seconds=0, cap_seconds=0),
    limits=TimeLimits(soft_seconds=0.5, hard_seconds=1.0),
)
async def hang() -> None:
    await asyncio.sleep(3600)


@app.task(
    name="tests.record_once",
    queue="default",
    retry=RetryPolicy(max_retries=10, base_seconds=0.5, cap_seconds=2),
)
def record_once(user_id: int, key: str) -> None:
    """Idempotent: a second run (at-least-once delivery) leaves no second row."""
    with db.session_scope() as session:
        session.execute(
            insert(Notification)
            .values(user_id=user_id, kind="test", title="", message=key, data={}, dedupe_key=key)
            .on_conflict_do_nothing()
        )


@app.task(
    name="tests.flaky",
    queue="default",
    retry=RetryPolicy(max_retries=2, base_seconds=0, cap_seconds=0),
)
def flaky(user_id: int, key: str, fail_percent: int) -> str:
    """Fails transiently `fail_percent`% of the time; on success writes one row (not deduped,
    so a double run would show)."""
    if random.randrange(100) < fail_percent:
        raise ConnectionError(f"random failure for {key}")
    with db.session_scope() as session:
        session.add(Notification(user_id=user_id, kind="test", message=key))
    return key


@task("tests.timed_run", queue="default", retry=RetryPolicy(max_retries=5, base_seconds=0))
def timed_run(log: str, key: str, seconds: float) -> str:
    """Appends `start`, `alive` (every 50 ms) and `end` lines, with its run id, pid and
    time, to the file `log`: a test reads every run's interval from it and looks for two
    runs of one job at the same time. A file, not the database: a run cut off from the
    database is exactly the one to watch."""
    run = uuid.uuid4().hex

    def note(event: str) -> None:
        with open(log, "a") as out:
            out.write(f"{key} {run} {os.getpid()} {event} {time.time():.6f}\n")

    note("start")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
        note("alive")
    note("end")
    return key


@task(
    "tests.hang_sync",
    queue="analytics",
    retry=RetryPolicy(max_retries=1, base_seconds=0, cap_seconds=0),
    limits=TimeLimits(soft_seconds=1.0, hard_seconds=2.0),
)
def hang_sync(user_id: int, seconds: float) -> None:
    """Ignores its soft limit (catches it), then would write a row: only if never killed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(SoftTimeLimitExceeded):
            time.sleep(0.1)
    with db.session_scope() as session:
        session.add(Notification(user_id=user_id, kind="test", message="hung job finished"))


@task("tests.progress_steps", queue="default", retry=RetryPolicy(max_retries=0), pass_context=True)
def progress_steps(context: JobContext, steps: int, seconds: float) -> int:
    """Reports its progress after each of `steps` steps of `seconds` (in a task child)."""
    for step in range(1, steps + 1):
        time.sleep(seconds)
        context.progress(step, steps, f"step {step} of {steps}")  # type: ignore[attr-defined]
    return steps


@app.task(name="tests.progress_async", queue="default", pass_context=True)
async def progress_async(context: JobContext, steps: int) -> int:
    """Reports each step from the worker's event loop."""
    for step in range(1, steps + 1):
        await asyncio.sleep(0.01)
        context.progress(step, steps, f"async step {step}")  # type: ignore[attr-defined]
    return steps


@app.task(name="tests.tick", queue="default")
def tick(timestamp: int) -> int:
    """A cron task's body for tests that register it on a registry of their own."""
    return timestamp


@app.task(name="tests.allocate", queue="default")
def allocate(megabytes: int) -> int:
    """Holds `megabytes` of memory when it returns (a big parse); answers its pid."""
    global _held
    _held = bytearray(megabytes << 20)
    return os.getpid()


_held = bytearray()


@task(
    "tests.stuck_thread",
    queue="default",
    mode=Mode.THREAD,
    retry=RetryPolicy(max_retries=0),
    limits=TimeLimits(soft_seconds=0.5, hard_seconds=1.0),
)
def stuck_thread(seconds: float) -> None:
    """Thread mode: nothing can stop it, so its hard limit only frees its slot."""
    time.sleep(seconds)


def _note_run(log: str, key: str, seconds: float) -> str:
    """`start` and `end` lines with the run's key and time: every run's interval."""
    run = uuid.uuid4().hex

    def note(event: str) -> None:
        with open(log, "a") as out:
            out.write(f"{key} {run} {os.getpid()} {event} {time.time():.6f}\n")

    note("start")
    time.sleep(seconds)
    note("end")
    return key


@task(
    "tests.capped_run",
    queue="default",
    retry=RetryPolicy(max_retries=0),
    key=Key("tenant_cap", "tenant", max_running=2),
)
def capped_run(log: str, key: str, tenant: str, seconds: float) -> str:
    """At most two runs of one tenant at once, fleet-wide (queue/keys.py)."""
    return _note_run(log, key, seconds)


@task(
    "tests.rated_run",
    queue="default",
    retry=RetryPolicy(max_retries=0),
    key=Key("tenant_rate", "tenant", rate=Rate(6, 2.0, burst=1)),
)
def rated_run(log: str, key: str, tenant: str, seconds: float) -> str:
    """At most 6 starts per 2 s of one tenant (plus a burst of 1), fleet-wide."""
    return _note_run(log, key, seconds)


@task(
    "tests.fair_run", queue="default", retry=RetryPolicy(max_retries=0), key=Key("tenant", "tenant")
)
def fair_run(log: str, key: str, tenant: str, seconds: float) -> str:
    """Keyed by tenant without limits: fair share only."""
    return _note_run(log, key, seconds)
