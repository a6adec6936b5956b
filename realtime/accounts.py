"""Whether an account may open a socket, and whom it is apart from by a block, without a
database round trip per connect.

A connect storm (a redeploy's sockets all coming back) asked Postgres once per socket. Here the
answers are kept ACTIVE_TTL seconds (as server/auth.py does for requests), and the accounts
asked about in the same moment are looked up in one query. A block or unblock forgets both
accounts' answers on every process (realtime/events.py `set_apart`). A suspension or a
deletion does not wait for the cache: both end the account's sessions through drape/access.py,
which refuses the account's tokens on every process at once.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg

from db import blocks as db_blocks

ACTIVE_TTL = 30.0
Account = frozenset[str] | None  # whom an active account is apart from; None: not active


class ActiveAccounts:
    def __init__(self, ttl: float = ACTIVE_TTL) -> None:
        self.ttl = ttl
        self._cache: dict[uuid.UUID, tuple[Account, float]] = {}
        self._pending: dict[uuid.UUID, asyncio.Future[Account]] = {}
        self.queries = 0

    def forget(self, user_id: uuid.UUID | str) -> None:
        self._cache.pop(uuid.UUID(str(user_id)), None)

    async def lookup(self, pool: asyncpg.Pool, user_id: uuid.UUID) -> Account:
        """The accounts `user_id` is apart from, or None if it may not open a socket."""
        hit = self._cache.get(user_id)
        if hit is not None and hit[1] > time.monotonic():
            return hit[0]
        fut = self._pending.get(user_id)
        if fut is None:
            if not self._pending:
                asyncio.get_running_loop().call_soon(self._flush_soon, pool)
            fut = self._pending[user_id] = asyncio.get_running_loop().create_future()
        return await asyncio.shield(fut)

    def _flush_soon(self, pool: asyncpg.Pool) -> None:
        batch, self._pending = self._pending, {}
        task = asyncio.ensure_future(self._flush(pool, batch))
        task.add_done_callback(lambda t: t.exception() if not t.cancelled() else None)

    async def _flush(
        self, pool: asyncpg.Pool, batch: dict[uuid.UUID, asyncio.Future[Account]]
    ) -> None:
        try:
            self.queries += 1
            active = await db_blocks.socket_accounts(pool, list(batch))
        except Exception as e:
            for fut in batch.values():
                if not fut.done():
                    fut.set_exception(e)
            return
        until = time.monotonic() + self.ttl
        if len(self._cache) > 100_000:  # a long-running process: drop what expired
            now = time.monotonic()
            self._cache = {k: v for k, v in self._cache.items() if v[1] > now}
        for uid, fut in batch.items():
            self._cache[uid] = (active.get(uid), until)
            if not fut.done():
                fut.set_result(active.get(uid))
