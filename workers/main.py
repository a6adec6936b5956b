"""arq worker settings. Run with `python -m workers` (or `arq workers.main.WorkerSettings`)."""

from __future__ import annotations

import asyncio
import logging
import os
from contextlib import AsyncExitStack
from typing import Any

from arq import cron, func
from arq.connections import RedisSettings

from db.pool import create_pool
from drape.queue import pack, redis_settings, unpack
from drape.settings import Settings
from drape.storage import open_store
from realtime.emit import worker_emitter
from workers import (
    account,
    ai,
    avatars,
    fitmaps,
    mail,
    maintenance,
    push,
    timelines,
    wardrobe,
)
from workers.avatar import warm_up

log = logging.getLogger(__name__)


def functions(settings: Settings) -> list[Any]:
    # Live updates are short; their timeouts stay under the general one so a crashed worker's
    # jobs are picked up again after (the longest timeout + 10 s).
    return [
        maintenance.prune_expired,
        account.password_reset_mail,
        account.purge_account,
        account.export_account,
        wardrobe.garment_colors,
        ai.recommend,
        ai.style_analysis,
        ai.social,
        avatars.avatar_build,
        func(
            avatars.avatar_live, keep_result=0, max_tries=1, timeout=min(10, settings.job_timeout)
        ),
        func(avatars.avatar_commit, keep_result=0, timeout=min(30, settings.job_timeout)),
        fitmaps.fit_map_build,
        func(
            fitmaps.avatar_fit_live,
            keep_result=0,
            max_tries=1,
            timeout=min(10, settings.job_timeout),
        ),
        func(
            mail.send_mail,
            max_tries=mail.MAX_TRIES,
            keep_result=mail.KEEP_RESULT,
            timeout=min(mail.TIMEOUT, settings.job_timeout),
        ),
        func(
            push.push_notification,
            max_tries=push.MAX_TRIES,
            keep_result=push.KEEP_RESULT,
            timeout=min(push.TIMEOUT, settings.job_timeout),
        ),
        *(
            func(job, keep_result=0, timeout=min(timelines.TIMEOUT, settings.job_timeout))
            for job in (
                timelines.timeline_fanout,
                timelines.timeline_remove,
                timelines.timeline_merge,
                timelines.timeline_rebuild,
            )
        ),
    ]


CRON_JOBS = [
    cron(maintenance.nightly_prune, hour={3}, minute={17}, run_at_startup=False),
    cron(ai.nightly_analyses, hour={4}, minute={7}, run_at_startup=False),
    cron(maintenance.requeue_lost_jobs, second={5}, run_at_startup=False),
    cron(account.purge_deleted_accounts, second={35}, run_at_startup=False),
]


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.setdefault("settings", Settings.from_env())
    stack = AsyncExitStack()
    ctx["stack"] = stack
    ctx["pool"] = await create_pool(settings.database_url, min_size=1, max_size=4)
    stack.push_async_callback(ctx["pool"].close)
    ctx["store"] = await stack.enter_async_context(
        open_store(
            settings.object_store_url, public_url=settings.public_url, secret=settings.jwt_secret
        )
    )
    ctx["emitter"] = worker_emitter(settings)
    stack.push_async_callback(ctx["emitter"].aclose)
    ctx["push"] = await stack.enter_async_context(push.open_providers(settings))
    # Fill the body model's caches now, so the first avatar job is as fast as the rest.
    await asyncio.to_thread(warm_up)


async def shutdown(ctx: dict[str, Any]) -> None:
    stack: AsyncExitStack | None = ctx.get("stack")
    if stack is not None:
        await stack.aclose()


def worker_settings(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments for `arq.Worker`, built from explicit settings."""
    options: dict[str, Any] = {
        "functions": functions(settings),
        "cron_jobs": CRON_JOBS,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": redis_settings(settings),
        "queue_name": settings.arq_queue,
        "job_serializer": pack,
        "job_deserializer": unpack,
        "job_timeout": settings.job_timeout,
        "max_jobs": settings.worker_max_jobs,
        "max_tries": 5,
        "keep_result": 3600,
        "health_check_interval": 30,
        # On SIGTERM, finish running jobs (up to the job timeout) before stopping; what is still
        # running then is cancelled and handed back to the queue for another worker.
        "job_completion_wait": settings.job_timeout,
        "ctx": {"settings": settings},
    }
    options.update(overrides)
    return options


class WorkerSettings:
    """For the arq command line; reads REDIS_URL like every other process."""

    functions = functions(Settings())
    cron_jobs = CRON_JOBS
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(os.environ.get("REDIS_URL", Settings.redis_url))
    queue_name = Settings.arq_queue
    job_serializer = pack
    job_deserializer = unpack
    job_timeout = Settings.job_timeout
    max_jobs = Settings.worker_max_jobs
    health_check_interval = 30
