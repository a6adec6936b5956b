"""Uploads handed out as presigned forms: who may claim each key, for what, up to what size."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

UPLOAD_COLUMNS = "key, owner_id, purpose, target_id, content_type, max_bytes, status, expires_at"

INSERT_UPLOAD = f"""
INSERT INTO uploads (key, owner_id, purpose, target_id, content_type, max_bytes, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
RETURNING {UPLOAD_COLUMNS}
"""


async def create_upload(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    key: str,
    owner_id: uuid.UUID,
    purpose: str,
    target_id: uuid.UUID | None,
    content_type: str,
    max_bytes: int,
    expires_at: datetime,
) -> asyncpg.Record:
    return await conn.fetchrow(
        INSERT_UPLOAD, key, owner_id, purpose, target_id, content_type, max_bytes, expires_at
    )


SELECT_UPLOAD = f"SELECT {UPLOAD_COLUMNS} FROM uploads WHERE key = $1"


async def get_upload(conn: asyncpg.Connection | asyncpg.Pool, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(SELECT_UPLOAD, key)


SELECT_STATUS = "SELECT status FROM uploads WHERE key = $1"


async def upload_status(conn: asyncpg.Connection | asyncpg.Pool, key: str) -> str | None:
    return await conn.fetchval(SELECT_STATUS, key)


REJECT_UPLOAD = "UPDATE uploads SET status = 'rejected' WHERE key = $1 AND status = 'pending'"


async def reject_upload(conn: asyncpg.Connection | asyncpg.Pool, key: str) -> None:
    await conn.execute(REJECT_UPLOAD, key)


ACCEPT_UPLOAD = """
UPDATE uploads SET status = 'accepted'
WHERE key = $1 AND owner_id = $2 AND purpose = $3 AND target_id = $4 AND status = 'pending'
RETURNING key
"""


async def accept_upload(
    conn: asyncpg.Connection, key: str, owner_id: uuid.UUID, purpose: str, target_id: uuid.UUID
) -> bool:
    """Claim a pending upload inside the caller's transaction; False if it is no longer pending
    (a concurrent claim won, or the upload was pruned)."""
    return await conn.fetchval(ACCEPT_UPLOAD, key, owner_id, purpose, target_id) is not None
