"""The retry policy: exponential backoff with full jitter and a cap, transient errors only.

Delay before retry n (n = 0 for the first retry) is uniform(0, min(cap, base * 2**n)),
AWS's "full jitter": retries of jobs that failed together (an SMTP outage) spread out
instead of coming back as one wave. Procrastinate's own RetryStrategy has no jitter.
"""

from __future__ import annotations

import dataclasses
import random

import psycopg
import sqlalchemy.exc
from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.jobs import Job

from hiring_jobs.queue.rate_limit import RateLimited


class PermanentError(Exception):
    """Retrying cannot help (bad input, a refusal such as SMTP 5xx): fail at once."""


# Errors that mean bad input, not a passing problem: arguments that do not fit the task
# (TypeError), or values the database refuses (DataError: "abc" for an integer column).
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    PermanentError,
    TypeError,
    psycopg.DataError,
    sqlalchemy.exc.DataError,
)


@dataclasses.dataclass(frozen=True)
class RetryPolicy(BaseRetryStrategy):
    # Retries after the first run, as Celery counts them: max_retries=3 means 4 runs.
    max_retries: int = 3
    base_seconds: float = 60.0
    cap_seconds: float = 600.0
    permanent: tuple[type[BaseException], ...] = PERMANENT_ERRORS

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, RateLimited):
            # Not a failure: come back when the next slot is free, whatever the count.
            return RetryDecision(retry_in={"seconds": exception.retry_in + random.uniform(0, 1)})
        if isinstance(exception, self.permanent) or job.attempts >= self.max_retries:
            return None
        return RetryDecision(retry_in={"seconds": self.delay_seconds(job.attempts)})

    def delay_seconds(self, retries_so_far: int) -> float:
        ceiling = min(self.cap_seconds, self.base_seconds * 2**retries_so_far)
        return random.uniform(0, ceiling)


# Per-family policies (seeds: email 5 retries, files 3, everything else 3).
DEFAULT = RetryPolicy(max_retries=3)
EMAIL = RetryPolicy(max_retries=5)
FILES = RetryPolicy(max_retries=3)
# Housekeeping that runs again on its own schedule within seconds: a retry adds nothing.
NEVER = RetryPolicy(max_retries=0)
