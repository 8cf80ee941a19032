"""The queues a worker's shared `*` bucket serves: found by a probe of their own, kept.

A worker serving every queue (slots `*`, queue/slots.py) must know which queues it does
not name have jobs waiting. The fetch used to find them itself, on every call, by
skipping through hj_jobs_queue_fetch. A connection keeps the plan of a statement it
prepared: prepared while the table was empty, that probe read every waiting job through
Procrastinate's queueing-lock index and sorted them, 20-30 ms per fetch with 30,000 jobs
waiting, until the connection was replaced (hiring_jobs/app.py). With a worker's named
queues holding the backlog, it found nothing the fetch could use, at that price.

Now the probe (`waiting_queues` in hiring_jobs/sql/queue.sql) is a statement of its own,
never prepared, so planned for the table as it is. The fetch takes its answer as a
parameter, and the answer is kept:

- at most MAX_AGE_SECONDS: a queue that got jobs without a notification (a retry, a
  job scheduled for later, a worker without LISTEN) is seen within a second;
- until a job is inserted (a notification), then probed again at most every
  COOLDOWN_SECONDS: a job in a queue the worker does not name starts within that of its
  notification, and a stream of inserts costs at most that many probes a second.

A queue in the answer that has emptied since costs the fetch one index probe.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from procrastinate.connector import BaseAsyncConnector

from hiring_jobs.sql import QUEUE

WAITING_QUEUES = QUEUE["waiting_queues"]  # hiring_jobs/sql/queue.sql
MAX_AGE_SECONDS = 1.0
COOLDOWN_SECONDS = 0.05


async def probe(connector: BaseAsyncConnector, named: Sequence[str]) -> list[str]:
    """The queues with jobs waiting (`todo`, due or not) that are not in `named`."""
    # QueueConnector (hiring_jobs/app.py) runs it unprepared; another connector (a test's,
    # upstream's) as it runs every statement.
    execute = getattr(
        connector, "execute_query_all_unprepared_async", connector.execute_query_all_async
    )
    rows = await execute(WAITING_QUEUES, named=list(named))
    return [row["queue_name"] for row in rows]


class WaitingQueues:
    """The last probe's answer for one worker, and when to probe again."""

    def __init__(self, named: Sequence[str], clock: Callable[[], float] = time.monotonic):
        self.named = list(named)
        self.queues: list[str] = []
        self._clock = clock
        self._probed_at: float | None = None
        self._inserted = 0  # job-inserted notifications so far
        self._inserted_at_probe = 0

    def note_insert(self) -> None:
        """A job was inserted, in a queue the notification does not tell."""
        self._inserted += 1

    def probe_due_in(self) -> float | None:
        """Seconds until the answer must be probed again (0: now); None: it holds until
        MAX_AGE_SECONDS, or until a job is inserted."""
        if self._probed_at is None:
            return 0.0
        age = self._clock() - self._probed_at
        if age >= MAX_AGE_SECONDS:
            return 0.0
        if self._inserted != self._inserted_at_probe:
            return max(0.0, COOLDOWN_SECONDS - age)
        return None

    async def current(self, connector: BaseAsyncConnector, *, fresh: bool = False) -> list[str]:
        """The answer, probed again first if due (or if `fresh`)."""
        if fresh or self.probe_due_in() == 0.0:
            inserted, probed_at = self._inserted, self._clock()
            self.queues = await probe(connector, self.named)
            self._probed_at, self._inserted_at_probe = probed_at, inserted
        return self.queues
