"""The coalescer behind batched finishes and attempt writes: what is submitted while a
statement is in flight goes in the next one; nothing waits for a batch to fill."""

from __future__ import annotations

import asyncio

import pytest

from hiring_jobs.queue.coalesce import Coalescer


class Recorder:
    """Fake statements: records each call; `many` fails when a batch holds a bad item."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[int]]] = []
        self.gate: asyncio.Event | None = None

    async def one(self, item: int) -> int:
        self.calls.append(("one", [item]))
        await asyncio.sleep(0)
        if item < 0:
            raise ValueError(f"bad {item}")
        return item * 10

    async def many(self, items: list[int]) -> list[int]:
        self.calls.append(("many", list(items)))
        if self.gate is not None:
            await self.gate.wait()
        if any(item < 0 for item in items):
            raise ValueError("a bad item in the batch")
        return [item * 10 for item in items]

    def coalescer(self, max_batch: int = 1000) -> Coalescer[int, int]:
        return Coalescer(one=self.one, many=self.many, name="test", max_batch=max_batch)


def test_one_item_alone_runs_the_one_item_statement_at_once() -> None:
    recorder = Recorder()

    async def main() -> int:
        return await recorder.coalescer().submit(4)

    assert asyncio.run(main()) == 40
    assert recorder.calls == [("one", [4])]


def test_items_submitted_together_go_in_one_statement_each_getting_its_result() -> None:
    recorder = Recorder()

    async def main() -> list[int]:
        coalescer = recorder.coalescer()
        return await asyncio.gather(*(coalescer.submit(n) for n in range(1, 6)))

    assert asyncio.run(main()) == [10, 20, 30, 40, 50]
    assert recorder.calls == [("many", [1, 2, 3, 4, 5])]


def test_items_arriving_while_a_statement_runs_go_in_the_next_one() -> None:
    recorder = Recorder()

    async def main() -> list[int]:
        coalescer = recorder.coalescer(max_batch=3)
        recorder.gate = asyncio.Event()
        first = [asyncio.create_task(coalescer.submit(n)) for n in (1, 2)]
        await asyncio.sleep(0.01)  # the first batch is in flight, held at the gate
        later = [asyncio.create_task(coalescer.submit(n)) for n in (3, 4, 5, 6)]
        await asyncio.sleep(0.01)
        recorder.gate.set()
        return await asyncio.gather(*first, *later)

    assert asyncio.run(main()) == [10, 20, 30, 40, 50, 60]
    # No timer, no waiting to fill: [1, 2] left alone; the rest split by max_batch.
    assert recorder.calls == [("many", [1, 2]), ("many", [3, 4, 5]), ("one", [6])]


def test_a_failing_batch_falls_back_to_one_by_one() -> None:
    recorder = Recorder()

    async def main() -> list[int | BaseException]:
        coalescer = recorder.coalescer()
        return await asyncio.gather(
            *(coalescer.submit(n) for n in (1, -2, 3)), return_exceptions=True
        )

    first, bad, third = asyncio.run(main())
    assert (first, third) == (10, 30)
    assert isinstance(bad, ValueError) and str(bad) == "bad -2"
    assert recorder.calls == [("many", [1, -2, 3]), ("one", [1]), ("one", [-2]), ("one", [3])]


def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    recorder = Recorder()

    async def main() -> list[int]:
        coalescer = recorder.coalescer()
        recorder.gate = asyncio.Event()
        tasks = [asyncio.create_task(coalescer.submit(n)) for n in (1, 2, 3)]
        await asyncio.sleep(0.01)
        tasks[1].cancel()
        recorder.gate.set()
        with pytest.raises(asyncio.CancelledError):
            await tasks[1]
        return [await tasks[0], await tasks[2]]

    assert asyncio.run(main()) == [10, 30]
