"""An arq worker that starts jobs as soon as they are enqueued.

arq only polls the queue (every `poll_delay`, 0.5 s by default), so a live avatar update would
wait hundreds of milliseconds before a worker even looks at it, and polling faster costs idle
CPU on every worker. Here enqueuers publish a wake-up on `<queue>:wake` (drape.queue.wake) and
an idle worker waits on that instead of sleeping: jobs start within milliseconds, and an idle
worker still only polls every `poll_delay`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from arq.worker import Worker

from drape.queue import wake_channel

log = logging.getLogger(__name__)


class WakeableWorker(Worker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._idle_poll = self.poll_delay_s
        self._wake = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._found_jobs = True
        if not self.burst:
            self.poll_delay_s = 0  # the waiting happens in _poll_iteration

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        self._found_jobs = bool(job_ids)
        await super().start_jobs(job_ids)

    async def _poll_iteration(self) -> None:
        if not self.burst:
            if self._listener is None:
                self._listener = asyncio.create_task(self._listen())
            if not self._found_jobs:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._idle_poll)
            self._wake.clear()
        await super()._poll_iteration()

    async def _listen(self) -> None:
        channel = wake_channel(self.queue_name)
        while True:
            try:
                async with self.pool.pubsub() as pubsub:
                    await pubsub.subscribe(channel)
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis went away: plain polling goes on until it is back
                log.warning("wake-up channel lost; retrying", exc_info=True)
                await asyncio.sleep(1)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await super().close()
