"""The arq queue as every process sees it: one serializer (msgpack) for enqueuers and workers."""

from __future__ import annotations

from typing import Any

import msgpack
from arq.connections import ArqRedis, RedisSettings, create_pool

from drape.settings import Settings


def _fallback(obj: Any) -> Any:
    # arq stores a failed job's exception as its result; keep its text rather than fail.
    if isinstance(obj, BaseException):
        return {"error": type(obj).__name__, "message": str(obj)}
    raise TypeError(f"cannot serialize {type(obj).__name__}")


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, datetime=True, default=_fallback)


def unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, timestamp=3)


def redis_settings(settings: Settings) -> RedisSettings:
    return RedisSettings.from_dsn(settings.redis_url)


async def create_queue(settings: Settings) -> ArqRedis:
    return await create_pool(
        redis_settings(settings),
        default_queue_name=settings.arq_queue,
        job_serializer=pack,
        job_deserializer=unpack,
    )


def wake_channel(queue_name: str) -> str:
    return f"{queue_name}:wake"


async def wake(redis: ArqRedis, queue_name: str | None = None) -> None:
    """Tell idle workers (workers.wake.WakeableWorker) that a job is waiting."""
    await redis.publish(wake_channel(queue_name or redis.default_queue_name), b"1")
