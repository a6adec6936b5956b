"""Timeline jobs (drape/timelines.py queues them): fan-out of a new post, removal of a deleted
one, a new follow's merge and the rebuild of a missing timeline. Each is idempotent (sorted-set
writes of the same members), so running one twice leaves the same timelines; a Postgres or Redis
that is away makes it try again shortly."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable
from typing import Any, Final, TypeVar

import asyncpg
from arq import Retry
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from db import timelines as db_timelines
from drape.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

TIMEOUT: Final = 60
RETRY_IN: Final = 2
TEMPORARY = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    RedisConnectionError,
    RedisTimeoutError,
)


def _deps(ctx: dict[str, Any]) -> tuple[asyncpg.Pool, Redis, Settings]:
    return ctx["pool"], ctx["redis"], ctx["settings"]


async def _run(what: str, step: Awaitable[T], **about: Any) -> T:
    started = time.perf_counter()
    try:
        result = await step
    except TEMPORARY as e:
        log.warning("%s deferred", what, extra={**about, "error": repr(e)})
        raise Retry(defer=RETRY_IN) from e
    ms = round((time.perf_counter() - started) * 1000, 1)
    log.info(what, extra={**about, "result": result, "ms": ms})
    return result


async def timeline_fanout(ctx: dict[str, Any], post_id: str) -> dict[str, Any]:
    pool, redis, settings = _deps(ctx)
    step = db_timelines.fan_out(pool, redis, settings, uuid.UUID(post_id))
    return await _run("timeline fan-out", step, post_id=post_id)


async def timeline_remove(ctx: dict[str, Any], post_id: str, author_id: str) -> int:
    pool, redis, _ = _deps(ctx)
    step = db_timelines.forget_post(pool, redis, uuid.UUID(post_id), uuid.UUID(author_id))
    return await _run("timeline removal", step, post_id=post_id)


async def timeline_merge(ctx: dict[str, Any], author_id: str, viewers: list[str]) -> int:
    pool, redis, settings = _deps(ctx)
    step = db_timelines.merge_author(
        pool, redis, settings, uuid.UUID(author_id), [uuid.UUID(v) for v in viewers]
    )
    return await _run("timeline merge", step, author_id=author_id, viewers=len(viewers))


async def timeline_rebuild(ctx: dict[str, Any], viewer: str) -> int:
    pool, redis, settings = _deps(ctx)
    step = db_timelines.rebuild(pool, redis, settings, uuid.UUID(viewer))
    return await _run("timeline rebuild", step, viewer=viewer)
