"""Housekeeping: expired refresh tokens, and uploads that were handed out but never claimed."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

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
    return {"refresh_tokens": tokens, "uploads": len(keys)}


@tracked
async def prune_expired(run: JobRun) -> dict[str, Any]:
    return await prune(run.pool, run.ctx["store"])


async def nightly_prune(ctx: dict[str, Any]) -> dict[str, int]:
    counts = await prune(ctx["pool"], ctx["store"])
    log.info("nightly prune", extra=counts)
    return counts
