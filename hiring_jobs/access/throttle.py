"""Failed logins per account and per client address, with an exponential lockout.

Counters live in PostgreSQL (`login_throttle`), so every web process shares them. A key
may fail FREE_FAILURES times; each failure after that locks it for twice as long as the
one before (1 s, 2 s, 4 s ... up to MAX_LOCK_SECONDS). While a key is locked its
credentials are not even checked: a locked request costs one indexed read and no
password hash. A successful login clears its account's counter (not its address's: one
valid account must not reset the count of guesses made from the same place). Counters
start again a day after their last failure.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

FREE_FAILURES = 5
MAX_LOCK_SECONDS = 900
FORGET_AFTER_SECONDS = 86_400
KEY_LENGTH = 200


def account_key(username: str) -> str:
    return f"account:{username}"[:KEY_LENGTH]


def address_key(address: str) -> str:
    return f"address:{address}"[:KEY_LENGTH]


def locked_for(session: Session, keys: Sequence[str]) -> float:
    """Seconds until none of `keys` is locked any more (0: go ahead)."""
    seconds = session.scalar(
        text(
            "SELECT EXTRACT(EPOCH FROM max(locked_until) - now()) FROM login_throttle"
            " WHERE key = ANY(CAST(:keys AS text[])) AND locked_until > now()"
        ),
        {"keys": list(keys)},
    )
    return float(seconds or 0.0)


# The failure count after this one: it starts again once the last failure is old enough.
_FAILURES = (
    "CASE WHEN t.last_failure_at < now() - make_interval(secs => :forget)"
    " THEN 1 ELSE t.failures + 1 END"
)
_RECORD_FAILURE = f"""
INSERT INTO login_throttle AS t (key, failures, last_failure_at, locked_until)
SELECT key, 1, now(), NULL FROM unnest(CAST(:keys AS text[])) AS key
ON CONFLICT (key) DO UPDATE SET
    failures = {_FAILURES},
    last_failure_at = now(),
    locked_until = CASE WHEN {_FAILURES} > :free THEN now() + make_interval(
        secs => least(:max_lock, power(2, {_FAILURES} - :free - 1))) END
RETURNING EXTRACT(EPOCH FROM coalesce(locked_until - now(), interval '0'))
"""


def record_failure(session: Session, keys: Sequence[str]) -> float:
    """Count one failure against every key; returns the longest lock now in force."""
    _forget_old(session)
    locks = session.scalars(
        text(_RECORD_FAILURE),
        {
            "keys": list(keys),
            "forget": FORGET_AFTER_SECONDS,
            "free": FREE_FAILURES,
            "max_lock": MAX_LOCK_SECONDS,
        },
    ).all()
    return float(max(locks, default=0.0))


def clear(session: Session, keys: Sequence[str]) -> None:
    session.execute(
        text("DELETE FROM login_throttle WHERE key = ANY(CAST(:keys AS text[]))"),
        {"keys": list(keys)},
    )


def _forget_old(session: Session) -> None:
    session.execute(
        text(
            "DELETE FROM login_throttle WHERE last_failure_at < now() - make_interval(secs =>"
            " :forget) AND (locked_until IS NULL OR locked_until < now())"
        ),
        {"forget": FORGET_AFTER_SECONDS},
    )
