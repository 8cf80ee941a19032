"""Per-queue slots: each queue a worker process serves has its own concurrency limit.

One pool of slots shared by every queue lets a backlog (or pathological input) in one
queue take every slot: slow PDFs then delay every email. Here each queue gets its own
slots (Oban's queue model): `hiring-jobs worker --queues resume=2,email=8,notifications`
(a queue without a number gets `--concurrency`, or its default below), and `*=N` gives N
slots shared by every queue not named. With no queues given, a worker serves every queue:
the known ones with their defaults, any other queue through the shared `*` slots.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Iterable, Mapping, Sequence

from hiring_jobs.queue.queues import ALL_QUEUES, Queue

OTHER_QUEUES = "*"

# Defaults per worker process. Resume parsing is CPU-bound: one slot per core; the rest is
# mostly waiting on the database or SMTP.
DEFAULT_SLOTS: Mapping[str, int] = {
    Queue.EMAIL: 4,
    Queue.RESUME: max(1, os.cpu_count() or 1),
    Queue.NOTIFICATIONS: 4,
    Queue.RECOMMENDATIONS: 2,
    Queue.ANALYTICS: 2,
    Queue.DOCUMENTS: 2,
    Queue.MAINTENANCE: 2,
    Queue.DEFAULT: 4,
}
DEFAULT_OTHER_SLOTS = 4


class QueueSpecError(ValueError):
    """A `--queues` value that cannot be read."""


@dataclasses.dataclass(frozen=True)
class QueueSlots:
    """Slots per named queue, plus `other` slots shared by every queue not named (0: none)."""

    named: tuple[tuple[str, int], ...]
    other: int = 0

    @property
    def total(self) -> int:
        return sum(slots for _, slots in self.named) + self.other

    @property
    def queue_names(self) -> list[str]:
        return [name for name, _ in self.named]

    @property
    def listens_to_all(self) -> bool:
        return self.other > 0

    @functools.cached_property
    def _named_queues(self) -> frozenset[str]:
        return frozenset(self.queue_names)

    def bucket_of(self, queue: str) -> str:
        """The bucket whose slots a job of `queue` takes (per job: a set lookup)."""
        return queue if queue in self._named_queues else OTHER_QUEUES

    def limits(self) -> dict[str, int]:
        limits = dict(self.named)
        if self.other:
            limits[OTHER_QUEUES] = self.other
        return limits

    def describe(self) -> str:
        return ",".join(f"{name}={slots}" for name, slots in self.limits().items())


def parse(raw: str | Sequence[str], *, concurrency: int | None = None) -> QueueSlots:
    """`resume=2,email,*=4` -> QueueSlots. Empty: every queue with its default slots.

    `concurrency`, when given, is the slot count of every queue not given a number.
    """
    items = [item.strip() for item in (raw.split(",") if isinstance(raw, str) else raw)]
    items = [item for item in items if item]
    if not items:
        return QueueSlots(
            named=tuple((name, concurrency or DEFAULT_SLOTS[name]) for name in ALL_QUEUES),
            other=concurrency or DEFAULT_OTHER_SLOTS,
        )
    named: dict[str, int] = {}
    other = 0
    for item in items:
        name, _, number = item.partition("=")
        name = name.strip()
        slots = _slots(item, number.strip()) if number.strip() else None
        if name == OTHER_QUEUES:
            other = slots or concurrency or DEFAULT_OTHER_SLOTS
        elif name:
            named[name] = slots or concurrency or DEFAULT_SLOTS.get(name, DEFAULT_OTHER_SLOTS)
        else:
            raise QueueSpecError(f"{item!r}: a queue name is missing")
    return QueueSlots(named=tuple(named.items()), other=other)


def _slots(item: str, number: str) -> int:
    if not number.isascii() or not number.isdigit() or not 1 <= int(number) <= 1000:
        raise QueueSpecError(f"{item!r}: slots must be a whole number from 1 to 1000")
    return int(number)


def unknown_queues(slots: QueueSlots, known: Iterable[str] = ALL_QUEUES) -> list[str]:
    return sorted(set(slots.queue_names) - set(known))


class SlotCounter:
    """Free slots per bucket (a named queue, or OTHER_QUEUES) of one worker process.

    Counts running jobs against each bucket's capacity, which can change at run time
    (queue/control.py): lowered below what runs, the bucket has no free slot until enough
    jobs ended; running jobs are never stopped.
    """

    def __init__(self, slots: QueueSlots) -> None:
        self.slots = slots
        self._capacity = slots.limits()
        self._running = dict.fromkeys(self._capacity, 0)

    def free(self) -> dict[str, int]:
        """Free slots of every bucket, 0 included."""
        return {b: max(0, cap - self._running[b]) for b, cap in self._capacity.items()}

    def capacity(self) -> dict[str, int]:
        return dict(self._capacity)

    def take(self, queue: str) -> None:
        self._running[self.slots.bucket_of(queue)] += 1

    def release(self, queue: str) -> bool:
        """Give a slot back; True if its bucket had none free (a fetch may start jobs now)."""
        bucket = self.slots.bucket_of(queue)
        self._running[bucket] -= 1
        return self._capacity[bucket] - self._running[bucket] == 1

    def set_capacity(self, bucket: str, slots: int) -> bool:
        """Change a bucket's capacity; True if it has more free slots than before."""
        before = self.free()[bucket]
        self._capacity[bucket] = slots
        return self.free()[bucket] > before
