"""Named queues and priorities. Workers can be pointed at a subset of queues."""

from __future__ import annotations

import enum


class Queue(enum.StrEnum):
    EMAIL = "email"
    RESUME = "resume"
    NOTIFICATIONS = "notifications"
    RECOMMENDATIONS = "recommendations"
    ANALYTICS = "analytics"
    DOCUMENTS = "documents"
    MAINTENANCE = "maintenance"
    DEFAULT = "default"


class Priority(enum.IntEnum):
    """Procrastinate runs higher numbers first within the queues a worker listens to."""

    URGENT = 100  # a person is waiting on it: password reset, verification email
    HIGH = 50  # user-facing results: resume parsing, application status emails
    NORMAL = 0
    LOW = -50  # reports, cleanup, recomputations nobody is waiting for


ALL_QUEUES: tuple[str, ...] = tuple(queue.value for queue in Queue)
