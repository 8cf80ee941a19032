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

from sqlalchemy.orm import Session

from hiring_jobs.sql import ACCESS, run

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
    seconds = run(session, ACCESS["throttle_locked_for"], {"keys": list(keys)}).scalar()
    return float(seconds or 0.0)


def record_failure(session: Session, keys: Sequence[str]) -> float:
    """Count one failure against every key; returns the longest lock now in force."""
    _forget_old(session)
    locks = (
        run(
            session,
            ACCESS["throttle_record_failure"],
            {
                "keys": list(keys),
                "forget": FORGET_AFTER_SECONDS,
                "free": FREE_FAILURES,
                "max_lock": MAX_LOCK_SECONDS,
            },
        )
        .scalars()
        .all()
    )
    return float(max(locks, default=0.0))


def clear(session: Session, keys: Sequence[str]) -> None:
    run(session, ACCESS["throttle_clear"], {"keys": list(keys)})


def _forget_old(session: Session) -> None:
    run(session, ACCESS["throttle_forget"], {"forget": FORGET_AFTER_SECONDS})
