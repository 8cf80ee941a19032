"""Run-time control of queues: pause, resume and change a queue's slots without a restart.

Operators write `queue_settings` rows (fleet-wide, or for one worker process) and send a
NOTIFY on CONTROL_CHANNEL in the same transaction: it is delivered at commit. Every worker
process keeps a connection listening on that channel and re-reads its settings on each
notification, and every POLL_SECONDS anyway (a missed notification, a lost connection).
A paused queue gets no free slot, so nothing new starts; running jobs finish. A changed
limit changes that queue's slot capacity (queue/slots.py SlotCounter).

Precedence for a worker process: a queue is paused if it is paused fleet-wide or for that
worker; its slots are the worker's own setting, else the fleet-wide one, else what the
worker was started with. A limit applies to a bucket of the worker's slots: a queue named
in `--queues`, or `*` (the slots shared by every other queue).

Each worker process also reports what it applies now on its `worker_processes` row
(written by queue/registration.py): `hiring-jobs queues` and the pages show which live
workers serve a queue and whether a change has reached them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import psycopg
from procrastinate.connector import BaseAsyncConnector
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from hiring_jobs import audit, db
from hiring_jobs.models.control import FLEET, QueueSetting
from hiring_jobs.queue import registration
from hiring_jobs.queue.queues import ALL_QUEUES
from hiring_jobs.queue.slots import OTHER_QUEUES, QueueSlots, SlotCounter
from hiring_jobs.sql import QUEUE, run

logger = logging.getLogger(__name__)

CONTROL_CHANNEL = "hiring_jobs_queue_control"
# The fallback: settings are re-read this often even without a notification.
POLL_SECONDS = 2.0
MAX_RECONNECT_SECONDS = 5.0
MAX_SLOTS = 1000
# A worker process whose Procrastinate heartbeat is older than this is not serving.
LIVE_WITHIN_SECONDS = 30.0


class ControlError(ValueError):
    """A control request that cannot be applied; the message says why."""


class Change(Protocol):
    """pause, resume, or a limit bound to its slots: what the pages and the API call."""

    def __call__(self, session: Session, queue: str, *, by: str, worker: str | None) -> None: ...


# ---------------------------------------------------------------- operators' side


def pause(session: Session, queue: str, *, by: str, worker: str | None = None) -> None:
    _change(session, queue, worker, by=by, action="queue.pause", paused=True)


def resume(session: Session, queue: str, *, by: str, worker: str | None = None) -> None:
    _change(session, queue, worker, by=by, action="queue.resume", paused=False)


def set_limit(
    session: Session, queue: str, slots: int | None, *, by: str, worker: str | None = None
) -> None:
    """Slots per worker process for `queue`; None goes back to what workers were started with."""
    if slots is not None and not 0 <= slots <= MAX_SLOTS:
        raise ControlError(f"slots must be a whole number from 0 to {MAX_SLOTS}")
    _change(session, queue, worker, by=by, action="queue.limit", concurrency=slots)


def _change(
    session: Session, queue: str, worker: str | None, *, by: str, action: str, **values: Any
) -> None:
    """Upsert the setting, audit it and notify the workers: all in the caller's transaction."""
    _check_queue(session, queue)
    scope = _check_worker(session, worker)
    statement = insert(QueueSetting).values(
        queue_name=queue, worker_name=scope, updated_by=by, **{"paused": False, **values}
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["queue_name", "worker_name"],
            set_={**values, "updated_by": by, "updated_at": text("now()")},
        )
    )
    audit.record(
        session,
        actor=by,
        action=action,
        target=f"queue {queue}" + (f" on worker {scope}" if scope else ""),
        details={"queue": queue, "worker": scope or None, **values},
    )
    run(session, QUEUE["notify_queue_control"], {"channel": CONTROL_CHANNEL, "queue": queue})


def _check_queue(session: Session, queue: str) -> None:
    if queue in ALL_QUEUES or queue == OTHER_QUEUES:
        return
    if not run(session, QUEUE["queue_has_jobs"], {"queue": queue}).scalar():
        raise ControlError(
            f"unknown queue {queue!r}: known are {', '.join(ALL_QUEUES)}, '*' (the slots"
            " shared by queues a worker does not name) and any queue that has jobs"
        )


def live_workers(session: Session) -> list[Any]:
    """The worker processes whose Procrastinate heartbeat is recent, with what they apply."""
    params = {"live_seconds": LIVE_WITHIN_SECONDS}
    return list(run(session, QUEUE["live_workers"], params))


def _check_worker(session: Session, worker: str | None) -> str:
    if not worker:
        return FLEET
    params = {"name": worker, "live_seconds": LIVE_WITHIN_SECONDS}
    if not run(session, QUEUE["live_worker_named"], params).scalar():
        raise ControlError(
            f"no live worker process named {worker!r} (see `hiring-jobs queues`; a worker's"
            " name changes when it restarts)"
        )
    return worker


def unreported_live_workers(session: Session) -> int:
    """Live workers with no worker_processes row (still starting): what they serve is
    unknown."""
    params = {"live_seconds": LIVE_WITHIN_SECONDS}
    return int(run(session, QUEUE["unreported_live_workers"], params).scalar() or 0)


@dataclasses.dataclass(frozen=True)
class WorkerLine:
    """One live worker process as it serves one queue."""

    worker_name: str
    hostname: str
    pid: int
    slots: int  # the slots it applies to this queue's bucket now
    bucket: str  # the queue itself, or "*" (shared by every queue it does not name)
    paused: bool
    override_paused: bool | None = None  # its own setting, if any
    override_slots: int | None = None


@dataclasses.dataclass(frozen=True)
class QueueState:
    name: str
    paused: bool  # fleet-wide
    limit: int | None  # fleet-wide slots per worker process; None: as started
    waiting: int  # ready or scheduled, capped at COUNT_CAP + 1
    running: int
    workers: list[WorkerLine]
    updated_by: str | None = None

    @property
    def serving(self) -> list[WorkerLine]:
        """Live workers that would start this queue's jobs now."""
        return [w for w in self.workers if not w.paused and w.slots > 0]

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "serving": len(self.serving)}


COUNT_CAP = 10_000


def queue_states(session: Session, only: str | None = None) -> list[QueueState]:
    """Every known queue (and any other that has jobs or settings): settings, counts and
    the live workers serving it, as they report it."""
    settings = list(session.query(QueueSetting))
    names = set(ALL_QUEUES) | set(run(session, QUEUE["queue_names"]).scalars())
    names |= {s.queue_name for s in settings if s.queue_name != OTHER_QUEUES}
    if only is not None:
        _check_queue(session, only)
        names = {only}
    params = {"names": sorted(names), "cap": COUNT_CAP + 1}
    counts = {row.name: row for row in run(session, QUEUE["queue_counts"], params)}
    workers = [dict(row._mapping) for row in live_workers(session)]
    fleet = {s.queue_name: s for s in settings if s.worker_name == FLEET}
    own = {(s.queue_name, s.worker_name): s for s in settings if s.worker_name != FLEET}
    states = []
    for name in sorted(names):
        setting = fleet.get(name)
        states.append(
            QueueState(
                name=name,
                paused=bool(setting and setting.paused),
                limit=setting.concurrency if setting else None,
                waiting=counts[name].waiting,
                running=counts[name].running,
                workers=_serving(name, workers, own),
                updated_by=setting.updated_by if setting else None,
            )
        )
    return states


def _serving(
    queue: str, workers: Iterable[Mapping[str, Any]], own: Mapping[tuple[str, str], QueueSetting]
) -> list[WorkerLine]:
    lines = []
    for worker in workers:
        applied: dict[str, int] = worker["applied"]
        bucket = queue if queue in applied else OTHER_QUEUES
        if bucket not in applied:
            continue  # it neither names this queue nor serves other queues
        setting = own.get((queue, worker["worker_name"]))
        lines.append(
            WorkerLine(
                worker_name=worker["worker_name"],
                hostname=worker["hostname"],
                pid=worker["pid"],
                slots=applied[bucket],
                bucket=bucket,
                paused=queue in worker["paused"]
                or (bucket == OTHER_QUEUES and OTHER_QUEUES in worker["paused"]),
                override_paused=setting.paused if setting else None,
                override_slots=setting.concurrency if setting else None,
            )
        )
    return sorted(lines, key=lambda line: line.worker_name)


# ---------------------------------------------------------------- workers' side


@dataclasses.dataclass(frozen=True)
class Applied:
    """What one worker process applies: slots per bucket, and the queues it holds paused."""

    slots: dict[str, int]
    paused: frozenset[str]


def resolve(slots: QueueSlots, worker_name: str, rows: Iterable[Mapping[str, Any]]) -> Applied:
    """The settings that apply to this worker (see the module's docstring for precedence)."""
    fleet = {r["queue_name"]: r for r in rows if r["worker_name"] == FLEET}
    own = {r["queue_name"]: r for r in rows if r["worker_name"] == worker_name != FLEET}
    paused = frozenset(
        queue
        for queue in set(fleet) | set(own)
        if (fleet.get(queue) or {}).get("paused") or (own.get(queue) or {}).get("paused")
    )
    applied = {}
    for bucket, configured in slots.limits().items():
        chosen = [r["concurrency"] for r in (own.get(bucket), fleet.get(bucket)) if r]
        applied[bucket] = next((n for n in chosen if n is not None), configured)
    return Applied(slots=applied, paused=paused)


class QueueControl:
    """One worker process's view of the queue settings, kept current by LISTEN and polling.

    `free()` is what the fetch may take per queue: the slot counter's free slots, 0 for a
    paused queue (a paused queue the worker does not name is listed with 0, which keeps it
    out of the shared `*` fetch).
    """

    def __init__(self, slots: QueueSlots, counter: SlotCounter, wake: Callable[[], None]) -> None:
        self.slots = slots
        self.counter = counter
        self.wake = wake
        self.applied = Applied(slots=slots.limits(), paused=frozenset())
        # Set once the settings were first read: nothing is fetched before (a queue paused
        # while no worker ran stays paused when one starts).
        self.loaded = asyncio.Event()

    def free(self) -> dict[str, int]:
        free = self.counter.free()
        for queue in self.applied.paused:
            free[queue] = 0
        return free

    def apply(self, applied: Applied) -> None:
        """Take new settings; wake the fetch loop if a queue may start more jobs now."""
        more = bool(self.applied.paused - applied.paused)
        for bucket, slots in applied.slots.items():
            more |= self.counter.set_capacity(bucket, slots)
        if applied != self.applied:
            logger.info(
                "queue control: slots %s, paused %s",
                ",".join(f"{b}={n}" for b, n in applied.slots.items()),
                ",".join(sorted(applied.paused)) or "none",
            )
        self.applied = applied
        self.loaded.set()
        if more:
            self.wake()

    async def refresh(
        self, connector: BaseAsyncConnector, worker_id: int | None, worker_name: str
    ) -> None:
        """Read this worker's settings, apply them, and report what it applies now."""
        rows = await connector.execute_query_all_async(
            QUEUE["queue_settings_of_worker"],  # type: ignore[arg-type]
            worker_name=worker_name,
        )
        self.apply(resolve(self.slots, worker_name, rows))
        if worker_id is not None:
            await registration.report_applied(
                connector,
                worker_id,
                worker_name,
                self.slots,
                self.applied.slots,
                self.applied.paused,
            )

    async def watch(
        self, connector: BaseAsyncConnector, worker_id: Callable[[], int | None], worker_name: str
    ) -> None:
        """Until cancelled: refresh on every notification and every POLL_SECONDS. Never
        raises (a failing side task would stop the worker): without the database, it
        retries with backoff and the settings last read stay in force."""
        delay = 0.5
        try:
            while True:
                try:
                    await self._listen(connector, worker_id, worker_name)
                except Exception as exc:  # whatever it is, the worker must go on
                    logger.warning("queue control: %s; retrying in %.1f s", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, MAX_RECONNECT_SECONDS)
                    with contextlib.suppress(Exception):
                        await self.refresh(connector, worker_id(), worker_name)
                        delay = 0.5
        except asyncio.CancelledError:
            await self._forget(connector, worker_id())
            raise

    async def _listen(
        self, connector: BaseAsyncConnector, worker_id: Callable[[], int | None], worker_name: str
    ) -> None:
        url = db.libpq_url(db.database_url())
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as listener:
            await listener.execute(f"LISTEN {CONTROL_CHANNEL}")
            while True:
                # Read after LISTEN: nothing changed between the read and the first wait
                # goes unseen.
                await self.refresh(connector, worker_id(), worker_name)
                async for _ in listener.notifies(timeout=POLL_SECONDS, stop_after=1):
                    pass

    async def _forget(self, connector: BaseAsyncConnector, worker_id: int | None) -> None:
        if worker_id is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                registration.forget(connector, worker_id),
                timeout=2,
            )
