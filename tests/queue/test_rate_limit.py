"""The email rate limit: a token bucket in PostgreSQL shared by every process."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from procrastinate.jobs import Job
from sqlalchemy import Engine

from hiring_jobs.queue import rate_limit
from hiring_jobs.queue.rate_limit import RateLimited
from hiring_jobs.queue.retry import RetryPolicy


def test_a_burst_is_allowed_then_sends_are_spaced(engine: Engine) -> None:
    # 600 a minute: 10 a second, bursts of 60.
    started = time.monotonic()
    with ThreadPoolExecutor(4) as threads:
        list(threads.map(lambda _: rate_limit.acquire("t", 600, engine=engine), range(80)))
    elapsed = time.monotonic() - started
    # 60 at once, then 20 more at 10 a second: about 2 s, never much less.
    assert 1.8 <= elapsed < 6, elapsed


def test_an_empty_bucket_says_when_the_next_token_comes(engine: Engine) -> None:
    assert rate_limit.try_take(engine, "slow", per_minute=6) == 0.0  # capacity 1
    wait = rate_limit.try_take(engine, "slow", per_minute=6)
    assert 9.0 < wait <= 10.0  # one token per 10 s


def test_a_long_wait_becomes_rate_limited(engine: Engine) -> None:
    rate_limit.acquire("rare", 1, engine=engine)
    with pytest.raises(RateLimited) as raised:
        rate_limit.acquire("rare", 1, engine=engine)
    assert 55 < raised.value.retry_in <= 60


def test_the_retry_policy_reschedules_rate_limited_jobs_without_counting_them() -> None:
    job = Job(
        id=1,
        queue="email",
        lock=None,
        queueing_lock=None,
        task_name="t",
        task_kwargs={},
        attempts=99,
    )
    decision = RetryPolicy(max_retries=5).get_retry_decision(
        exception=RateLimited("email", 30.0), job=job
    )
    assert decision is not None and decision.retry_at is not None
