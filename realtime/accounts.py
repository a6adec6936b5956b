"""Whether an account may open a socket, and whom it is apart from by a block, without a
database round trip per connect.

A connect storm (a redeploy's sockets all coming back) asked Postgres once per socket. Here the
answers are kept ACTIVE_TTL seconds (as server/auth.py does for requests), and the accounts
asked about in the same moment are looked up in one query (realtime/batch.py). A block or
unblock forgets both accounts' answers on every process (realtime/events.py `set_apart`). A
suspension or a deletion does not wait for the cache: both end the account's sessions through
drape/access.py, which refuses the account's tokens on every process at once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import asyncpg

from db import blocks as db_blocks
from realtime.batch import Batch

ACTIVE_TTL = 30.0
Account = frozenset[str] | None  # whom an active account is apart from; None: not active


class ActiveAccounts:
    def __init__(self, pool: Callable[[], asyncpg.Pool], ttl: float = ACTIVE_TTL) -> None:
        self.pool, self.ttl = pool, ttl
        self._cache: dict[uuid.UUID, tuple[Account, float]] = {}
        self._lookups: Batch[uuid.UUID, Account] = Batch(self._lookup_many)

    @property
    def queries(self) -> int:
        return self._lookups.round_trips

    def forget(self, user_id: uuid.UUID | str) -> None:
        self._cache.pop(uuid.UUID(str(user_id)), None)

    async def lookup(self, user_id: uuid.UUID) -> Account:
        """The accounts `user_id` is apart from, or None if it may not open a socket."""
        hit = self._cache.get(user_id)
        if hit is not None and hit[1] > time.monotonic():
            return hit[0]
        return await self._lookups(user_id)

    async def _lookup_many(self, users: list[uuid.UUID]) -> list[Account]:
        active = await db_blocks.socket_accounts(self.pool(), list(dict.fromkeys(users)))
        until = time.monotonic() + self.ttl
        if len(self._cache) > 100_000:  # a long-running process: drop what expired
            now = time.monotonic()
            self._cache = {k: v for k, v in self._cache.items() if v[1] > now}
        for uid in users:
            self._cache[uid] = (active.get(uid), until)
        return [active.get(uid) for uid in users]
