"""Cron at run time: enable or disable a periodic task, and what to do with ticks missed
while no worker ran (or while the task was disabled), without a deploy.

Settings live in `periodic_settings` (a task without a row is enabled, with the `skip`
policy). The worker's periodic deferrer (`ControlledPeriodicDeferrer`, which replaces
Procrastinate's in hiring_jobs workers) re-reads them every SETTINGS_POLL_SECONDS and at
every tick, and decides from the database, not from its memory, which ticks are due: the
ticks after the task's last deferred tick (`procrastinate_periodic_defers`), by policy:

- skip: only the latest tick, and only if it is at most GRACE_SECONDS late (Procrastinate's
  own rule: a worker restarting within ten minutes still runs the tick it missed);
- once: the latest missed tick, however late (within the window): one run catches up;
- each: every missed tick within the window, oldest first.

A task that never ran (a fresh install) runs its latest tick only if it is at most
GRACE_SECONDS late, whatever the policy: nothing was ever due before the system existed.
A disabled task is never deferred; when enabled again, the ticks it missed follow its
policy. Deciding and deferring happen under a PostgreSQL advisory lock per task, with a
fresh read of the last deferred tick: workers deciding at once defer each tick once, and
an old tick is never deferred again after a newer one (Procrastinate deletes older rows).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import logging
import time
from collections.abc import Iterable
from typing import Any

import psycopg
from croniter import croniter
from procrastinate import App
from procrastinate.periodic import PeriodicDeferrer, PeriodicRegistry, PeriodicTask
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from hiring_jobs import audit, db
from hiring_jobs.models.control import PeriodicSetting
from hiring_jobs.sql import QUEUE

logger = logging.getLogger(__name__)

GRACE_SECONDS = 600  # procrastinate.periodic.MAX_DELAY
DEFAULT_WINDOW_SECONDS = 24 * 3600
MAX_WINDOW_SECONDS = 31 * 24 * 3600
MAX_CATCH_UP_TICKS = 1000
SETTINGS_POLL_SECONDS = 5.0


class CatchUp(enum.StrEnum):
    SKIP = "skip"
    ONCE = "once"
    EACH = "each"


class CronError(ValueError):
    """A cron setting that cannot be applied; the message says why."""


@dataclasses.dataclass(frozen=True)
class Policy:
    enabled: bool = True
    catch_up: CatchUp = CatchUp.SKIP
    window_seconds: int = DEFAULT_WINDOW_SECONDS


def ticks_to_defer(
    cron: str, last: int | None, now: float, policy: Policy, checked: float | None = None
) -> list[int]:
    """The ticks (Unix seconds) to defer now, oldest first, after the `last` deferred one.

    `checked` is this deferrer's previous pass over the task, if any. Ticks due since then
    were not missed but came while the deferrer was late (a loaded machine): each is
    deferred, as upstream does. Ticks due before it and never deferred were missed (no
    worker ran, or the task was disabled): the catch-up policy decides. A pass longer ago
    than the grace (the process was stopped, not late) counts as no pass.
    """
    if not policy.enabled:
        return []
    if checked is not None and now - checked > GRACE_SECONDS:
        checked = None
    latest = int(croniter(cron, now).get_prev(float))
    if last is not None and latest <= last:
        return []  # nothing missed: the latest tick was deferred
    if checked is None or latest <= checked:
        return _missed(cron, last, now, latest, policy)
    late = _between(cron, checked if last is None else max(checked, last), latest)
    seen = int(croniter(cron, checked).get_prev(float))  # the latest tick due at that pass
    if (last is not None and seen <= last) or (late and policy.catch_up is CatchUp.SKIP):
        return late[-MAX_CATCH_UP_TICKS:]
    return (_missed(cron, last, now, seen, policy) + late)[-MAX_CATCH_UP_TICKS:]


def _between(cron: str, after: float, until: int) -> list[int]:
    """The ticks after `after`, up to and including `until`."""
    ticks = croniter(cron, after)
    found: list[int] = []
    while (tick := int(ticks.get_next(float))) <= until:
        found.append(tick)
    return found


def _missed(cron: str, last: int | None, now: float, latest: int, policy: Policy) -> list[int]:
    """What the policy defers of the ticks after `last` up to `latest`, seen at `now`."""
    if last is None:
        return [latest] if now - latest <= GRACE_SECONDS else []
    if policy.catch_up is CatchUp.EACH:
        # Only ticks inside the window matter: start there, not at a months-old `last`.
        start = max(last, now - max(policy.window_seconds, GRACE_SECONDS))
        return _between(cron, start, latest)[-MAX_CATCH_UP_TICKS:]
    limit = GRACE_SECONDS if policy.catch_up is CatchUp.SKIP else policy.window_seconds
    return [latest] if now - latest <= max(limit, GRACE_SECONDS) else []


# ---------------------------------------------------------------- operators' side


def key_of(periodic: PeriodicTask[Any, Any, Any]) -> str:
    return f"{periodic.task.name}:{periodic.periodic_id}"


def find(app: App, key: str) -> PeriodicTask[Any, Any, Any]:
    app.perform_import_paths()
    for periodic in app.periodic_registry.periodic_tasks.values():
        if key_of(periodic) == key:
            return periodic
    raise CronError(f"no cron task {key!r} (see `hiring-jobs schedule`)")


def set_enabled(session: Session, app: App, key: str, enabled: bool, *, by: str) -> None:
    periodic = find(app, key)
    _upsert(session, periodic, by=by, enabled=enabled)
    audit.record(
        session, actor=by, action="periodic.enable" if enabled else "periodic.disable", target=key
    )


def set_catch_up(
    session: Session,
    app: App,
    key: str,
    catch_up: str,
    *,
    by: str,
    window_seconds: int | None = None,
) -> None:
    periodic = find(app, key)
    try:
        policy = CatchUp(catch_up)
    except ValueError:
        raise CronError("catch-up must be skip, once or each") from None
    window = DEFAULT_WINDOW_SECONDS if window_seconds is None else window_seconds
    if not 60 <= window <= MAX_WINDOW_SECONDS:
        raise CronError(f"the window must be from 60 to {MAX_WINDOW_SECONDS} seconds")
    _upsert(session, periodic, by=by, catch_up=policy.value, window_seconds=window)
    audit.record(
        session,
        actor=by,
        action="periodic.catch_up",
        target=key,
        details={"catch_up": policy.value, "window_seconds": window},
    )


def _upsert(
    session: Session, periodic: PeriodicTask[Any, Any, Any], *, by: str, **values: Any
) -> None:
    statement = insert(PeriodicSetting).values(
        task_name=periodic.task.name, periodic_id=periodic.periodic_id, updated_by=by, **values
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["task_name", "periodic_id"],
            set_={**values, "updated_by": by, "updated_at": text("now()")},
        )
    )


def policies(session: Session) -> dict[tuple[str, str], Policy]:
    return {
        (row.task_name, row.periodic_id): Policy(
            row.enabled, CatchUp(row.catch_up), row.window_seconds
        )
        for row in session.query(PeriodicSetting)
    }


# ---------------------------------------------------------------- workers' side


class ControlledPeriodicDeferrer(PeriodicDeferrer):
    """Procrastinate's periodic deferrer, deciding from the database and the settings.

    Deferring itself is upstream's (`defer_jobs`: the task's options, the `timestamp`
    argument, `procrastinate_defer_periodic_job_v2`); only which ticks is decided here.
    """

    def __init__(self, registry: PeriodicRegistry, **kwargs: Any) -> None:
        super().__init__(registry, **kwargs)
        self._connection: psycopg.AsyncConnection[Any] | None = None
        # When this deferrer last looked at each task: ticks due since came while it was
        # late, and are each deferred whatever the catch-up policy (ticks_to_defer).
        self._checked: dict[tuple[str, str], float] = {}

    async def worker(self) -> None:
        if not self.registry.periodic_tasks:
            return
        try:
            while True:
                try:
                    await self.defer_due(time.time())
                except Exception as exc:  # never stop the worker: the next pass retries
                    logger.warning("periodic deferrer: %s", exc)
                    await self._close()
                next_tick = self.get_next_tick(at=time.time())
                await self.wait(next_tick=min(next_tick, SETTINGS_POLL_SECONDS))
        finally:
            await self._close()

    async def defer_due(self, now: float) -> list[tuple[str, int]]:
        """Defer every due tick of every enabled task; returns (key, tick) deferred."""
        connection = await self._connect()
        settings = {
            (row[0], row[1]): Policy(row[2], CatchUp(row[3]), row[4])
            for row in await (await connection.execute(QUEUE["cron_settings"])).fetchall()
        }
        last = {
            (row[0], row[1]): row[2]
            for row in await (await connection.execute(QUEUE["cron_last_defers"])).fetchall()
        }
        deferred = []
        for key, periodic in self.registry.periodic_tasks.items():
            policy = settings.get(key, Policy())
            checked = self._checked.get(key)
            if ticks_to_defer(periodic.cron, last.get(key), now, policy, checked):
                ticks = await self._defer_locked(connection, periodic, now, policy, checked)
                deferred += [(key_of(periodic), tick) for tick in ticks]
            self._checked[key] = now
        return deferred

    async def _defer_locked(
        self,
        connection: psycopg.AsyncConnection[Any],
        periodic: PeriodicTask[Any, Any, Any],
        now: float,
        policy: Policy,
        checked: float | None,
    ) -> list[int]:
        lock = f"hiring_jobs.periodic:{key_of(periodic)}"
        await connection.execute(QUEUE["cron_lock"], {"lock": lock})
        try:
            # Read again under the lock: another worker may have just deferred.
            params = {"task_name": periodic.task.name, "periodic_id": periodic.periodic_id}
            row = await (await connection.execute(QUEUE["cron_last_defer"], params)).fetchone()
            ticks = ticks_to_defer(periodic.cron, row[0] if row else None, now, policy, checked)
            if len(ticks) > 1 or (ticks and now - ticks[-1] > GRACE_SECONDS):
                logger.info(
                    "periodic %s: catching up %d missed ticks (%s)",
                    key_of(periodic),
                    len(ticks),
                    policy.catch_up.value,
                )
            await self.defer_jobs(_at(periodic, ticks))
            return ticks
        finally:
            await connection.execute(QUEUE["cron_unlock"], {"lock": lock})

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        if self._connection is None or self._connection.closed:
            url = db.libpq_url(db.database_url())
            self._connection = await psycopg.AsyncConnection.connect(url, autocommit=True)
        return self._connection

    async def _close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._connection.close())
            self._connection = None


def _at(
    periodic: PeriodicTask[Any, Any, Any], ticks: Iterable[int]
) -> list[tuple[PeriodicTask[Any, Any, Any], int]]:
    return [(periodic, tick) for tick in ticks]
