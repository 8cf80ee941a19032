"""Coalesced writes: what is submitted while a statement is in flight goes in the next one.

A worker process runs many jobs at once, and the jobs of one fetched batch start (and,
for short tasks, end) at the same moment: each would write its own row in its own round
trip and commit. A `Coalescer` runs one statement at a time for all its callers; the
items submitted while it runs are written together by the next. Nothing waits for a
batch to fill and there is no timer: an item submitted while nothing is in flight is
written at once, with the one-item statement, so latency does not grow and batches only
form under load. A batch statement that fails is retried item by item, so each caller
gets its own outcome, exactly as with one statement per item.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

MAX_BATCH = 1000

Item = TypeVar("Item")
Result = TypeVar("Result")


class Coalescer(Generic[Item, Result]):
    """`submit(item)` returns what `one(item)` would; several items waiting go to `many`.

    `many(items)` must return one result per item, in the items' order.
    """

    def __init__(
        self,
        *,
        one: Callable[[Item], Awaitable[Result]],
        many: Callable[[list[Item]], Awaitable[list[Result]]],
        name: str,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._one = one
        self._many = many
        self._name = name
        self._max_batch = max_batch
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append((item, future))
        if self._flushing is None or self._flushing.done():
            # A context of its own: the flush serves many callers, not the first one's
            # (its log context, say).
            self._flushing = loop.create_task(
                self._flush(), name=self._name, context=contextvars.Context()
            )
        return await future

    async def _flush(self) -> None:
        batch: list[tuple[Item, asyncio.Future[Result]]] = []
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                if len(batch) == 1:
                    await self._one_by_one(batch)
                    continue
                try:
                    results = await self._many([item for item, _ in batch])
                except Exception:
                    logger.warning("%s: %d together failed; one by one", self._name, len(batch))
                    await self._one_by_one(batch)
                else:
                    for (_, future), result in zip(batch, results, strict=True):
                        _resolve(future, result)
        except BaseException:
            # Cancelled (the loop is closing): nobody must wait forever.
            for _, future in batch + self._pending:
                future.cancel()
            self._pending.clear()
            raise

    async def _one_by_one(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        for item, future in batch:
            try:
                result = await self._one(item)
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                _resolve(future, result)


def _resolve(future: asyncio.Future[Result], result: Result) -> None:
    if not future.done():  # its caller may have been cancelled meanwhile
        future.set_result(result)
