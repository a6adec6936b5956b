"""Avatar3D rows. `revision` counts changes of the requested body; a build only lands on the
revision it was made for, so a slow build can never overwrite a newer request."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from db.common import KEYSET_TOP, iso
from drape.storage import ObjectStore

AVATAR_COLUMNS = """
id, user_id, name, status, measurements, measured, landmarks, customization, morph_targets,
mesh_key, preview_key, vertex_count, mesh_bytes, revision, is_primary, error, created_at,
updated_at
"""

INSERT_AVATAR = f"""
INSERT INTO avatars (user_id, name, measurements, customization, is_primary)
VALUES ($1, $2, $3, $4, NOT EXISTS (SELECT 1 FROM avatars WHERE user_id = $1 AND is_primary))
RETURNING {AVATAR_COLUMNS}
"""


async def create_avatar(
    pool: asyncpg.Pool,
    user_id: uuid.UUID,
    *,
    name: str,
    measurements: dict[str, float],
    customization: dict[str, Any],
) -> asyncpg.Record:
    return await pool.fetchrow(INSERT_AVATAR, user_id, name, measurements, customization)


SELECT_OWN = f"SELECT {AVATAR_COLUMNS} FROM avatars WHERE id = $1 AND user_id = $2"


async def get_own(
    conn: asyncpg.Connection | asyncpg.Pool, avatar_id: uuid.UUID, user_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(SELECT_OWN, avatar_id, user_id)


SELECT_PRIMARY = f"""
SELECT {AVATAR_COLUMNS} FROM avatars WHERE user_id = $1 ORDER BY is_primary DESC, created_at DESC
LIMIT 1
"""


async def get_primary(pool: asyncpg.Pool, user_id: uuid.UUID) -> asyncpg.Record | None:
    return await pool.fetchrow(SELECT_PRIMARY, user_id)


SELECT_MINE = f"""
SELECT {AVATAR_COLUMNS} FROM avatars
WHERE user_id = $1 AND (created_at, id) < ($2, $3)
ORDER BY created_at DESC, id DESC
LIMIT $4
"""


async def list_mine(
    pool: asyncpg.Pool, user_id: uuid.UUID, before: tuple[Any, Any] | None, limit: int
) -> list[asyncpg.Record]:
    created_at, avatar_id = before or KEYSET_TOP
    return await pool.fetch(SELECT_MINE, user_id, created_at, avatar_id, limit)


LOCK_MINE = "SELECT id, is_primary FROM avatars WHERE user_id = $1 ORDER BY id FOR UPDATE"

DELETE_AVATAR = "DELETE FROM avatars WHERE id = $1 AND user_id = $2"

PROMOTE_NEWEST = """
UPDATE avatars SET is_primary = true
WHERE id = (SELECT id FROM avatars WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1)
"""


async def delete_avatar(pool: asyncpg.Pool, avatar_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """Delete one of the user's avatars; if it was the primary one, the newest left becomes
    primary. False if there is no such avatar of theirs. The caller removes its objects."""
    async with pool.acquire() as conn, conn.transaction():
        mine = {r["id"]: r["is_primary"] for r in await conn.fetch(LOCK_MINE, user_id)}
        if avatar_id not in mine:
            return False
        await conn.execute(DELETE_AVATAR, avatar_id, user_id)
        if mine[avatar_id]:
            await conn.execute(PROMOTE_NEWEST, user_id)
        return True


# Two statements: avatars_one_primary_key is checked row by row, so the old primary steps down
# before the new one steps up.
UNSET_PRIMARY = "UPDATE avatars SET is_primary = false WHERE user_id = $1 AND is_primary"

SET_PRIMARY = f"""
UPDATE avatars SET is_primary = true WHERE id = $1 AND user_id = $2 RETURNING {AVATAR_COLUMNS}
"""


async def set_primary(
    pool: asyncpg.Pool, avatar_id: uuid.UUID, user_id: uuid.UUID
) -> asyncpg.Record | None:
    """Make this avatar the user's primary one (GET /v1/me/avatar); None if not theirs."""
    async with pool.acquire() as conn, conn.transaction():
        mine = {r["id"] for r in await conn.fetch(LOCK_MINE, user_id)}
        if avatar_id not in mine:
            return None
        await conn.execute(UNSET_PRIMARY, user_id)
        return await conn.fetchrow(SET_PRIMARY, avatar_id, user_id)


REQUEST_CHANGE = f"""
UPDATE avatars SET measurements = $3, customization = $4, name = coalesce($5, name),
       revision = greatest(revision + 1, coalesce($6, 0)), status = 'pending', error = NULL
WHERE id = $1 AND user_id = $2
RETURNING {AVATAR_COLUMNS}
"""


async def request_change(
    pool: asyncpg.Pool,
    avatar_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    measurements: dict[str, float],
    customization: dict[str, Any],
    name: str | None = None,
    at_least_revision: int | None = None,
) -> asyncpg.Record | None:
    return await pool.fetchrow(
        REQUEST_CHANGE, avatar_id, user_id, measurements, customization, name, at_least_revision
    )


RENAME = f"UPDATE avatars SET name = $3 WHERE id = $1 AND user_id = $2 RETURNING {AVATAR_COLUMNS}"


async def rename(
    pool: asyncpg.Pool, avatar_id: uuid.UUID, user_id: uuid.UUID, name: str
) -> asyncpg.Record | None:
    return await pool.fetchrow(RENAME, avatar_id, user_id, name)


SELECT_FOR_BUILD = """
SELECT id, user_id, revision, measurements, customization, mesh_key, preview_key, params
FROM avatars WHERE id = $1
"""


async def for_build(
    conn: asyncpg.Connection | asyncpg.Pool, avatar_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(SELECT_FOR_BUILD, avatar_id)


MARK_PROCESSING = """
UPDATE avatars SET status = 'processing' WHERE id = $1 AND revision = $2 AND status <> 'ready'
"""


async def mark_processing(pool: asyncpg.Pool, avatar_id: uuid.UUID, revision: int) -> None:
    await pool.execute(MARK_PROCESSING, avatar_id, revision)


LOCK_REVISION = """
SELECT mesh_key, preview_key FROM avatars WHERE id = $1 AND revision = $2 FOR UPDATE
"""

MARK_READY = f"""
UPDATE avatars SET status = 'ready', mesh_key = $3, preview_key = $4, measured = $5,
       landmarks = $6, params = $7, morph_targets = $8, vertex_count = $9, mesh_bytes = $10,
       error = NULL
WHERE id = $1 AND revision = $2
RETURNING {AVATAR_COLUMNS}
"""


async def mark_ready(
    pool: asyncpg.Pool,
    avatar_id: uuid.UUID,
    revision: int,
    *,
    mesh_key: str,
    preview_key: str,
    measured: dict[str, float],
    landmarks: dict[str, Any],
    params: dict[str, Any],
    morph_targets: list[str],
    vertex_count: int,
    mesh_bytes: int,
) -> tuple[asyncpg.Record | None, list[str]]:
    """Store a finished build if the avatar is still at `revision`. Returns the row (None if a
    newer request superseded this build) and the object keys the build replaced."""
    async with pool.acquire() as conn, conn.transaction():
        old = await conn.fetchrow(LOCK_REVISION, avatar_id, revision)
        if old is None:
            return None, []
        row = await conn.fetchrow(
            MARK_READY,
            avatar_id,
            revision,
            mesh_key,
            preview_key,
            measured,
            landmarks,
            params,
            morph_targets,
            vertex_count,
            mesh_bytes,
        )
        replaced = [
            k
            for k in (old["mesh_key"], old["preview_key"])
            if k and k not in (mesh_key, preview_key)
        ]
        return row, replaced


MARK_FAILED = "UPDATE avatars SET status = 'failed', error = $3 WHERE id = $1 AND revision = $2"


async def mark_failed(pool: asyncpg.Pool, avatar_id: uuid.UUID, revision: int, error: str) -> None:
    await pool.execute(MARK_FAILED, avatar_id, revision, error[:500])


SELECT_LIVE_BASE = "SELECT user_id, params FROM avatars WHERE id = $1 AND status = 'ready'"


async def live_base(pool: asyncpg.Pool, avatar_id: uuid.UUID) -> asyncpg.Record | None:
    return await pool.fetchrow(SELECT_LIVE_BASE, avatar_id)


async def avatar_json(row: asyncpg.Record, store: ObjectStore) -> dict[str, Any]:
    """An avatar row as the API shows it, with signed links to its mesh and preview."""
    out = {
        k: row[k]
        for k in (
            "name",
            "status",
            "revision",
            "is_primary",
            "measurements",
            "measured",
            "landmarks",
            "customization",
            "morph_targets",
            "vertex_count",
            "mesh_bytes",
            "error",
        )
    }
    out["id"] = str(row["id"])
    out["mesh_url"] = await store.url(row["mesh_key"]) if row["mesh_key"] else None
    out["preview_url"] = await store.url(row["preview_key"]) if row["preview_key"] else None
    out["created_at"], out["updated_at"] = iso(row["created_at"]), iso(row["updated_at"])
    return out
