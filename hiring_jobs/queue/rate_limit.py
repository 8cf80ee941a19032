"""Rate limits shared by every worker process and machine: token buckets in PostgreSQL.

Two users: the email limit, taken inside the task (`acquire`), and the rate of a task's key
(queue/keys.py), spent by the worker's fetch itself so that a job over its key's rate is
never fetched (hiring_jobs/sql/queue.sql, fetch_jobs). Both are rows of
`rate_limit_buckets` and both refill the same way; `Rate` says how fast.

A bucket holds up to `capacity` tokens and refills at `per_minute / 60` tokens a second;
each send takes one. Taking a token is one short UPDATE in its own transaction (never
the caller's, whose row lock would then serialise every send until it commits). When the
bucket is empty the caller learns how long until the next token: a short wait is slept
(not polled), a long one becomes RateLimited, which the retry policy turns into a job
scheduled for that moment without counting it as a failure.
"""

from __future__ import annotations

import dataclasses
import random
import time

from sqlalchemy import Engine

from hiring_jobs import db
from hiring_jobs.sql import QUEUE, run

# Waits up to this long are slept in the task; longer ones re-schedule the job.
MAX_SLEEP_SECONDS = 2.0


@dataclasses.dataclass(frozen=True)
class Rate:
    """`count` per `seconds`, in bursts of at most `burst` (default: a tenth of `count`,
    at least 1). Over any window of `seconds`, at most `count + burst` are taken."""

    count: float
    seconds: float
    burst: float | None = None

    @classmethod
    def per_second(cls, count: float, *, burst: float | None = None) -> Rate:
        return cls(count, 1.0, burst)

    @classmethod
    def per_minute(cls, count: float, *, burst: float | None = None) -> Rate:
        return cls(count, 60.0, burst)

    def __post_init__(self) -> None:
        if self.count <= 0 or self.seconds <= 0 or (self.burst is not None and self.burst < 1):
            raise ValueError(f"a rate needs a positive count and period, and burst >= 1: {self}")

    @property
    def tokens_per_second(self) -> float:
        return self.count / self.seconds

    @property
    def capacity(self) -> float:
        return self.burst if self.burst is not None else max(1.0, self.count / 10.0)

    def describe(self) -> str:
        period = {1.0: "s", 60.0: "min", 3600.0: "h"}.get(self.seconds, f"{self.seconds:g} s")
        return f"{self.count:g}/{period}, burst {self.capacity:g}"


class RateLimited(Exception):
    """No token now; the next one comes in `retry_in` seconds."""

    def __init__(self, name: str, retry_in: float) -> None:
        super().__init__(f"rate limit {name!r}: next slot in {retry_in:.1f} s")
        self.name = name
        self.retry_in = retry_in

    def __reduce__(self) -> tuple[type[RateLimited], tuple[str, float]]:
        # Raised in a task's child process and sent back to the worker as itself.
        return (RateLimited, (self.name, self.retry_in))


def try_take(engine: Engine, name: str, per_minute: float) -> float:
    """Take a token if there is one: 0.0. Otherwise the seconds until the next one."""
    rate = Rate.per_minute(per_minute)  # bursts of at most six seconds' worth
    per_second, capacity = rate.tokens_per_second, rate.capacity
    with engine.begin() as conn:  # its own short transaction; the row lock ends here
        params = {"name": name, "capacity": capacity, "per_second": per_second}
        tokens, refill = run(conn, QUEUE["rate_limit_take"], params).one()
        if tokens >= 1.0:
            run(conn, QUEUE["rate_limit_spend"], {"name": name})
            return 0.0
    return (1.0 - tokens) / refill


def acquire(name: str, per_minute: float, *, engine: Engine | None = None) -> None:
    """Return once a token is taken, or raise RateLimited when the wait is long."""
    engine = engine or db.get_engine()
    while True:
        wait = try_take(engine, name, per_minute)
        if wait == 0.0:
            return
        if wait > MAX_SLEEP_SECONDS:
            raise RateLimited(name, wait)
        # Sleep until the token is due (plus a little jitter so sleepers do not collide).
        time.sleep(wait + random.uniform(0, 0.05))
