"""Our JobManager: where both worker loops (Procrastinate's and ours) fetch, finish and heartbeat.

Three promises are kept here, for the stock `procrastinate ... worker` as for ours:

- **Leases.** Every heartbeat renews the worker's lease; `lease_expired` tells a worker
  that it went LEASE_HEARTBEATS heartbeats without a renewal, so it must stop its running
  jobs (queue/execution.py does) before the rescue, which waits STALLED_HEARTBEATS
  heartbeats of silence (settings.stalled_after_seconds), may hand them to another worker.
  The lease is measured from the moment a renewal was *sent*, so it always ends before the
  heartbeat that the database recorded plus the same time. Renewals (and registration)
  are committed durably even on worker connections, whose other commits are asynchronous
  (hiring_jobs/app.py): a renewal acknowledged and then lost in a crash would leave the
  database with an older heartbeat than the one the lease counts from.
- **Fencing.** A job is finished, retried or aborted only while it is still `doing` under
  this worker: a worker that lost its jobs to the rescue can never overwrite the outcome
  of a newer run. A finish is one UPDATE whose WHERE clause is the fence (and which lets
  go of the worker: see `finish_owned_jobs`); a retry row-locks, then calls
  Procrastinate's own SQL function.
- **Poison rows end.** A fetched job whose arguments are not a JSON object, or whose task
  is unknown or empty, cannot run: it is failed at once, with an attempt row that says
  why, and the next job is fetched. Procrastinate would raise before any middleware and
  leave it `doing` for as long as the worker lives.

Where this goes around Procrastinate: it overrides public JobManager methods, restates
`procrastinate_finish_job_v1` as a set-based fenced UPDATE, calls
`procrastinate_retry_job_v2` under a row lock, and calls the registration and heartbeat
functions in statements of its own (hiring_jobs/sql/queue.sql);
tests/queue/test_manager.py fails when an upgrade changes any of these functions.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from procrastinate import jobs, manager, utils

from hiring_jobs.queue.attempts import HOSTNAME, fingerprint
from hiring_jobs.sql import QUEUE

if TYPE_CHECKING:
    from procrastinate import App

logger = logging.getLogger(__name__)

# A worker that could not renew its heartbeat for this many intervals stops its jobs.
LEASE_HEARTBEATS = 2.0

# Procrastinate's registration and heartbeat, committed durably (hiring_jobs/sql/queue.sql).
REGISTER_WORKER = QUEUE["register_worker"]
RENEW_LEASE = QUEUE["renew_lease"]

# Fenced finish and retry: hiring_jobs/sql/queue.sql.
FINISH_OWNED_JOBS = QUEUE["finish_owned_jobs"]
DELETE_OWNED_JOBS = QUEUE["delete_owned_jobs"]
RETRY_OWNED_JOB = QUEUE["retry_owned_job"]

# What procrastinate_finish_job_v1 accepts, and so what finish_owned_jobs writes.
END_STATUSES = frozenset({"succeeded", "failed", "aborted"})

# What a worker does with "a job was inserted" needs only its type (it wakes the fetch).
INSERTED = '"job_inserted"'
JOB_INSERTED: jobs.Notification = {"type": "job_inserted", "job_id": 0}

RECORD_REJECTED_ATTEMPT = QUEUE["record_rejected_attempt"]
REJECTED = "hiring_jobs.queue.manager.UnrunnableJob"


class QueueJobManager(manager.JobManager):
    def __init__(self, connector: Any, app: App) -> None:
        super().__init__(connector)
        self.app = app
        self._renewed: dict[int, float] = {}

    # --- leases ------------------------------------------------------------------------

    async def register_worker(self) -> int:
        sent = time.monotonic()
        row = await self.connector.execute_query_one_async(REGISTER_WORKER)  # type: ignore[arg-type]
        worker_id = int(row["worker_id"])
        self._renewed[worker_id] = sent
        return worker_id

    async def update_heartbeat(self, worker_id: int) -> None:
        sent = time.monotonic()
        await self.connector.execute_query_async(RENEW_LEASE, worker_id=worker_id)  # type: ignore[arg-type]
        self._renewed[worker_id] = sent

    async def unregister_worker(self, worker_id: int) -> None:
        await super().unregister_worker(worker_id)
        self._renewed.pop(worker_id, None)

    def lease_expired(self, worker_id: int, heartbeat_seconds: float) -> bool:
        renewed = self._renewed.get(worker_id)
        if renewed is None:
            return False  # registered by another manager: nothing known here
        return time.monotonic() - renewed > LEASE_HEARTBEATS * heartbeat_seconds

    # --- poison rows -------------------------------------------------------------------

    async def fetch_job(self, queues: Iterable[str] | None, worker_id: int) -> jobs.Job | None:
        while True:
            job = await super().fetch_job(queues=queues, worker_id=worker_id)
            if job is None or not await self.reject_if_unrunnable(job, worker_id=worker_id):
                return job

    def unrunnable_reason(self, job: jobs.Job) -> str | None:
        if not job.task_name:
            return "the job has no task name"
        if job.task_name not in self.app.tasks:
            return f"no task named {job.task_name!r} is registered on this worker"
        if not isinstance(job.task_kwargs, dict):
            kind = type(job.task_kwargs).__name__
            return f"job arguments must be a JSON object, got {kind}: {job.task_kwargs!r:.200}"
        return None

    async def reject_if_unrunnable(
        self, job: jobs.Job, *, worker_id: int, worker_name: str | None = None
    ) -> bool:
        """Fail a job that cannot run, with its attempt row; True if it was one."""
        reason = self.unrunnable_reason(job)
        if reason is None:
            return False
        assert job.id is not None
        logger.error("job %s failed without running: %s", job.id, reason)
        finished = await self._finish_owned([job.id], ["failed"], worker_id, delete_job=False)
        if finished:
            await self.connector.execute_query_async(
                RECORD_REJECTED_ATTEMPT,  # type: ignore[arg-type]
                job_id=job.id,
                attempt=job.attempts + 1,
                worker_id=worker_id,
                task_name=job.task_name or "",
                queue=job.queue,
                exception_type=REJECTED,
                error_message=reason,
                error_fingerprint=fingerprint(REJECTED, reason),
                worker_name=worker_name,
                hostname=HOSTNAME,
                pid=os.getpid(),
            )
        return True

    # --- notifications -----------------------------------------------------------------

    async def listen_for_jobs(
        self,
        *,
        on_notification: manager.NotificationCallback,
        queues: Iterable[str] | None = None,
    ) -> None:
        """Upstream's, without parsing the message of a job inserted (one per job, to
        every worker process) or building a DEBUG record for it (hiring_jobs/app.py)."""

        async def handle_notification(channel: str, payload: str) -> None:
            notification = JOB_INSERTED if INSERTED in payload else json.loads(payload)
            await on_notification(channel=channel, notification=notification)

        await self.connector.listen_notify(
            on_notification=handle_notification,
            channels=manager.get_channel_for_queues(queues=queues),
        )

    # --- fencing -----------------------------------------------------------------------

    async def finish_job(self, job: jobs.Job, status: jobs.Status, delete_job: bool) -> None:
        assert job.id is not None and job.worker_id is not None
        await self._finish_owned([job.id], [status.value], job.worker_id, delete_job=delete_job)

    async def finish_owned_jobs(self, finished: list[tuple[int, str]], worker_id: int) -> set[int]:
        """Finish several jobs of one worker in one statement; returns those finished."""
        return await self._finish_owned(
            [job_id for job_id, _ in finished],
            [status for _, status in finished],
            worker_id,
            delete_job=False,
        )

    async def _finish_owned(
        self, ids: list[int], statuses: list[str], worker_id: int, *, delete_job: bool
    ) -> set[int]:
        if not END_STATUSES.issuperset(statuses):
            raise ValueError(f"a job ends succeeded, failed or aborted, not {statuses}")
        if delete_job:
            rows = await self.connector.execute_query_all_async(
                DELETE_OWNED_JOBS,  # type: ignore[arg-type]
                ids=ids,
                worker_id=worker_id,
            )
        else:
            rows = await self.connector.execute_query_all_async(
                FINISH_OWNED_JOBS,  # type: ignore[arg-type]
                ids=ids,
                statuses=statuses,
                worker_id=worker_id,
            )
        done = {int(row["id"]) for row in rows}
        for job_id in set(ids) - done:
            logger.warning(
                "job %s is no longer this worker's (rescued after a lost lease?):"
                " its outcome is not recorded",
                job_id,
            )
        return done

    async def retry_job(
        self,
        job: jobs.Job,
        retry_at: datetime.datetime | None = None,
        priority: int | None = None,
        queue: str | None = None,
        lock: str | None = None,
    ) -> None:
        assert job.id is not None and job.worker_id is not None
        rows = await self.connector.execute_query_all_async(
            RETRY_OWNED_JOB,  # type: ignore[arg-type]
            job_id=job.id,
            worker_id=job.worker_id,
            retry_at=retry_at or utils.utcnow(),
            priority=priority,
            queue=queue,
            lock=lock,
        )
        if not rows:
            logger.warning(
                "job %s is no longer this worker's (rescued after a lost lease?):"
                " its retry is not recorded",
                job.id,
            )


def install(app: App) -> QueueJobManager:
    """Make `app` fetch, finish and heartbeat through QueueJobManager."""
    job_manager = QueueJobManager(app.connector, app)
    app.job_manager = job_manager
    return job_manager
