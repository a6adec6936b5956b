"""Access that ends when it should, on every process at once.

Two things are told to every web process over one Redis pub/sub channel (`control_channel`):
- sessions that ended (logout, password change, a revoked device, an account deleted or
  suspended): their access tokens are refused from then on and their sockets disconnected;
- access to an author's posts that may have been lost (unfollow, going private, a block): the
  sockets watching those posts are checked again against the database and leave the rooms they
  may no longer see.

Ended sessions are written to Redis keys that outlive every access token issued before the
revocation (`revoke`'s ttl): the truth, read by socket connects and by each process's `Mirror`
whenever it (re)subscribes to the channel. Each request checks its token against the mirror (two
dict lookups); the channel's messages keep every mirror current within milliseconds.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from drape.settings import Settings
from drape.tokens import AccessClaims

log = logging.getLogger(__name__)

# Seconds past an access token's lifetime that a revocation is kept (covers the verify leeway).
MARGIN = 60


def control_channel(settings: Settings) -> str:
    return f"{settings.socketio_channel}:control"


def _session_key(session_id: uuid.UUID | str) -> str:
    return f"revoked:session:{session_id}"


def _user_key(user_id: uuid.UUID | str) -> str:
    return f"revoked:user:{user_id}"


@dataclass(frozen=True, slots=True)
class Ended:
    """What a control message ends: sessions by id, accounts whole (every session)."""

    sessions: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    reason: str = "signed_out"


async def revoke(
    redis: Redis,
    settings: Settings,
    *,
    sessions: Iterable[uuid.UUID | str] = (),
    users: Iterable[uuid.UUID | str] = (),
    reason: str = "signed_out",
    mirror: Mirror | None = None,
) -> None:
    """End sessions (and whole accounts) now: refused by every process from this call on (by
    this one's `mirror` at once, by the others' as the control message reaches them)."""
    ended = Ended(tuple(map(str, sessions)), tuple(map(str, users)), reason)
    if not ended.sessions and not ended.users:
        return
    ttl = settings.access_token_ttl + MARGIN
    if mirror is not None:
        mirror.note(ended, ttl)
    async with redis.pipeline(transaction=False) as pipe:
        for sid in ended.sessions:
            pipe.set(_session_key(sid), reason, ex=ttl)
        for uid in ended.users:
            pipe.set(_user_key(uid), reason, ex=ttl)
        message = {"op": "end", "sessions": ended.sessions, "users": ended.users, "reason": reason}
        pipe.publish(control_channel(settings), orjson.dumps(message))
        await pipe.execute()


async def restore_user(
    redis: Redis, settings: Settings, user_id: uuid.UUID | str, mirror: Mirror | None = None
) -> None:
    """An account revoked whole may sign in again (a suspension lifted). Old tokens stay dead:
    its sessions were ended one by one too."""
    await redis.delete(_user_key(user_id))
    if mirror is not None:
        mirror.forget_user(user_id)
    message = {"op": "restore", "user": str(user_id)}
    await redis.publish(control_channel(settings), orjson.dumps(message))


async def revoked(redis: Redis, claims: AccessClaims) -> str | None:
    """Why this token's session or account was ended, or None while it stands."""
    return (await revoked_many(redis, [claims]))[0]


async def revoked_many(redis: Redis, claims: list[AccessClaims]) -> list[str | None]:
    """`revoked` for many tokens in one round trip."""
    keys = []
    for c in claims:
        keys += [_user_key(c.user_id), _session_key(c.session_id or "none")]
    if not keys:
        return []
    try:
        values = await redis.mget(keys)
    except (RedisError, OSError):
        # Redis away: the account checks in Postgres still hold and tokens expire within
        # minutes; refusing every request until Redis is back would lose the writes that
        # Postgres alone can take (README, "Dependencies down").
        log.warning("revocation check skipped: Redis unreachable")
        return [None] * len(claims)
    out: list[str | None] = []
    for user_reason, session_reason in zip(values[::2], values[1::2], strict=True):
        reason = user_reason if user_reason is not None else session_reason
        out.append(reason.decode() if isinstance(reason, bytes) else reason)
    return out


async def recheck(
    redis: Redis,
    settings: Settings,
    author_id: uuid.UUID | str,
    *,
    viewers: Iterable[uuid.UUID | str] | None = None,
) -> None:
    """Access to `author_id`'s posts may have been lost (by `viewers`, or by anyone if None):
    every process checks its sockets in those posts' rooms again."""
    message: dict[str, Any] = {"op": "recheck", "author": str(author_id)}
    if viewers is not None:
        message["viewers"] = [str(v) for v in viewers]
    await redis.publish(control_channel(settings), orjson.dumps(message))


async def set_apart(
    redis: Redis, settings: Settings, a: uuid.UUID | str, b: uuid.UUID | str, *, apart: bool
) -> None:
    """A block between `a` and `b` began (`apart`) or ended: every process updates the filter of
    live events of their sockets, and on a block takes each out of the other's post rooms."""
    message = {"op": "apart", "users": [str(a), str(b)], "apart": apart}
    await redis.publish(control_channel(settings), orjson.dumps(message))


class Mirror:
    """This process's copy of the ended sessions and accounts, so a request checks a token with
    two dict lookups instead of a Redis round trip. Fed by the control channel (`note`), by
    this process's own revocations at once, and in full from Redis each time the channel is
    (re)subscribed (`resync`), so a gap in the channel cannot hide a revocation for long."""

    PRUNE_EVERY = 60.0  # seconds between sweeps of expired entries

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.sessions: dict[str, tuple[str, float]] = {}
        self.users: dict[str, tuple[str, float]] = {}
        self._next_prune = clock() + self.PRUNE_EVERY

    def note(self, ended: Ended, ttl: float) -> None:
        now = self._clock()
        if now >= self._next_prune:  # entries nobody looks up again must not pile up
            for table in (self.sessions, self.users):
                for key in [k for k, (_, until) in table.items() if until <= now]:
                    del table[key]
            self._next_prune = now + self.PRUNE_EVERY
        until = now + ttl
        for sid in ended.sessions:
            self.sessions[sid] = (ended.reason, until)
        for uid in ended.users:
            self.users[uid] = (ended.reason, until)

    def forget_user(self, user_id: uuid.UUID | str) -> None:
        self.users.pop(str(user_id), None)

    def reason(self, claims: AccessClaims) -> str | None:
        now = self._clock()
        for table, key in (
            (self.users, str(claims.user_id)),
            (self.sessions, str(claims.session_id)),
        ):
            hit = table.get(key)
            if hit is not None:
                if hit[1] > now:
                    return hit[0]
                del table[key]
        return None

    async def resync(self, redis: Redis) -> None:
        """Every revocation Redis still holds (a few minutes' worth), with its time left."""
        found: list[bytes] = [k async for k in redis.scan_iter(match="revoked:*", count=1000)]
        if not found:
            return
        async with redis.pipeline(transaction=False) as pipe:
            for key in found:
                pipe.get(key)
                pipe.pttl(key)
            values = await pipe.execute()
        for key, reason, ttl in zip(found, values[::2], values[1::2], strict=True):
            if reason is None or ttl is None or ttl < 0:
                continue
            _, kind, ident = key.decode().split(":", 2)
            ended = Ended(
                sessions=(ident,) if kind == "session" else (),
                users=(ident,) if kind == "user" else (),
                reason=reason.decode(),
            )
            self.note(ended, ttl / 1000)
