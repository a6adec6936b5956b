"""Job metrics for /metrics, read at scrape time from where the truth is: the arq queue's
length in Redis, and job outcomes recorded in Postgres by every worker."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from prometheus_client import Gauge

from server.context import ARQ, POOL, SETTINGS

log = logging.getLogger(__name__)

QUEUE_DEPTH = Gauge("drape_job_queue_depth", "Jobs waiting in the arq queue")
JOBS_RECENT = Gauge(
    "drape_jobs_last_hour", "Jobs updated in the last hour, by kind and status", ["kind", "status"]
)

RECENT_JOBS = """
SELECT kind, status, count(*) AS n FROM jobs
WHERE updated_at > now() - interval '1 hour'
GROUP BY kind, status
"""


async def refresh(app: web.Application) -> None:
    """Best effort: a scrape still answers (with the previous values) if a store is down."""
    try:
        async with asyncio.timeout(1.0):
            QUEUE_DEPTH.set(await app[ARQ].zcard(app[SETTINGS].arq_queue))
            rows = await app[POOL].fetch(RECENT_JOBS)
    except Exception as e:
        log.warning("job metrics unavailable", extra={"error": repr(e)})
        return
    JOBS_RECENT.clear()
    for r in rows:
        JOBS_RECENT.labels(r["kind"], r["status"]).set(r["n"])
