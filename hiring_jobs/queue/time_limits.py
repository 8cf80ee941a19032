"""Soft and hard time limits, declared per task (tasks/family.py), enforced by queue/execution.py.

The soft limit gives a task the chance to stop cleanly (SoftTimeLimitExceeded is raised
inside it); at the hard limit the work is stopped for good (HardTimeLimitExceeded), and
the attempt is retried or failed by the task's retry policy like any other error.
"""

from __future__ import annotations

import dataclasses


class SoftTimeLimitExceeded(Exception):
    """Raised inside the task at its soft limit: clean up and stop."""


class HardTimeLimitExceeded(Exception):
    """The task ran past its hard limit and was stopped."""


@dataclasses.dataclass(frozen=True)
class TimeLimits:
    soft_seconds: float
    hard_seconds: float

    def __post_init__(self) -> None:
        if not 0 < self.soft_seconds <= self.hard_seconds:
            raise ValueError("time limits need 0 < soft <= hard")


# Seeds: 240/300 s for ordinary tasks, 540/600 s for long ones (reports, batch work).
DEFAULT = TimeLimits(soft_seconds=240, hard_seconds=300)
LONG = TimeLimits(soft_seconds=540, hard_seconds=600)
