"""Batched fetch and finish for worker processes (HIRING_JOBS_WORKER_BATCH above 1).

Procrastinate's worker fetches one job per statement, in a serial loop, with one pool of
slots for every queue, and finishes each job with a statement of its own. `BatchingWorker`
gives each queue its own slots (queue/slots.py) and fetches, in one statement, as many jobs
of each queue as that queue has free slots (at most the batch size), with the same
selection as `procrastinate_fetch_job_v2` (schedule, priority then id, locks, SKIP
LOCKED); it finishes together the jobs that end while a finish statement is in flight
(queue/coalesce.py). Nothing waits to fill a batch: batches only form under load, so
latency does not grow, and a worker never holds more jobs than it can run at once.

Keys (queue/keys.py): the fetch also keeps each key within its max_running and rate and
takes jobs round-robin across keys (fetch_jobs); while no keyed job waits in its buckets, a
worker runs the cheaper statement from before keys (fetch_jobs_unkeyed). A rate-limited
key's next token gets a timer; a keyed job's end sends the notification that wakes workers.

Where this goes around Procrastinate (pinned to 3.10 in pyproject.toml), and why:
- it overrides private methods of `procrastinate.worker.Worker`: `_fetch_and_process_jobs`
  (the loop, with per-queue slots instead of one semaphore), `_shutdown` (the heartbeat
  lives until the last job ended), `_persist_job_status` (plain finishes only, fenced;
  retries and deletions go through the JobManager, fenced too: queue/manager.py),
  `_log_extra` (not built for the per-job lines logged at DEBUG) and
  `_handle_notification` (a job inserted makes the shared bucket's queues due for a new
  probe: queue/waiting_queues.py);
- it inlines the fetch query with per-queue LIMITs (upstream's SQL function returns one
  row), its lock rule rewritten in an equivalent form that keeps a backlog from making
  each fetch read every waiting job (see FETCH_JOBS).
The schema, the job states and the events written are exactly Procrastinate's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from procrastinate import job_context, jobs, retry, utils
from procrastinate.connector import BaseAsyncConnector
from procrastinate.worker import Worker

from hiring_jobs.logs import JOB_START_ACTION
from hiring_jobs.queue import keys
from hiring_jobs.queue.coalesce import MAX_BATCH, Coalescer
from hiring_jobs.queue.control import QueueControl
from hiring_jobs.queue.cron import ControlledPeriodicDeferrer
from hiring_jobs.queue.manager import QueueJobManager
from hiring_jobs.queue.slots import OTHER_QUEUES, QueueSlots, SlotCounter
from hiring_jobs.queue.waiting_queues import WaitingQueues, probe
from hiring_jobs.sql import QUEUE

logger = logging.getLogger(__name__)

# procrastinate_fetch_job_v2 (sql/schema.sql of 3.10) with LIMIT n instead of 1, per
# queue, and its lock rule written `lock IS NULL OR NOT EXISTS (...)` (the same rule):
# upstream's form lets the planner turn it into an anti-join that, with a backlog, reads
# every waiting job for each candidate.
#
# One statement for every queue with free slots. Each queue is read in the order of the
# index hj_jobs_queue_fetch (queue_name, priority DESC, id WHERE todo) and stops at its
# free slots, so a fetch costs the same with 100 or 100,000 jobs waiting. The `*` bucket
# (every queue not named, sharing its slots) is read the same way, queue by queue: its
# waiting queues come as a parameter (queue/waiting_queues.py), each gives its first
# `other_free` jobs, and the best of those by priority then id win. A single scan over
# "every queue but these" was planned as read-and-sort-every-waiting-job (the lock rule's
# estimate defeats the ordered index scan): 40-55 ms per fetch with 100,000 waiting,
# against 1.2 ms this way. The final UPDATE takes its row versions as an array, a TID
# lookup whatever the estimates of the LIMITs (which come from columns).
FETCH_JOBS = QUEUE["fetch_jobs"]  # hiring_jobs/sql/queue.sql
# The same for unkeyed jobs only, while no keyed job waits in the worker's buckets: the
# key machinery's plan costs about 1 ms a call even with nothing keyed waiting.
FETCH_UNKEYED_JOBS = QUEUE["fetch_jobs_unkeyed"]
NEXT_KEY_TOKEN = QUEUE["next_key_token"]
# While nothing keyed waits, the full fetch still runs this often (under a load that keeps
# the unkeyed-only fetch busy, a keyed job waits at most this long to be seen).
KEYED_CHECK_SECONDS = 1.0
# Wake a little after a key's next token is due, so that the fetch finds it there.
TOKEN_MARGIN_SECONDS = 0.02
# Upstream's per-job lines logged at DEBUG (hiring_jobs/logs.py): their extra is not built.
QUIET_ACTIONS = frozenset({"loaded_job_info", JOB_START_ACTION})
# Under a backlog, the longest a freed slot waits for others before a fetch refills it.
FETCH_COOLDOWN_SECONDS = 0.005


def make_worker(app: Any, *, slots: QueueSlots, batch_size: int, **worker_args: Any) -> Worker:
    """A worker with per-queue slots, fetching up to `batch_size` jobs per statement."""
    return BatchingWorker(
        app=app,
        slots=slots,
        batch_size=batch_size,
        queues=None if slots.listens_to_all else slots.queue_names,
        concurrency=slots.total,
        **worker_args,
    )


async def fetch_jobs(
    connector: BaseAsyncConnector, free: Mapping[str, int], worker_id: int
) -> list[jobs.Job]:
    """Mark runnable jobs `doing` for this worker, at most `free[queue]` per queue, in one
    statement; `free["*"]` is for every queue not named (every queue the worker serves
    must be named, with 0 when it has no free slot)."""
    fetched, _ = await fetch(connector, free, worker_id, keyed=True)
    return fetched


async def fetch(
    connector: BaseAsyncConnector,
    free: Mapping[str, int],
    worker_id: int,
    *,
    keyed: bool,
    other_queues: list[str] | None = None,
) -> tuple[list[jobs.Job], bool]:
    """`fetch_jobs` (`keyed`) or its unkeyed-only form; and whether the next fetch must be
    keyed: keyed jobs wait in these buckets (fetch_jobs says), or nothing was fetched.

    `other_queues`: the queues `free["*"]` is for (queue/waiting_queues.py); probed
    first if not given."""
    named = {queue: n for queue, n in free.items() if queue != OTHER_QUEUES}
    other_free = free.get(OTHER_QUEUES, 0)
    if other_queues is None:
        other_queues = await probe(connector, list(named)) if other_free else []
    rows = await connector.execute_query_all_async(
        FETCH_JOBS if keyed else FETCH_UNKEYED_JOBS,  # type: ignore[arg-type]
        queues=list(named),
        free=list(named.values()),
        other_queues=other_queues,
        other_free=other_free,
        worker_id=worker_id,
    )
    keyed_waiting = any(row["keyed_waiting"] for row in rows) if keyed and rows else not rows
    # RETURNING has no order: start them as upstream would have fetched them.
    rows.sort(key=lambda row: (-row["priority"], row["id"]))
    return [jobs.Job.from_row(row) for row in rows], keyed_waiting


def backlogged_buckets(
    fetched: list[jobs.Job], asked: Mapping[str, int], slots: QueueSlots
) -> frozenset[str]:
    """The buckets that got every job they asked for: more are probably waiting."""
    got: dict[str, int] = {}
    for job in fetched:
        bucket = slots.bucket_of(job.queue)
        got[bucket] = got.get(bucket, 0) + 1
    return frozenset(b for b, n in got.items() if n >= asked.get(b, 0))


class BatchingWorker(Worker):
    """Procrastinate's worker with per-queue slots, batched fetch and finish, and a
    heartbeat (the lease) kept until the last running job has ended."""

    def __init__(self, *args: Any, slots: QueueSlots, batch_size: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slots = slots
        self.batch_size = batch_size
        self._counter = SlotCounter(slots)
        self._slot_freed = asyncio.Event()
        # Pause and slots changed at run time: paused queues get no free slot.
        self._control = QueueControl(slots, self._counter, wake=self._new_job_event.set)
        self._finisher = Finisher(self.app.job_manager)  # type: ignore[arg-type]
        self._ended = 0  # jobs ended so far: tells the fetch loop one ended meanwhile
        # Jobs with a Procrastinate `lock` ended so far: the next job of that lock may run
        # now, and no notification says so.
        self._locks_released = 0
        self._keyed_rates = keys.has_rates()
        # Whether keyed jobs wait in this worker's buckets: the full fetch then, the
        # unkeyed-only one otherwise (checked by a full fetch at least every second, and
        # when the unkeyed-only one finds nothing). Keyed until a full fetch says otherwise.
        self._keyed = True
        self._keyed_checked_at = 0.0
        self._fetched_keyed = True  # the last fetch was the full one
        self._token_timer: asyncio.TimerHandle | None = None
        # Buckets whose last fetch filled every free slot it asked for (a backlog).
        self._backlogged: frozenset[str] = frozenset()
        self._fetched_at = 0.0
        # The queues of the `*` bucket with jobs waiting, probed apart from the fetch.
        self._waiting = WaitingQueues(slots.queue_names)
        self._probe_timer: asyncio.TimerHandle | None = None

    async def _fetch_and_process_jobs(self) -> None:
        """Fetch for every queue with free slots until nothing more can start now."""
        if not self._control.loaded.is_set():
            await utils.wait_any(self._control.loaded.wait(), self._stop_event.wait())
        while not self._stop_event.is_set():
            # Cleared before the free slots are read: a job ending from here on wakes us.
            self._new_job_event.clear()
            ended_before, released_before = self._ended, self._locks_released
            await self._let_slots_gather()
            free = {q: min(n, self.batch_size) for q, n in self._control.free().items()}
            self._fetched_keyed = True
            fetched = await self._fetch(free) if any(free.values()) else []
            self._backlogged = backlogged_buckets(fetched, free, self.slots)
            self._fetched_at = time.monotonic()
            for job in fetched:
                await self._start_or_reject(job)
            if self._worth_fetching_again(
                fetched,
                ended=self._ended != ended_before,
                lock_released=self._locks_released != released_before,
            ):
                continue
            if self._keyed_rates and any(free.values()):
                await self._wake_for_next_token()
                if self._ended != ended_before:
                    continue  # a job ended while we asked: what follows assumes none did
            if self.wait or all(free.values()) or not self._running_jobs:
                # Upstream's outer loop waits for a notification, the polling interval
                # or a finishing job of a full queue (_on_job_complete). Nothing running:
                # no slot will free (a paused queue has none), so idle means done.
                break
            # Running until idle: jobs may wait for a slot of a full queue.
            await utils.wait_any(self._slot_freed.wait(), self._stop_event.wait())
            self._slot_freed.clear()

    def _worth_fetching_again(
        self, fetched: list[jobs.Job], *, ended: bool, lock_released: bool
    ) -> bool:
        """Whether to fetch again at once rather than wait for news (a notification, a
        job of a full queue ending, the polling interval); `ended`, `lock_released`: a
        job ended during the fetch, one with a lock.

        A bucket that got fewer jobs than it asked for has nothing more waiting; fetching
        it again before news came only finds nothing (0.7 empty fetches per useful one).
        """
        if not self.wait and (fetched or ended):
            return True  # running until idle (wait=False): idle is finding nothing
        if self._new_job_event.is_set() or lock_released:
            # News during the fetch, which may not have seen it: a job inserted (or a key
            # freed, queue/keys.py), a job of a full queue ended, a lock let go.
            return True
        if not self._fetched_keyed and not fetched:
            return True  # an unkeyed-only fetch found nothing: keyed jobs may wait
        free = self._control.free()
        # More are waiting where the last fetch got all it asked for.
        return any(free.get(bucket, 0) > 0 for bucket in self._backlogged)

    async def _let_slots_gather(self) -> None:
        """Under a backlog, refill slots in batches rather than one by one.

        A bucket whose last fetch got every job it asked for has more waiting; its short
        jobs end one at a time, and fetching for each freed slot costs a statement (and a
        WAL flush: the fetch commits durably) per job. While every such bucket has fewer
        than half its slots free, wait for more to free, at most FETCH_COOLDOWN_SECONDS
        after the last fetch (River's fetch cooldown). Only under a backlog: a job
        arriving at an idle or partly busy queue is fetched at once.
        """
        if not self._backlogged:
            return
        deadline = self._fetched_at + FETCH_COOLDOWN_SECONDS
        while not self._stop_event.is_set() and self._slots_scarce():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._slot_freed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    utils.wait_any(self._slot_freed.wait(), self._stop_event.wait()), remaining
                )

    def _slots_scarce(self) -> bool:
        free = self._control.free()
        capacity = self._counter.capacity()
        return all(2 * free[b] < capacity[b] for b in self._backlogged if b in free)

    async def _periodic_deferrer(self) -> None:
        """Cron ticks decided from the database and the run-time settings (queue/cron.py)."""
        deferrer = ControlledPeriodicDeferrer(
            registry=self.app.periodic_registry, **self.app.periodic_defaults
        )
        await deferrer.worker()

    def _start_side_tasks(self) -> list[asyncio.Task[Any]]:
        watch = self._control.watch(self.app.connector, lambda: self.worker_id, self.worker_name)
        return [*super()._start_side_tasks(), asyncio.create_task(watch, name="queue_control")]

    async def _fetch(self, free: dict[str, int]) -> list[jobs.Job]:
        assert self.worker_id is not None
        now = time.monotonic()
        keyed = self._keyed or now - self._keyed_checked_at >= KEYED_CHECK_SECONDS
        if keyed:
            self._keyed_checked_at = now
        self._fetched_keyed = keyed
        fetched, self._keyed = await fetch(
            self.app.connector,  # type: ignore[arg-type]
            free,
            self.worker_id,
            keyed=keyed,
            other_queues=await self._other_queues(free),
        )
        return fetched

    async def _other_queues(self, free: dict[str, int]) -> list[str]:
        """The `*` bucket's queues with jobs waiting, as last probed (queue/waiting_queues.py).

        Running until idle (wait=False) probes before every fetch: idle is finding
        nothing, and a job may have put work in a queue no notification named."""
        if not free.get(OTHER_QUEUES):
            return []
        queues = await self._waiting.current(self.app.connector, fresh=not self.wait)  # type: ignore[arg-type]
        due = self._waiting.probe_due_in()
        if due and self._probe_timer is None:
            # A job was inserted within the cooldown: fetch again once it is over.
            self._probe_timer = asyncio.get_running_loop().call_later(due, self._probe_due)
        return queues

    def _probe_due(self) -> None:
        self._probe_timer = None
        self._new_job_event.set()

    async def _handle_notification(self, *, channel: str, notification: jobs.Notification) -> None:
        if notification["type"] == "job_inserted":
            self._waiting.note_insert()
        await super()._handle_notification(channel=channel, notification=notification)

    async def _start_or_reject(self, job: jobs.Job) -> None:
        manager = self.app.job_manager
        assert self.worker_id is not None
        if isinstance(manager, QueueJobManager) and await manager.reject_if_unrunnable(
            job, worker_id=self.worker_id, worker_name=self.worker_name
        ):
            return
        self._start_job(job)

    def _start_job(self, job: jobs.Job) -> None:
        """As upstream's loop body: a context and a task per job, its slot freed at its end."""
        self._counter.take(job.queue)
        context = job_context.JobContext(
            app=self.app,
            worker_name=self.worker_name,
            worker_queues=self.queues,
            additional_context=self.additional_context.copy() if self.additional_context else {},
            job=job,
            abort_reason=lambda job_id=job.id: (
                self._job_ids_to_abort.get(job_id) if job_id else None
            ),
            start_timestamp=time.time(),
        )
        task = asyncio.create_task(
            self._process_job(context), name=f"process job {job.task_name}[{job.id}]"
        )
        self._running_jobs[task] = context
        task.add_done_callback(self._on_job_complete)

    async def _wake_for_next_token(self) -> None:
        """Fetch again when the next token of a rate-limited key with jobs waiting is due:
        a job held by its key's rate gets no notification (queue/keys.py)."""
        row = await self.app.connector.execute_query_one_async(NEXT_KEY_TOKEN)  # type: ignore[arg-type]
        seconds = row["seconds"] if row else None
        if seconds is None:
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + float(seconds) + TOKEN_MARGIN_SECONDS
        if self._token_timer is not None and not self._token_timer.cancelled():
            if self._token_timer.when() <= due and self._token_timer.when() > loop.time():
                return  # an earlier wake-up is already set
            self._token_timer.cancel()
        self._token_timer = loop.call_at(due, self._new_job_event.set)

    def _on_job_complete(self, task: asyncio.Task[Any]) -> None:
        context = self._running_jobs.pop(task)
        self._ended += 1
        if context.job.lock is not None:
            self._locks_released += 1
        self._slot_freed.set()
        if self._counter.release(context.job.queue):
            self._new_job_event.set()  # that queue was full: its waiting jobs can start

    async def _shutdown(self, side_tasks: list[asyncio.Task[Any]]) -> None:
        """Upstream's shutdown, but the heartbeat (the lease) lives while jobs still run:
        a worker stopping after a database blip must not look dead while it finishes."""
        heartbeat = [task for task in side_tasks if task.get_name() == "update_heartbeats"]
        if self._running_jobs and heartbeat and not heartbeat[0].done():
            await utils.cancel_and_capture_errors(
                [task for task in side_tasks if task not in heartbeat]
            )
            side_tasks = heartbeat
            if self._running_jobs:  # they may have ended meanwhile
                await asyncio.wait(self._running_jobs, timeout=self.shutdown_graceful_timeout)
            if self._running_jobs:
                logger.info(
                    "%d jobs still running after the graceful timeout: aborting them",
                    len(self._running_jobs),
                )
                await self._abort_running_jobs()
        await super()._shutdown(side_tasks)

    def _log_extra(
        self,
        action: str,
        context: job_context.JobContext | None,
        job_result: job_context.JobResult | None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Upstream's, but not built for the two lines per job that nobody will read:
        its start lines are DEBUG (hiring_jobs/logs.py), and the job's dict costs."""
        if action in QUIET_ACTIONS and not self.logger.isEnabledFor(logging.DEBUG):
            return {"action": action}
        return super()._log_extra(action, context, job_result, **kwargs)

    def stop_now(self) -> None:
        """A second stop signal: stop every running job now (children killed, async jobs
        cancelled, threads abandoned); each is recorded as aborted and retried."""
        self.stop()
        for task, context in list(self._running_jobs.items()):
            self._abort_job(task, context, job_context.AbortReason.SHUTDOWN)

    async def _persist_job_status(
        self,
        job: jobs.Job,
        status: jobs.Status,
        retry_decision: retry.RetryDecision | None,
        context: job_context.JobContext,
        job_result: job_context.JobResult | None,
    ) -> None:
        if retry_decision or self.delete_jobs != jobs.DeleteJobCondition.NEVER:
            await super()._persist_job_status(job, status, retry_decision, context, job_result)
            return
        assert job.id is not None and job.worker_id is not None
        await self._finisher.finish(job.id, status, job.worker_id)
        self._job_ids_to_abort.pop(job.id, None)


class Finisher:
    """Finishes jobs in batches: those that end while a statement runs go in the next one.

    Fenced (queue/manager.py): a job is finished only while it is still `doing` under the
    worker that ran it. One job finishing alone is a batch of one; a batch statement that
    fails is retried job by job, so each job gets its own outcome.
    """

    def __init__(self, manager: QueueJobManager, max_batch: int = MAX_BATCH) -> None:
        self._manager = manager
        self._coalescer: Coalescer[tuple[int, str, int], None] = Coalescer(
            one=self._finish_one, many=self._finish_many, name="finish jobs", max_batch=max_batch
        )

    async def finish(self, job_id: int, status: jobs.Status, worker_id: int) -> None:
        await self._coalescer.submit((job_id, status.value, worker_id))

    async def _finish_one(self, job: tuple[int, str, int]) -> None:
        await self._finish_many([job])

    async def _finish_many(self, batch: list[tuple[int, str, int]]) -> list[None]:
        by_worker: dict[int, list[tuple[int, str]]] = {}
        for job_id, status, worker_id in batch:
            by_worker.setdefault(worker_id, []).append((job_id, status))
        for worker_id, finished in by_worker.items():
            await self._manager.finish_owned_jobs(finished, worker_id)
        return [None] * len(batch)
