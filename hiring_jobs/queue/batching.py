"""Batched fetch and finish for worker processes (HIRING_JOBS_WORKER_BATCH above 1).

Procrastinate's worker fetches one job per statement, in a serial loop, and finishes each
job with a statement of its own. `BatchingWorker` fetches as many jobs as it has free
slots (at most the batch size) in one statement, with the same selection as
`procrastinate_fetch_job_v2` (queues, schedule, priority then id, locks, SKIP LOCKED),
and finishes together the jobs that end while a finish statement is in flight
(queue/coalesce.py). Nothing waits to fill a batch: batches only form under load, so
latency does not grow, and a worker still never holds more jobs than it can run at once.

Where this goes around Procrastinate (pinned to 3.10 in pyproject.toml), and why:
- it overrides two private methods of `procrastinate.worker.Worker`:
  `_fetch_and_process_jobs` (the loop, same semaphore and job start as upstream) and
  `_persist_job_status` (plain finishes only; retries and deletions stay upstream's);
- it inlines the fetch query with a LIMIT (upstream's SQL function returns one row), its
  lock rule rewritten in an equivalent form that keeps a backlog from making each fetch
  read every waiting job (see FETCH_JOBS), and calls upstream's
  `procrastinate_finish_job_v1` once per job of a batch, in one statement.
The schema, the job states and the events written are exactly Procrastinate's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Any

from procrastinate import job_context, jobs, retry, sql, utils
from procrastinate.connector import BaseAsyncConnector
from procrastinate.worker import Worker

from hiring_jobs.queue.coalesce import MAX_BATCH, Coalescer

logger = logging.getLogger(__name__)

# procrastinate_fetch_job_v2 (sql/schema.sql of 3.10) with LIMIT n instead of 1, and its
# lock rule written `lock IS NULL OR NOT EXISTS (...)` (the same rule): upstream's form lets
# the planner turn it into an anti-join that, with a backlog, reads every waiting job for
# each candidate (13 ms per fetch with 10,000 waiting and statistics from a big history).
FETCH_JOBS = """
WITH candidate AS MATERIALIZED (
    SELECT jobs.id
      FROM procrastinate_jobs AS jobs
     WHERE jobs.status = 'todo'
       AND (%(queues)s::varchar[] IS NULL OR jobs.queue_name = ANY(%(queues)s::varchar[]))
       AND (jobs.scheduled_at IS NULL OR jobs.scheduled_at <= now())
       AND (jobs.lock IS NULL
            OR NOT EXISTS (
                   SELECT 1
                     FROM procrastinate_jobs AS other_jobs
                    WHERE other_jobs.lock = jobs.lock
                      AND (other_jobs.status = 'doing'
                           OR (other_jobs.status = 'todo'
                               AND (other_jobs.priority > jobs.priority
                                    OR (other_jobs.priority = jobs.priority
                                        AND other_jobs.id < jobs.id))))))
     ORDER BY jobs.priority DESC, jobs.id ASC
     LIMIT %(limit)s
       FOR UPDATE OF jobs SKIP LOCKED
)
UPDATE procrastinate_jobs
   SET status = 'doing', worker_id = %(worker_id)s
  FROM candidate
 WHERE procrastinate_jobs.id = candidate.id
RETURNING procrastinate_jobs.*
"""

FINISH_JOBS = """
SELECT procrastinate_finish_job_v1(finished.id, finished.status, false)
  FROM unnest(%(ids)s::bigint[], %(statuses)s::procrastinate_job_status[])
       AS finished(id, status)
"""


def make_worker(app: Any, *, batch_size: int, **worker_args: Any) -> Worker:
    if batch_size <= 1:
        return Worker(app=app, **worker_args)
    return BatchingWorker(app=app, batch_size=batch_size, **worker_args)


async def fetch_jobs(
    connector: BaseAsyncConnector, queues: Iterable[str] | None, worker_id: int, limit: int
) -> list[jobs.Job]:
    """Mark up to `limit` runnable jobs `doing` for this worker, in one statement."""
    rows = await connector.execute_query_all_async(
        FETCH_JOBS,  # type: ignore[arg-type]
        queues=list(queues) if queues is not None else None,
        worker_id=worker_id,
        limit=limit,
    )
    # RETURNING has no order: start them as upstream would have fetched them.
    rows.sort(key=lambda row: (-row["priority"], row["id"]))
    return [jobs.Job.from_row(row) for row in rows]


class BatchingWorker(Worker):
    def __init__(self, *args: Any, batch_size: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batch_size = batch_size
        self._finisher = Finisher(self.app.connector)  # type: ignore[arg-type]

    async def _fetch_and_process_jobs(self) -> None:
        """Upstream's loop, fetching one slot's job plus one per other free slot."""
        while not self._stop_event.is_set():
            acquire = asyncio.create_task(self._job_semaphore.acquire())
            slots = 0
            fetched: list[jobs.Job] = []
            try:
                await utils.wait_any(acquire, self._stop_event.wait())
                if acquire.done() and not acquire.cancelled():
                    slots = 1
                if self._stop_event.is_set():
                    break
                slots += await self._take_free_slots(self.batch_size - 1)
                assert self.worker_id is not None
                fetched = await fetch_jobs(
                    self.app.connector,  # type: ignore[arg-type]
                    self.queues,
                    self.worker_id,
                    slots,
                )
            finally:
                for _ in range(slots - len(fetched)):
                    self._job_semaphore.release()
                self._new_job_event.clear()
            if not fetched:
                break
            for job in fetched:
                self._start_job(job)

    async def _take_free_slots(self, wanted: int) -> int:
        taken = 0
        while taken < wanted and not self._job_semaphore.locked():
            await self._job_semaphore.acquire()  # free: returns without waiting
            taken += 1
        return taken

    def _start_job(self, job: jobs.Job) -> None:
        """As upstream's loop body: a context and a task per job, the slot freed at its end."""
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

    def _on_job_complete(self, task: asyncio.Task[Any]) -> None:
        del self._running_jobs[task]
        self._job_semaphore.release()

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
        assert job.id is not None
        await self._finisher.finish(job.id, status)
        self._job_ids_to_abort.pop(job.id, None)


class Finisher:
    """Finishes jobs in batches: those that end while a statement runs go in the next one.

    One job finishing alone runs upstream's own statement; a batch statement that fails (a
    job no longer `doing`, say) is retried job by job, so each job gets its own outcome,
    exactly as with one statement per job.
    """

    def __init__(self, connector: BaseAsyncConnector, max_batch: int = MAX_BATCH) -> None:
        self._connector = connector
        self._coalescer: Coalescer[tuple[int, str], None] = Coalescer(
            one=self._finish_one, many=self._finish_many, name="finish jobs", max_batch=max_batch
        )

    async def finish(self, job_id: int, status: jobs.Status) -> None:
        await self._coalescer.submit((job_id, status.value))

    async def _finish_one(self, job: tuple[int, str]) -> None:
        job_id, status = job
        await self._connector.execute_query_async(
            sql.queries["finish_job"], job_id=job_id, status=status, delete_job=False
        )

    async def _finish_many(self, batch: list[tuple[int, str]]) -> list[None]:
        await self._connector.execute_query_async(
            FINISH_JOBS,  # type: ignore[arg-type]
            ids=[job_id for job_id, _ in batch],
            statuses=[status for _, status in batch],
        )
        return [None] * len(batch)
