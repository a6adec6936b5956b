"""Who is online, across every web process, kept in Redis.

Each process has an id and beats (a score in one sorted set) every PRESENCE_HEARTBEAT seconds;
it counts its sockets per user in a hash of its own, and each user has the set of processes
holding a socket of theirs. A user is online while one of those processes has beaten within
PRESENCE_TTL seconds, so a process that was killed takes its sockets offline with it; the
first live process to notice (each looks at every beat) removes its entries in one script and
announces who went offline. Transitions are announced as `presence` {user_id, online} to the
room of the user's watchers, unless the user hides their presence.

Presence is also what decides push versus live delivery: a notification for a user with no
socket anywhere queues the push job (workers/push.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

import asyncpg
from arq.connections import ArqRedis
from redis.asyncio import Redis

from db import notification_settings
from drape.queue import wake
from drape.settings import Settings
from realtime.batch import Batch

log = logging.getLogger(__name__)

PUSH_JOB: Final = "push_notification"  # workers/push.py JOB

Emit = Callable[[list[tuple[str, Any, str]]], Awaitable[None]]  # (event, data, room) each

# KEYS: procs, this process's hash, the user's set. ARGV: process, user, now, ttl.
# 1 when this socket is the user's first anywhere alive.
CONNECT = """
local n = redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('SADD', KEYS[3], ARGV[1])
if n > 1 then return 0 end
local floor = tonumber(ARGV[3]) - tonumber(ARGV[4])
for _, pid in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  if pid ~= ARGV[1] then
    local beat = redis.call('ZSCORE', KEYS[1], pid)
    if beat and tonumber(beat) >= floor then return 0 end
  end
end
return 1
"""

# Same keys and arguments; 1 when this was the user's last socket anywhere alive.
DISCONNECT = """
local n = redis.call('HINCRBY', KEYS[2], ARGV[2], -1)
if n > 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('SREM', KEYS[3], ARGV[1])
if n < 0 then return 0 end
local floor = tonumber(ARGV[3]) - tonumber(ARGV[4])
for _, pid in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  local beat = redis.call('ZSCORE', KEYS[1], pid)
  if beat and tonumber(beat) >= floor then return 0 end
end
return 1
"""

# KEYS: procs. ARGV: floor (beats older are dead), key prefix, and one process to remove
# whatever its beat ('' for none). Removes each dead process's entries; returns the users who
# have no live process left. Atomic, so each dead process is reaped once.
REAP = """
local floor = tonumber(ARGV[1])
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
if ARGV[3] ~= '' then table.insert(dead, ARGV[3]) end
local gone = {}
for _, pid in ipairs(dead) do
  redis.call('ZREM', KEYS[1], pid)
  local hkey = ARGV[2] .. ':p:' .. pid
  local users = redis.call('HKEYS', hkey)
  redis.call('DEL', hkey)
  for _, u in ipairs(users) do
    local skey = ARGV[2] .. ':u:' .. u
    redis.call('SREM', skey, pid)
    local online = false
    for _, other in ipairs(redis.call('SMEMBERS', skey)) do
      local beat = redis.call('ZSCORE', KEYS[1], other)
      if beat and tonumber(beat) >= floor and other ~= ARGV[3] then online = true break end
    end
    if not online then table.insert(gone, u) end
  end
end
return gone
"""

# KEYS: procs. ARGV: floor, key prefix, users... ; 1 or 0 for each user.
ONLINE = """
local floor = tonumber(ARGV[1])
local out = {}
for i = 3, #ARGV do
  local online = 0
  for _, pid in ipairs(redis.call('SMEMBERS', ARGV[2] .. ':u:' .. ARGV[i])) do
    local beat = redis.call('ZSCORE', KEYS[1], pid)
    if beat and tonumber(beat) >= floor then online = 1 break end
  end
  table.insert(out, online)
end
return out
"""


async def _run(redis: Redis, source: str, keys: list[str], args: list[Any]) -> Any:
    return await redis.register_script(source)(keys=keys, args=args)


def presence_room(user_id: uuid.UUID | str) -> str:
    """The room of the sockets watching one user's presence."""
    return f"presence:{user_id}"


def key_prefix(settings: Settings) -> str:
    return f"{settings.socketio_channel}:presence"


async def online(redis: Redis, settings: Settings, user_ids: list[uuid.UUID]) -> list[bool]:
    """Whether each user has a socket on a live web process."""
    if not user_ids:
        return []
    prefix = key_prefix(settings)
    floor = time.time() - settings.presence_ttl
    args = [floor, prefix, *(str(u) for u in user_ids)]
    flags = await _run(redis, ONLINE, [f"{prefix}:procs"], args)
    return [bool(f) for f in flags]


class Presence:
    """This web process's part of presence: its sockets' users, its beat, and the reaping of
    processes that stopped beating."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process_id = uuid.uuid4().hex
        self.prefix = key_prefix(settings)
        self.procs = f"{self.prefix}:procs"
        self.local: Counter[uuid.UUID] = Counter()  # this process's sockets per user
        self._redis: Redis | None = None
        self._pool: asyncpg.Pool | None = None
        self._emit: Emit | None = None
        # A reconnect storm's connects, many per round trip (realtime/batch.py).
        self._connects: Batch[uuid.UUID, None] = Batch(self._connect_many)

    def bind(self, redis: Redis, pool: asyncpg.Pool, emit: Emit) -> None:
        self._redis, self._pool, self._emit = redis, pool, emit
        self._connect_script = redis.register_script(CONNECT)

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("presence used before the web process opened its backends")
        return self._redis

    def _keys(self, user_id: uuid.UUID) -> list[str]:
        return [self.procs, f"{self.prefix}:p:{self.process_id}", f"{self.prefix}:u:{user_id}"]

    def _args(self, user_id: uuid.UUID) -> list[Any]:
        return [self.process_id, str(user_id), time.time(), self.settings.presence_ttl]

    async def connected(self, user_id: uuid.UUID) -> None:
        self.local[user_id] += 1
        await self._connects(user_id)

    async def _connect_many(self, users: list[uuid.UUID]) -> list[None]:
        """CONNECT for each socket, in one pipeline; then the users who came online are
        announced."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for user_id in users:
                await self._connect_script(
                    keys=self._keys(user_id), args=self._args(user_id), client=pipe
                )
            firsts = await pipe.execute()
        await self.announce_many([u for u, first in zip(users, firsts, strict=True) if first], True)
        return [None] * len(users)

    async def disconnected(self, user_id: uuid.UUID) -> None:
        self.local[user_id] -= 1
        if self.local[user_id] <= 0:
            del self.local[user_id]
        if await _run(self.redis, DISCONNECT, self._keys(user_id), self._args(user_id)):
            await self.announce(user_id, False)

    async def announce(self, user_id: uuid.UUID | str, is_online: bool) -> None:
        await self.announce_many([user_id], is_online)

    async def announce_many(self, users: Sequence[uuid.UUID | str], is_online: bool) -> None:
        """`presence` to the watchers of each of `users`, but those who hide it (one query)."""
        if self._emit is None or self._pool is None or not users:
            return
        uids = list(dict.fromkeys(uuid.UUID(str(u)) for u in users))
        hidden = await notification_settings.hiding_presence(self._pool, uids)
        await self._emit(
            [
                ("presence", {"user_id": str(uid), "online": is_online}, presence_room(uid))
                for uid in uids
                if uid not in hidden
            ]
        )

    async def beat(self) -> None:
        """Beat; register this process's sockets again if it was taken for dead (a stall longer
        than the TTL); reap the processes that stopped beating."""
        now = time.time()
        if await self.redis.zadd(self.procs, {self.process_id: now}) and self.local:
            for user_id, count in list(self.local.items()):
                keys = self._keys(user_id)
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.hset(keys[1], str(user_id), str(count))
                    pipe.sadd(keys[2], self.process_id)
                    await pipe.execute()
        await self._reap(now - self.settings.presence_ttl, "")

    async def _reap(self, floor: float, process_id: str) -> None:
        gone = await _run(self.redis, REAP, [self.procs], [floor, self.prefix, process_id])
        await self.announce_many(
            [user.decode() if isinstance(user, bytes) else user for user in gone], False
        )

    async def run(self) -> None:
        while True:
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("presence beat failed", exc_info=True)
            await asyncio.sleep(self.settings.presence_heartbeat)

    async def leave(self) -> None:
        """At shutdown: this process's sockets are offline now, not after the TTL."""
        try:
            await self._reap(time.time() - self.settings.presence_ttl, self.process_id)
        except Exception:
            log.warning("presence: could not leave", exc_info=True)


class PushWhenAway:
    """After a notification was emitted: queue its push if its user has no socket anywhere."""

    def __init__(self, settings: Settings, redis: Redis, queue: ArqRedis) -> None:
        self.settings, self.redis, self.queue = settings, redis, queue

    async def __call__(self, user_id: uuid.UUID | str, note: dict[str, Any]) -> None:
        uid = uuid.UUID(str(user_id))
        if (await online(self.redis, self.settings, [uid]))[0]:
            return
        seq = int(note["seq"])
        if await self.queue.enqueue_job(PUSH_JOB, str(uid), seq, _job_id=f"push:{uid}:{seq}"):
            await wake(self.queue)
