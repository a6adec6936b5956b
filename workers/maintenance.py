"""Housekeeping: expired refresh tokens, and uploads that were handed out but never claimed."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

from db import jobs as db_jobs
from db import push as db_push
from drape.storage import ObjectStore
from workers.jobs import JobRun, tracked

log = logging.getLogger(__name__)

DELETE_EXPIRED_TOKENS = """
DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day'
"""

CLAIM_STALE_UPLOADS = """
UPDATE uploads SET status = 'rejected'
WHERE key IN (
    SELECT key FROM uploads WHERE status = 'pending' AND expires_at < now() - interval '1 hour'
    ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED
)
RETURNING key
"""


async def prune(pool: asyncpg.Pool, store: ObjectStore, *, batch: int = 500) -> dict[str, int]:
    status = await pool.execute(DELETE_EXPIRED_TOKENS)
    tokens = int(status.split()[-1])
    keys = [r["key"] for r in await pool.fetch(CLAIM_STALE_UPLOADS, batch)]
    for key in keys:
        await store.delete(key)
    deliveries = await db_push.prune_deliveries(pool)
    return {"refresh_tokens": tokens, "uploads": len(keys), "push_deliveries": deliveries}


@tracked
async def prune_expired(run: JobRun) -> dict[str, Any]:
    return await prune(run.pool, run.ctx["store"])


async def nightly_prune(ctx: dict[str, Any]) -> dict[str, int]:
    counts = await prune(ctx["pool"], ctx["store"])
    log.info("nightly prune", extra=counts)
    return counts


# A queued job older than this that Redis does not know was lost with Redis's memory.
LOST_AFTER = 60.0


async def requeue_lost_jobs(ctx: dict[str, Any]) -> dict[str, int]:
    """Every minute: jobs recorded in Postgres but missing from Redis are enqueued again, so a
    Redis restart delays them instead of losing them."""
    checked, requeued = await db_jobs.requeue_lost(ctx["pool"], ctx["redis"], older_than=LOST_AFTER)
    if requeued:
        log.warning("requeued lost jobs", extra={"requeued": requeued, "checked": checked})
    return {"checked": checked, "requeued": requeued}
