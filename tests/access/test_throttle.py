"""Failed-login counters in PostgreSQL: free attempts, then doubling lockouts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, update
from sqlalchemy.orm import Session

from hiring_jobs.access import throttle
from hiring_jobs.models import LoginThrottle

KEY = throttle.account_key("maria")


def fail(session: Session, times: int, keys: list[str] | None = None) -> float:
    lock = 0.0
    for _ in range(times):
        lock = throttle.record_failure(session, keys or [KEY])
    return lock


def test_the_first_failures_are_free(session: Session) -> None:
    assert fail(session, throttle.FREE_FAILURES) == 0
    assert throttle.locked_for(session, [KEY]) == 0


@pytest.mark.parametrize(("failures", "seconds"), [(6, 1), (7, 2), (8, 4), (12, 64), (30, 900)])
def test_each_failure_after_them_doubles_the_lock(
    session: Session, failures: int, seconds: int
) -> None:
    assert fail(session, failures) == pytest.approx(seconds, abs=0.5)
    assert throttle.locked_for(session, [KEY, throttle.address_key("10.0.0.1")]) == pytest.approx(
        seconds, abs=0.5
    )


def test_a_lock_ends_by_itself_and_a_success_clears_the_count(session: Session) -> None:
    fail(session, 8)
    session.execute(update(LoginThrottle).values(locked_until=func.now()))
    assert throttle.locked_for(session, [KEY]) == 0
    throttle.clear(session, [KEY])
    assert fail(session, 1) == 0


def test_counts_start_again_a_day_after_the_last_failure(session: Session) -> None:
    fail(session, 10)
    yesterday = datetime.now(UTC) - timedelta(days=1, minutes=1)
    session.execute(update(LoginThrottle).values(last_failure_at=yesterday, locked_until=None))
    assert fail(session, 1) == 0
    assert session.get(LoginThrottle, KEY).failures == 1  # type: ignore[union-attr]


def test_every_key_counts_on_its_own(session: Session) -> None:
    address = throttle.address_key("10.0.0.1")
    fail(session, 6, [KEY, address])
    fail(session, 2, [address])
    assert throttle.locked_for(session, [KEY]) == pytest.approx(1, abs=0.5)
    assert throttle.locked_for(session, [address]) == pytest.approx(4, abs=0.5)
    assert throttle.locked_for(session, [throttle.account_key("other")]) == 0
