"""Per-queue slots: how `--queues` reads, and how slots are counted."""

from __future__ import annotations

import pytest

from hiring_jobs.queue import slots
from hiring_jobs.queue.slots import DEFAULT_SLOTS, QueueSlots, QueueSpecError, SlotCounter


def test_no_queues_means_every_queue_with_its_default_slots() -> None:
    parsed = slots.parse("")
    assert dict(parsed.named) == dict(DEFAULT_SLOTS)
    assert parsed.other == slots.DEFAULT_OTHER_SLOTS and parsed.listens_to_all


def test_named_queues_with_and_without_numbers() -> None:
    parsed = slots.parse("resume=2, email=8,notifications", concurrency=3)
    assert parsed.named == (("resume", 2), ("email", 8), ("notifications", 3))
    assert parsed.other == 0 and not parsed.listens_to_all
    assert parsed.total == 13


def test_star_shares_slots_between_every_other_queue() -> None:
    parsed = slots.parse("resume=1,*=5")
    assert parsed.bucket_of("resume") == "resume"
    assert parsed.bucket_of("custom") == parsed.bucket_of("email") == "*"
    assert parsed.limits() == {"resume": 1, "*": 5}


@pytest.mark.parametrize("raw", ["resume=0", "resume=x", "resume=²", "=3", "email=5000"])
def test_bad_specs_are_clear_errors(raw: str) -> None:
    with pytest.raises(QueueSpecError):
        slots.parse(raw)


def test_a_counter_frees_slots_per_queue_and_says_when_a_full_queue_opens() -> None:
    counter = SlotCounter(QueueSlots(named=(("resume", 1),), other=2))
    counter.take("resume")
    counter.take("email")
    assert counter.free() == {"resume": 0, "*": 1}
    assert counter.release("resume") is True, "resume was full"
    assert counter.release("email") is False
