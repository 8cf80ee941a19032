"""The retry policy: full-jitter exponential backoff with a cap, transient errors only."""

from __future__ import annotations

import pytest
from procrastinate.jobs import Job

from hiring_jobs.queue import retry
from hiring_jobs.queue.retry import PermanentError, RetryPolicy


def _job(attempts: int) -> Job:
    return Job(
        id=1,
        queue="default",
        lock=None,
        queueing_lock=None,
        task_name="t",
        task_kwargs={},
        attempts=attempts,
    )


def test_delays_stay_within_the_doubling_ceiling_and_the_cap() -> None:
    policy = RetryPolicy(base_seconds=60, cap_seconds=600)
    for retries_so_far, ceiling in [(0, 60), (1, 120), (2, 240), (3, 480), (4, 600), (9, 600)]:
        delays = [policy.delay_seconds(retries_so_far) for _ in range(200)]
        assert all(0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling * 0.5, "jitter spreads over the whole range"


def test_transient_errors_retry_until_max_retries() -> None:
    policy = RetryPolicy(max_retries=3)
    assert policy.get_retry_decision(exception=ConnectionError(), job=_job(0)) is not None
    assert policy.get_retry_decision(exception=ConnectionError(), job=_job(2)) is not None
    assert policy.get_retry_decision(exception=ConnectionError(), job=_job(3)) is None


@pytest.mark.parametrize("error", [PermanentError("bad input"), TypeError("unexpected kwarg")])
def test_permanent_errors_fail_at_once(error: Exception) -> None:
    assert RetryPolicy().get_retry_decision(exception=error, job=_job(0)) is None


def test_family_policies_follow_the_seeds() -> None:
    assert (retry.EMAIL.max_retries, retry.FILES.max_retries, retry.DEFAULT.max_retries) == (
        5,
        3,
        3,
    )
    assert (retry.DEFAULT.base_seconds, retry.DEFAULT.cap_seconds) == (60, 600)
