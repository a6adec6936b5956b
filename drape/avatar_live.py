"""The state of a live avatar customization session, kept in Redis so any web process can take
a slider update and any worker can compute it.

Revisions only move forward: a web process numbers each update with INCR, the latest state is
stored only if its revision is newer than the stored one, and a worker emits a result only if
its revision is newer than the last one emitted. So bursts coalesce (a worker that finds a
newer state skips the stale one) and clients never see revisions go backwards.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from arq.connections import ArqRedis
from redis.asyncio import Redis

from drape.avatar_inputs import normalize_customization, validate_measurements
from drape.queue import wake

TTL = 3600  # seconds a session's state outlives its last update
# The full GLB is rebuilt once the user has paused this long after their last slider move.
COMMIT_AFTER = 1.5

# KEYS[1] state hash; ARGV: revision, state json, ttl
STORE_IF_NEWER = """
local current = redis.call('HGET', KEYS[1], 'revision')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'revision', ARGV[1], 'state', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""

# KEYS[1] last-emitted key; ARGV: revision, ttl
CLAIM_IF_NEWER = """
local current = redis.call('GET', KEYS[1])
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


def _key(avatar_id: uuid.UUID | str, part: str) -> str:
    return f"avatar-live:{avatar_id}:{part}"


async def next_revision(redis: Redis, avatar_id: uuid.UUID | str, floor: int) -> int:
    """A new revision above `floor` (the avatar row's revision) and above every earlier one."""
    key = _key(avatar_id, "revision")
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(key, floor, nx=True, ex=TTL)
        pipe.incr(key)
        pipe.expire(key, TTL)
        _, revision, _ = await pipe.execute()
    if revision <= floor:  # the row moved on (e.g. a PATCH) since the counter was made
        revision = await redis.incrby(key, floor - revision + 1)
    return int(revision)


async def store(
    redis: Redis, avatar_id: uuid.UUID | str, revision: int, state: dict[str, Any]
) -> bool:
    script = redis.register_script(STORE_IF_NEWER)
    stored = await script(
        keys=[_key(avatar_id, "state")], args=[revision, orjson.dumps(state), TTL]
    )
    return bool(stored)


async def latest(redis: Redis, avatar_id: uuid.UUID | str) -> tuple[int, dict[str, Any]] | None:
    raw: list[Any] = await redis.hmget(_key(avatar_id, "state"), ["revision", "state"])  # type: ignore[misc]
    if raw[0] is None:
        return None
    return int(raw[0]), orjson.loads(raw[1])


async def claim_emit(redis: Redis, avatar_id: uuid.UUID | str, revision: int) -> bool:
    script = redis.register_script(CLAIM_IF_NEWER)
    return bool(await script(keys=[_key(avatar_id, "emitted")], args=[revision, TTL]))


@dataclass(frozen=True, slots=True)
class Submitted:
    revision: int
    state: dict[str, Any]


async def submit(
    redis: Redis,
    queue: ArqRedis,
    avatar_id: uuid.UUID,
    owner_id: uuid.UUID,
    *,
    floor: int,
    base: dict[str, Any],
    measurements: dict[str, Any],
    customization: dict[str, Any],
) -> Submitted:
    """Take one slider move: validate the merged body, number it, store it as the latest state,
    and ask a worker for its live mesh now and for the full GLB once the user pauses.

    `base` is the state the move applies to (`latest` or the avatar row); `floor` the row's
    revision. Raises AvatarInputError (naming the field) and changes nothing on a bad body."""
    custom = normalize_customization({**base["customization"], **customization})
    body = validate_measurements({**base["measurements"], **measurements}, custom)
    state = {"measurements": body, "customization": custom}
    revision = await next_revision(redis, avatar_id, floor)
    await store(redis, avatar_id, revision, state)
    await queue.enqueue_job(
        "avatar_live", str(avatar_id), revision, _job_id=f"avatar-live:{avatar_id}:{revision}"
    )
    await queue.enqueue_job(
        "avatar_commit",
        str(avatar_id),
        revision,
        str(owner_id),
        _job_id=f"avatar-commit:{avatar_id}:{revision}",
        _defer_by=COMMIT_AFTER,
    )
    await wake(queue)
    return Submitted(revision, state)
