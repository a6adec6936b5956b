"""Calls made in the same moment answered by one round trip.

A redeploy brings thousands of sockets back within seconds, and each connect and subscribe used
to ask Postgres or Redis on its own: one round trip per socket, each paying the client's fixed
cost. A `Batch` collects the calls awaited during one turn of the event loop and hands them to
one function that answers them all (one query over arrays, one Redis pipeline); each caller
gets its own answer, or the batch's exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_BATCH = 500  # calls per round trip; a busier moment is split into several


class Batch(Generic[T, R]):
    """`await batch(item)` -> `run([..., item, ...])[its index]`, with the other items awaited
    in the same turn of the loop. `run` returns one answer per item, in order."""

    def __init__(self, run: Callable[[list[T]], Awaitable[Sequence[R]]]) -> None:
        self.run = run
        self._items: list[T] = []
        self._waiters: list[asyncio.Future[R]] = []
        self.round_trips = 0

    async def __call__(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        if not self._items:
            loop.call_soon(self._flush)
        fut: asyncio.Future[R] = loop.create_future()
        fut.add_done_callback(_retrieved)  # no "never retrieved" for a caller that gave up
        self._items.append(item)
        self._waiters.append(fut)
        # Shielded: a caller that gives up (its socket went away) leaves the batch intact.
        return await asyncio.shield(fut)

    def _flush(self) -> None:
        while self._items:
            items, waiters = self._items[:MAX_BATCH], self._waiters[:MAX_BATCH]
            del self._items[:MAX_BATCH], self._waiters[:MAX_BATCH]
            task = asyncio.ensure_future(self._answer(items, waiters))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _answer(self, items: list[T], waiters: list[asyncio.Future[R]]) -> None:
        self.round_trips += 1
        try:
            answers = await self.run(items)
            if len(answers) != len(items):
                raise RuntimeError(f"{len(answers)} answers for {len(items)} calls")
        except asyncio.CancelledError:
            for fut in waiters:
                fut.cancel()
            raise
        except Exception as e:
            for fut in waiters:
                if not fut.done():
                    fut.set_exception(e)
            return
        for fut, answer in zip(waiters, answers, strict=True):
            if not fut.done():
                fut.set_result(answer)


def _retrieved(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()
