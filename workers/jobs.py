"""Tracking of background jobs: the `jobs` row follows every transition, and each transition is
pushed to the job's owner as `job:update`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from arq import Retry

from db import jobs as db_jobs
from drape.logs import job_id as job_id_var
from realtime.emit import Emitter

log = logging.getLogger(__name__)


@dataclass(slots=True)
class JobRun:
    """What a tracked job function receives."""

    id: uuid.UUID
    user_id: uuid.UUID | None
    args: dict[str, Any]
    attempt: int
    ctx: dict[str, Any]

    @property
    def pool(self) -> asyncpg.Pool:
        return self.ctx["pool"]

    @property
    def emitter(self) -> Emitter:
        return self.ctx["emitter"]

    async def progress(self, fraction: float) -> None:
        row = await db_jobs.set_progress(self.pool, self.id, fraction)
        if row is not None:
            await self.emitter.job_update(self.user_id, db_jobs.job_json(row))


JobFunction = Callable[[JobRun], Awaitable[dict[str, Any]]]


class PermanentJobError(Exception):
    """The input cannot succeed; fail now instead of retrying."""


def tracked(fn: JobFunction) -> Callable[..., Awaitable[dict[str, Any] | None]]:
    """Wrap `fn(run) -> result` as an arq function taking the job id."""

    async def run(ctx: dict[str, Any], job_id: str) -> dict[str, Any] | None:
        jid = uuid.UUID(job_id)
        token = job_id_var.set(job_id)
        pool: asyncpg.Pool = ctx["pool"]
        emitter: Emitter = ctx["emitter"]
        try:
            row = await db_jobs.mark_running(pool, jid)
            if row is None:
                log.info("job already finished or unknown; skipped")
                return None
            user = row["user_id"]
            await emitter.job_update(user, db_jobs.job_json(row))
            job = JobRun(id=jid, user_id=user, args=row["args"], attempt=ctx["job_try"], ctx=ctx)
            try:
                result = await fn(job)
            except Retry as r:
                row = await db_jobs.mark_requeued(pool, jid, "retrying")
                if row is not None:
                    await emitter.job_update(user, db_jobs.job_json(row))
                raise r
            except Exception as e:
                message = str(e) if isinstance(e, PermanentJobError) else type(e).__name__
                log.exception("job failed")
                row = await db_jobs.mark_failed(pool, jid, message or type(e).__name__)
                if row is not None:
                    await emitter.job_update(user, db_jobs.job_json(row))
                raise
            row = await db_jobs.mark_done(pool, jid, result)
            if row is not None:
                await emitter.job_update(user, db_jobs.job_json(row))
            return result
        finally:
            job_id_var.reset(token)

    run.__name__ = run.__qualname__ = fn.__name__
    run.__doc__ = fn.__doc__
    return run
