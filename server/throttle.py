"""Login throttling in Redis: failed attempts are counted per account and per client address in
fixed windows; past the limit the answer is 429 with Retry-After, before any password check."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from server.errors import Problem


@dataclass(frozen=True, slots=True)
class Limit:
    name: str
    attempts: int
    window: int  # seconds


ACCOUNT = Limit("account", attempts=5, window=15 * 60)
ADDRESS = Limit("address", attempts=30, window=15 * 60)


def _key(limit: Limit, subject: str) -> str:
    return f"throttle:login:{limit.name}:{subject}"


async def check(redis: Redis, limit: Limit, subject: str) -> None:
    key = _key(limit, subject)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(key)
        pipe.ttl(key)
        count, ttl = await pipe.execute()
    if count is not None and int(count) >= limit.attempts:
        retry = max(int(ttl), 1)
        raise Problem(
            429,
            f"Too many failed sign-in attempts for this {limit.name}; try again in {retry} s.",
            headers={"Retry-After": str(retry)},
            code="too_many_sign_in_attempts",
        )


async def record_failure(redis: Redis, limit: Limit, subject: str) -> None:
    key = _key(limit, subject)
    # The window starts with the first failure (SET NX); works on Redis 6 as well as 7.
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(key, 0, ex=limit.window, nx=True)
        pipe.incr(key)
        await pipe.execute()


async def reset(redis: Redis, limit: Limit, subject: str) -> None:
    await redis.delete(_key(limit, subject))
