"""How many accounts watch a post: `post:viewers` {post_id, count} to the post's room.

Every web process writes the accounts it holds in a post's room into one sorted set per post in
Redis, a member `<user>|<process>` scored by when it expires. The process refreshes its members
every third of the TTL, so the watchers of a killed process drop out within the TTL. The count
is the number of distinct accounts among the members still alive: one account on two phones,
or on two processes, is one viewer.

Events are coalesced across processes: the process that emits for a room takes that room's gate
for GAP seconds. A change while the gate is held is retried when the gate opens, and then sends
the count of that moment, unless it equals the last count sent. So a room gets at most one
event every GAP seconds, and the last change is never lost. Every process that holds sockets in
a room also looks again at each heartbeat, which is how a killed process's watchers leave the
count.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from realtime.batch import Batch

log = logging.getLogger(__name__)

GAP_MS = 2000  # at most one event per room in this many milliseconds
LAST_TTL_MS = 600_000  # how long the last count sent is remembered

# KEYS[1]: the room's members. ARGV: member, TTL in ms. Scores are Redis' own clock, so the
# processes' clocks do not matter.
JOIN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""

# KEYS: members, gate, last count sent. ARGV: gap in ms, TTL of the last count in ms.
# Returns {-1, ms until the gate opens}, {0, count} when it has not changed, or {1, count} to send.
FLUSH = """
local wait = redis.call('PTTL', KEYS[2])
if wait > 0 then return {-1, wait} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local seen, n = {}, 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    local user = string.match(m, '^[^|]*')
    if not seen[user] then seen[user] = true; n = n + 1 end
end
if redis.call('GET', KEYS[3]) == tostring(n) then return {0, n} end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
redis.call('SET', KEYS[3], n, 'PX', ARGV[2])
return {1, n}
"""


def _keys(post_id: uuid.UUID) -> list[str]:
    base = f"viewers:{{{post_id}}}"  # one hash slot for the script's three keys
    return [base, base + ":gate", base + ":last"]


Emit = Callable[[uuid.UUID, int], Awaitable[None]]


class Viewers:
    """This process's watchers of each post, mirrored into Redis, and the coalesced events."""

    def __init__(self, emit: Emit, ttl: int = 30) -> None:
        self.emit = emit
        self.ttl_ms = ttl * 1000
        self.process = uuid.uuid4().hex
        self.local: dict[uuid.UUID, dict[uuid.UUID, int]] = {}  # post -> account -> sockets
        self._redis: Redis | None = None
        self._dirty: set[uuid.UUID] = set()
        self._flushing: dict[uuid.UUID, asyncio.Task[None]] = {}
        # A reconnect storm's joins, many per round trip (realtime/batch.py).
        self._joins: Batch[tuple[uuid.UUID, uuid.UUID], None] = Batch(self._join_many)

    def bind(self, redis: Redis) -> None:
        self._redis = redis
        self._join = redis.register_script(JOIN)
        self._flush_script = redis.register_script(FLUSH)

    def _member(self, user_id: uuid.UUID) -> str:
        return f"{user_id}|{self.process}"

    async def join(self, post_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """A socket of `user_id` entered the post's room."""
        accounts = self.local.setdefault(post_id, {})
        accounts[user_id] = accounts.get(user_id, 0) + 1
        if accounts[user_id] == 1:
            await self._safely(self._joins((post_id, user_id)))
            self.touch(post_id)

    async def _join_many(self, members: list[tuple[uuid.UUID, uuid.UUID]]) -> list[None]:
        """JOIN for each (post, account), in one pipeline."""
        if self._redis is None:
            raise RuntimeError("viewers used before the web process opened its backends")
        async with self._redis.pipeline(transaction=False) as pipe:
            for post_id, user_id in members:
                await self._join(
                    _keys(post_id)[:1], [self._member(user_id), self.ttl_ms], client=pipe
                )
            await pipe.execute()
        return [None] * len(members)

    async def leave(self, post_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """A socket of `user_id` left the post's room (unsubscribed, lost access, disconnected)."""
        accounts = self.local.get(post_id, {})
        left = accounts.get(user_id, 0) - 1
        if left > 0:
            accounts[user_id] = left
            return
        accounts.pop(user_id, None)
        if not accounts:
            self.local.pop(post_id, None)
        if self._redis is not None:
            await self._safely(self._redis.zrem(_keys(post_id)[0], self._member(user_id)))
            self.touch(post_id)

    def touch(self, post_id: uuid.UUID) -> None:
        """The count of this room may have changed: send it when the room's gate allows."""
        self._dirty.add(post_id)
        if post_id not in self._flushing:
            self._flushing[post_id] = asyncio.create_task(self._flush(post_id))

    async def _flush(self, post_id: uuid.UUID) -> None:
        try:
            while post_id in self._dirty:
                self._dirty.discard(post_id)
                kind, value = await self._flush_script(_keys(post_id), [GAP_MS, LAST_TTL_MS])
                if kind == 1:
                    await self.emit(post_id, int(value))
                elif kind == -1:
                    self._dirty.add(post_id)
                    await asyncio.sleep(int(value) / 1000)
        except Exception:
            log.warning("post:viewers not sent", extra={"post_id": str(post_id)}, exc_info=True)
        finally:
            self._flushing.pop(post_id, None)

    async def heartbeat(self) -> None:
        """Keep this process's members alive and look again at every room it holds sockets in,
        until cancelled."""
        while True:
            await asyncio.sleep(self.ttl_ms / 3000)
            if self._redis is None:
                continue
            members = [(p, u) for p, accounts in self.local.items() for u in accounts]
            if members:
                await self._safely(self._join_many(members))
            for post_id in list(self.local):
                self.touch(post_id)

    async def close(self) -> None:
        for task in list(self._flushing.values()):
            task.cancel()
        await asyncio.gather(*self._flushing.values(), return_exceptions=True)

    @staticmethod
    async def _safely(step: Awaitable[object]) -> None:
        try:
            await step
        except Exception:  # best-effort like every emit: the heartbeat repairs it
            log.warning("viewer count not updated", exc_info=True)
