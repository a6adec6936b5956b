"""Background jobs: a row per enqueued job, so its state survives Redis and can be listed."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix

from db.common import KEYSET_TOP, iso
from drape.queue import wake

JOB_COLUMNS = (
    "id, user_id, kind, status, progress, result, error, attempts, created_at, started_at, "
    "finished_at, updated_at"
)

INSERT_JOB = f"""
INSERT INTO jobs (user_id, kind, args, dedupe_key, function)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (dedupe_key) WHERE status IN ('queued', 'running') DO NOTHING
RETURNING {JOB_COLUMNS}
"""

SELECT_LIVE_BY_DEDUPE = f"""
SELECT {JOB_COLUMNS} FROM jobs WHERE dedupe_key = $1 AND status IN ('queued', 'running')
"""


async def create_job(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    kind: str,
    user_id: uuid.UUID | None,
    args: dict[str, Any],
    dedupe_key: str | None = None,
    function: str | None = None,
) -> tuple[asyncpg.Record, bool]:
    """Insert a queued job; with a dedupe key an existing live job is returned instead.
    Returns (row, created)."""
    row = await conn.fetchrow(INSERT_JOB, user_id, kind, args, dedupe_key, function)
    if row is not None:
        return row, True
    existing = await conn.fetchrow(SELECT_LIVE_BY_DEDUPE, dedupe_key)
    if existing is None:  # it finished between the two statements: start a fresh one
        return await create_job(
            conn, kind=kind, user_id=user_id, args=args, dedupe_key=dedupe_key, function=function
        )
    return existing, False


async def enqueue(
    pool: asyncpg.Pool,
    arq: ArqRedis,
    *,
    function: str,
    kind: str,
    user_id: uuid.UUID | None,
    args: dict[str, Any],
    dedupe_key: str | None = None,
    defer_by: float | None = None,
) -> asyncpg.Record:
    """Record the job, then hand it to arq under the same id. If Redis refuses, the row is
    marked failed so the job is never silently lost."""
    row, created = await create_job(
        pool, kind=kind, user_id=user_id, args=args, dedupe_key=dedupe_key, function=function
    )
    if not created:
        return row
    job_id = str(row["id"])
    try:
        await arq.enqueue_job(function, job_id, _job_id=job_id, _defer_by=defer_by)
        await wake(arq)
    except Exception as e:
        await mark_failed(pool, row["id"], f"could not enqueue: {type(e).__name__}")
        raise
    return row


SELECT_JOB = f"SELECT {JOB_COLUMNS}, args FROM jobs WHERE id = $1"


async def get_job(
    conn: asyncpg.Connection | asyncpg.Pool, job_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(SELECT_JOB, job_id)


# The index jobs_user_idx (user_id, created_at DESC) walks them newest first.
SELECT_USER_JOBS = f"""
SELECT {JOB_COLUMNS} FROM jobs
WHERE user_id = $1 AND (created_at, id) < ($2, $3)
  AND ($4::text[] IS NULL OR status = ANY($4)) AND ($5::text IS NULL OR kind = $5)
ORDER BY created_at DESC, id DESC
LIMIT $6
"""


async def user_jobs(
    pool: asyncpg.Pool,
    user_id: uuid.UUID,
    before: tuple[Any, Any] | None,
    limit: int,
    *,
    statuses: list[str] | None = None,
    kind: str | None = None,
) -> list[asyncpg.Record]:
    """A page of the user's jobs, newest first, optionally only those in `statuses` or of
    `kind`."""
    created_at, job_id = before or KEYSET_TOP
    return await pool.fetch(SELECT_USER_JOBS, user_id, created_at, job_id, statuses, kind, limit)


MARK_RUNNING = f"""
UPDATE jobs SET status = 'running', started_at = coalesce(started_at, now()),
       attempts = attempts + 1, progress = 0, error = NULL
WHERE id = $1 AND status IN ('queued', 'running')
RETURNING {JOB_COLUMNS}, args
"""


async def mark_running(pool: asyncpg.Pool, job_id: uuid.UUID) -> asyncpg.Record | None:
    """None when the job is unknown or already finished (a duplicate delivery)."""
    return await pool.fetchrow(MARK_RUNNING, job_id)


SET_PROGRESS = f"""
UPDATE jobs SET progress = greatest(progress, $2) WHERE id = $1 AND status = 'running'
RETURNING {JOB_COLUMNS}
"""


async def set_progress(
    pool: asyncpg.Pool, job_id: uuid.UUID, progress: float
) -> asyncpg.Record | None:
    return await pool.fetchrow(SET_PROGRESS, job_id, max(0.0, min(1.0, progress)))


MARK_DONE = f"""
UPDATE jobs SET status = 'done', progress = 1, result = $2, finished_at = now(), error = NULL
WHERE id = $1
RETURNING {JOB_COLUMNS}
"""


async def mark_done(
    conn: asyncpg.Connection | asyncpg.Pool, job_id: uuid.UUID, result: dict[str, Any]
) -> asyncpg.Record | None:
    return await conn.fetchrow(MARK_DONE, job_id, result)


MARK_FAILED = f"""
UPDATE jobs SET status = 'failed', error = $2, finished_at = now()
WHERE id = $1
RETURNING {JOB_COLUMNS}
"""


async def mark_failed(pool: asyncpg.Pool, job_id: uuid.UUID, error: str) -> asyncpg.Record | None:
    return await pool.fetchrow(MARK_FAILED, job_id, error[:500])


MARK_REQUEUED = f"""
UPDATE jobs SET status = 'queued', error = $2 WHERE id = $1
RETURNING {JOB_COLUMNS}
"""


async def mark_requeued(pool: asyncpg.Pool, job_id: uuid.UUID, error: str) -> asyncpg.Record | None:
    return await pool.fetchrow(MARK_REQUEUED, job_id, error[:500])


def job_json(row: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    """The job as clients see it, over REST and in `job:update`."""
    return {
        "id": str(row["id"]),
        "kind": row["kind"],
        "status": row["status"],
        "progress": round(float(row["progress"]), 4),
        "result": row["result"],
        "error": row["error"],
        "attempts": row["attempts"],
        "created_at": iso(row["created_at"]),
        "started_at": iso(row["started_at"]),
        "finished_at": iso(row["finished_at"]),
    }


STALE_JOBS = """
SELECT id, function FROM jobs
WHERE status IN ('queued', 'running') AND updated_at < now() - make_interval(secs => $1)
  AND function IS NOT NULL
ORDER BY updated_at
LIMIT $2
"""

TOUCH = "UPDATE jobs SET updated_at = now() WHERE id = $1"


async def requeue_lost(
    pool: asyncpg.Pool, arq: ArqRedis, *, older_than: float, limit: int = 500
) -> tuple[int, int]:
    """Jobs the database says are pending but Redis no longer knows (no queue entry, no
    in-progress mark, no result): enqueue them again under the same id. Returns
    (checked, requeued)."""
    rows = await pool.fetch(STALE_JOBS, older_than, limit)
    requeued = 0
    for row in rows:
        job_id = str(row["id"])
        known = await arq.exists(
            job_key_prefix + job_id, in_progress_key_prefix + job_id, result_key_prefix + job_id
        )
        if not known:
            await arq.enqueue_job(row["function"], job_id, _job_id=job_id)
            requeued += 1
        await pool.execute(TOUCH, row["id"])
    if requeued:
        await wake(arq)
    return len(rows), requeued
