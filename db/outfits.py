"""Outfits: an owner's ordered set of garments, read back with the garments in one query."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from db import uploads as db_uploads
from db import wears as db_wears
from db.garments import filter_sql

OUTFIT_COLUMNS = """
o.id, o.owner_id, o.name, o.description, o.occasion, o.seasons, o.cover_image_key, o.source,
o.is_favorite, o.wear_count, o.last_worn_at, o.created_at, o.updated_at
"""
# Each outfit's items in position order, each with the garment it holds (object keys, not URLs:
# the caller signs them).
ITEMS = """
coalesce((
    SELECT jsonb_agg(jsonb_build_object(
        'garment_id', g.id, 'slot', i.slot, 'position', i.position,
        'garment', jsonb_build_object(
            'id', g.id, 'name', g.name, 'category', g.category, 'subcategory', g.subcategory,
            'colors', g.colors, 'image_key', g.image_key, 'thumbnail_key', g.thumbnail_key,
            'is_archived', g.is_archived)
    ) ORDER BY i.position)
    FROM outfit_items i JOIN garments g ON g.owner_id = i.owner_id AND g.id = i.garment_id
    WHERE i.outfit_id = o.id
), '[]'::jsonb) AS items
"""
# What a client may set; column names in SQL only ever come from this tuple.
WRITABLE = ("name", "description", "occasion", "seasons", "is_favorite")

Item = tuple[uuid.UUID, str, int]  # garment_id, slot, position

SELECT_OUTFIT = f"SELECT {OUTFIT_COLUMNS}, {ITEMS} FROM outfits o WHERE o.id = $1"


async def get_outfit_with_items(
    conn: asyncpg.Connection | asyncpg.Pool, outfit_id: uuid.UUID
) -> dict[str, Any] | None:
    """The outfit with its items, whoever owns it: callers decide who may see it (its owner;
    later, whoever may see a post it is attached to). Object keys are left for the caller to
    sign: `server.routes.outfits.outfit_json` turns this into the API's JSON."""
    row = await conn.fetchrow(SELECT_OUTFIT, outfit_id)
    return dict(row) if row is not None else None


INSERT_OUTFIT = f"""
INSERT INTO outfits (owner_id, {", ".join(WRITABLE)})
VALUES ($1, {", ".join(f"${i}" for i in range(2, len(WRITABLE) + 2))})
RETURNING id
"""

# The composite foreign key outfit_items_garment_fkey refuses another owner's garment.
INSERT_ITEMS = """
INSERT INTO outfit_items (outfit_id, owner_id, garment_id, slot, position)
SELECT $1, $2, garment_id, slot, position
FROM unnest($3::uuid[], $4::text[], $5::smallint[]) AS i (garment_id, slot, position)
"""


async def _insert_items(
    conn: asyncpg.Connection, outfit_id: uuid.UUID, owner_id: uuid.UUID, items: list[Item]
) -> None:
    garments = [garment for garment, _, _ in items]
    slots = [slot for _, slot, _ in items]
    positions = [position for _, _, position in items]
    await conn.execute(INSERT_ITEMS, outfit_id, owner_id, garments, slots, positions)


async def create_outfit(
    pool: asyncpg.Pool, owner_id: uuid.UUID, values: dict[str, Any], items: list[Item]
) -> dict[str, Any]:
    """`values` holds every WRITABLE column."""
    async with pool.acquire() as conn, conn.transaction():
        outfit_id = await conn.fetchval(INSERT_OUTFIT, owner_id, *(values[c] for c in WRITABLE))
        await _insert_items(conn, outfit_id, owner_id, items)
        outfit = await get_outfit_with_items(conn, outfit_id)
    assert outfit is not None
    return outfit


DELETE_ITEMS = "DELETE FROM outfit_items WHERE outfit_id = $1"


async def update_outfit(
    pool: asyncpg.Pool,
    owner_id: uuid.UUID,
    outfit_id: uuid.UUID,
    changes: dict[str, Any],
    items: list[Item] | None,
) -> dict[str, Any] | None:
    """Change the named columns and, when `items` is given, replace every item: one
    transaction, so a reader sees the old outfit or the new one, never a mix."""
    cols = [c for c in WRITABLE if c in changes]
    # With no column to change the row is still updated: it takes the lock and the new
    # updated_at.
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(cols, start=3)) or "name = name"
    sql = f"UPDATE outfits SET {assignments} WHERE id = $1 AND owner_id = $2 RETURNING id"
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval(sql, outfit_id, owner_id, *(changes[c] for c in cols)) is None:
            return None
        if items is not None:
            await conn.execute(DELETE_ITEMS, outfit_id)
            await _insert_items(conn, outfit_id, owner_id, items)
        return await get_outfit_with_items(conn, outfit_id)


DELETE_OUTFIT = "DELETE FROM outfits WHERE id = $1 AND owner_id = $2 RETURNING cover_image_key"


async def delete_outfit(
    pool: asyncpg.Pool, owner_id: uuid.UUID, outfit_id: uuid.UUID
) -> list[str] | None:
    """None if there was no such outfit, else the object keys it leaves behind."""
    row = await pool.fetchrow(DELETE_OUTFIT, outfit_id, owner_id)
    if row is None:
        return None
    return [row["cover_image_key"]] if row["cover_image_key"] else []


LIST_OUTFITS = f"""
SELECT {OUTFIT_COLUMNS}, {ITEMS} FROM outfits o
WHERE o.owner_id = $1 {{conditions}}
ORDER BY o.created_at DESC, o.id DESC
LIMIT $2
"""
CONDITIONS = {
    "occasion": "o.occasion = ${0}",
    "seasons": "o.seasons && ${0}::text[]",
    "favorite": "o.is_favorite = ${0}",
    "garment_id": """EXISTS (
        SELECT 1 FROM outfit_items i WHERE i.outfit_id = o.id AND i.garment_id = ${0})""",
    "after": "(o.created_at, o.id) < (${0}, ${1})",
}


async def list_outfits(
    pool: asyncpg.Pool,
    owner_id: uuid.UUID,
    *,
    limit: int,
    occasion: str | None = None,
    seasons: list[str] | None = None,
    favorite: bool | None = None,
    garment_id: uuid.UUID | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> list[dict[str, Any]]:
    """Newest first; `after` is the (created_at, id) of the last row of the previous page."""
    given: dict[str, tuple[Any, ...]] = {
        "occasion": (occasion,) if occasion else (),
        "seasons": (seasons,) if seasons else (),
        "favorite": (favorite,) if favorite is not None else (),
        "garment_id": (garment_id,) if garment_id else (),
        "after": after or (),
    }
    params: list[Any] = [owner_id, limit]
    sql = LIST_OUTFITS.format(conditions=filter_sql(CONDITIONS, given, params))
    return [dict(r) for r in await pool.fetch(sql, *params)]


SELECT_CATEGORIES = """
SELECT id, category FROM garments WHERE owner_id = $1 AND id = ANY($2::uuid[])
"""


async def garment_categories(
    pool: asyncpg.Pool, owner_id: uuid.UUID, garment_ids: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The category of each of these garments that the owner has."""
    rows = await pool.fetch(SELECT_CATEGORIES, owner_id, garment_ids)
    return {r["id"]: r["category"] for r in rows}


async def mark_worn(
    pool: asyncpg.Pool, owner_id: uuid.UUID, outfit_id: uuid.UUID
) -> dict[str, Any] | None:
    """One more wear of the outfit and of each of its garments, all or nothing: an entry of
    today in the wear log (db/wears.py), which moves the counters."""
    async with pool.acquire() as conn, conn.transaction():
        try:
            await db_wears.log_wear(
                conn, owner_id, worn_on=None, outfit_id=outfit_id, garment_ids=[]
            )
        except db_wears.NothingToWear:
            return None
        return await get_outfit_with_items(conn, outfit_id)


LOCK_COVER = "SELECT cover_image_key FROM outfits WHERE id = $1 AND owner_id = $2 FOR UPDATE"

SET_COVER = "UPDATE outfits SET cover_image_key = $3 WHERE id = $1 AND owner_id = $2"


async def set_cover(
    pool: asyncpg.Pool,
    owner_id: uuid.UUID,
    outfit_id: uuid.UUID,
    *,
    upload_key: str | None,
    cover_key: str | None,
) -> tuple[dict[str, Any], list[str]] | None:
    """Point the outfit at a new cover, claiming the pending upload it was made from, or at
    none. Returns the outfit and the keys it no longer uses; None if the outfit is gone or the
    upload was claimed meanwhile."""
    async with pool.acquire() as conn, conn.transaction():
        locked = await conn.fetchrow(LOCK_COVER, outfit_id, owner_id)
        if locked is None:
            return None
        if upload_key is not None and not await db_uploads.accept_upload(
            conn, upload_key, owner_id, "outfit_cover", outfit_id
        ):
            return None
        await conn.execute(SET_COVER, outfit_id, owner_id, cover_key)
        outfit = await get_outfit_with_items(conn, outfit_id)
    assert outfit is not None
    old = locked["cover_image_key"]
    return outfit, [old] if old else []
