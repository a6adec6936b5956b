"""Garments: one owner's wardrobe, its filtered keyset-paged list, and the image keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from db import uploads as db_uploads

GARMENT_COLUMNS = """
id, owner_id, name, category, subcategory, colors, color_source, pattern, material, formality,
warmth, seasons, brand, size, price, currency, purchased_on, tags, notes, image_key,
thumbnail_key, wear_count, last_worn_at, is_archived, created_at, updated_at
"""
# What a client may set; column names in SQL only ever come from this tuple.
WRITABLE = (
    "name",
    "category",
    "subcategory",
    "colors",
    "color_source",
    "pattern",
    "material",
    "formality",
    "warmth",
    "seasons",
    "brand",
    "size",
    "price",
    "currency",
    "purchased_on",
    "tags",
    "notes",
    "is_archived",
)

INSERT_GARMENT = f"""
INSERT INTO garments (owner_id, {", ".join(WRITABLE)})
VALUES ($1, {", ".join(f"${i}" for i in range(2, len(WRITABLE) + 2))})
RETURNING {GARMENT_COLUMNS}
"""


async def create_garment(
    pool: asyncpg.Pool, owner_id: uuid.UUID, values: dict[str, Any]
) -> asyncpg.Record:
    """`values` holds every WRITABLE column."""
    return await pool.fetchrow(INSERT_GARMENT, owner_id, *(values[c] for c in WRITABLE))


SELECT_GARMENT = f"SELECT {GARMENT_COLUMNS} FROM garments WHERE id = $1 AND owner_id = $2"


async def get_garment(
    conn: asyncpg.Connection | asyncpg.Pool, owner_id: uuid.UUID, garment_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(SELECT_GARMENT, garment_id, owner_id)


async def update_garment(
    pool: asyncpg.Pool, owner_id: uuid.UUID, garment_id: uuid.UUID, changes: dict[str, Any]
) -> asyncpg.Record | None:
    cols = [c for c in WRITABLE if c in changes]
    if not cols:
        return await get_garment(pool, owner_id, garment_id)
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(cols, start=3))
    sql = (
        f"UPDATE garments SET {assignments} WHERE id = $1 AND owner_id = $2"
        f" RETURNING {GARMENT_COLUMNS}"
    )
    return await pool.fetchrow(sql, garment_id, owner_id, *(changes[c] for c in cols))


DELETE_GARMENT = """
DELETE FROM garments WHERE id = $1 AND owner_id = $2 RETURNING image_key, thumbnail_key
"""


async def delete_garment(
    pool: asyncpg.Pool, owner_id: uuid.UUID, garment_id: uuid.UUID
) -> list[str] | None:
    """None if there was no such garment, else the object keys it leaves behind. Its places in
    outfits go with it (ON DELETE CASCADE)."""
    row = await pool.fetchrow(DELETE_GARMENT, garment_id, owner_id)
    if row is None:
        return None
    return [k for k in (row["image_key"], row["thumbnail_key"]) if k]


# Listing -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class GarmentFilter:
    archived: bool = False
    categories: list[str] | None = None
    color_family: str | None = None
    seasons: list[str] | None = None
    tags: list[str] | None = None
    text: str | None = None  # matched as a substring of name or brand, without wildcards


LIST_GARMENTS = f"""
SELECT {GARMENT_COLUMNS} FROM garments
WHERE owner_id = $1 AND is_archived = $2 {{conditions}}
ORDER BY created_at DESC, id DESC
LIMIT $3
"""
# One fragment per filter; `{0}` (and `{1}`) become the filter's parameter numbers. The gin
# indexes on colors, seasons and tags serve the containment operators.
CONDITIONS = {
    "categories": "category = ANY(${0}::text[])",
    "color_family": "colors @> ${0}::jsonb",
    "seasons": "seasons && ${0}::text[]",
    "tags": "tags @> ${0}::text[]",
    "text": "(name ILIKE ${0} OR brand ILIKE ${0})",
    "after": "(created_at, id) < (${0}, ${1})",
}


def like_pattern(text: str) -> str:
    """A substring match where the user's %, _ and \\ are literal characters."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filter_sql(
    fragments: dict[str, str], given: dict[str, tuple[Any, ...]], params: list[Any]
) -> str:
    """`AND ...` for each filter with values, numbering its parameters after those in `params`
    (which it extends). Only fixed fragments reach the SQL; values travel as parameters."""
    conditions = []
    for name, fragment in fragments.items():
        if given.get(name):
            first = len(params) + 1
            conditions.append("AND " + fragment.format(*range(first, first + len(given[name]))))
            params.extend(given[name])
    return " ".join(conditions)


def list_query(
    owner_id: uuid.UUID,
    where: GarmentFilter,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> tuple[str, list[Any]]:
    """The SQL and parameters of one page of the list (apart so a bench can EXPLAIN it)."""
    given: dict[str, tuple[Any, ...]] = {
        "categories": (where.categories,) if where.categories else (),
        "color_family": ([{"family": where.color_family}],) if where.color_family else (),
        "seasons": (where.seasons,) if where.seasons else (),
        "tags": (where.tags,) if where.tags else (),
        "text": (like_pattern(where.text),) if where.text else (),
        "after": after or (),
    }
    params: list[Any] = [owner_id, where.archived, limit]
    return LIST_GARMENTS.format(conditions=filter_sql(CONDITIONS, given, params)), params


async def list_garments(
    pool: asyncpg.Pool,
    owner_id: uuid.UUID,
    where: GarmentFilter,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> list[asyncpg.Record]:
    """Newest first; `after` is the (created_at, id) of the last row of the previous page."""
    sql, params = list_query(owner_id, where, limit=limit, after=after)
    return await pool.fetch(sql, *params)


# Images ------------------------------------------------------------------------------------------

LOCK_GARMENT_IMAGE = """
SELECT image_key, thumbnail_key FROM garments WHERE id = $1 AND owner_id = $2 FOR UPDATE
"""

SET_GARMENT_IMAGE = f"""
UPDATE garments SET image_key = $3, thumbnail_key = $4 WHERE id = $1 AND owner_id = $2
RETURNING {GARMENT_COLUMNS}
"""


async def set_image(
    pool: asyncpg.Pool,
    owner_id: uuid.UUID,
    garment_id: uuid.UUID,
    *,
    upload_key: str | None,
    image_key: str | None,
    thumbnail_key: str | None,
) -> tuple[asyncpg.Record, list[str]] | None:
    """Point the garment at new image copies, claiming the pending upload they were made from,
    or at none (upload_key None). Returns the garment and the keys it no longer uses; None if
    the garment is gone or the upload was claimed meanwhile."""
    async with pool.acquire() as conn, conn.transaction():
        old = await conn.fetchrow(LOCK_GARMENT_IMAGE, garment_id, owner_id)
        if old is None:
            return None
        if upload_key is not None and not await db_uploads.accept_upload(
            conn, upload_key, owner_id, "garment_image", garment_id
        ):
            return None
        row = await conn.fetchrow(SET_GARMENT_IMAGE, garment_id, owner_id, image_key, thumbnail_key)
    unused = [k for k in (old["image_key"], old["thumbnail_key"]) if k]
    return row, unused


# Dominant colours --------------------------------------------------------------------------------

SELECT_FOR_COLORS = """
SELECT id, owner_id, image_key, thumbnail_key, colors, color_source FROM garments WHERE id = $1
"""


async def get_for_colors(pool: asyncpg.Pool, garment_id: uuid.UUID) -> asyncpg.Record | None:
    return await pool.fetchrow(SELECT_FOR_COLORS, garment_id)


# Only while the image analysed is still the garment's, and never over colours a user set.
SET_IMAGE_COLORS = """
UPDATE garments SET colors = $3, color_source = 'image'
WHERE id = $1 AND image_key = $2 AND (color_source = 'image' OR colors = '[]'::jsonb)
RETURNING id
"""


async def set_image_colors(
    pool: asyncpg.Pool, garment_id: uuid.UUID, image_key: str, colors: list[dict[str, Any]]
) -> bool:
    return await pool.fetchval(SET_IMAGE_COLORS, garment_id, image_key, colors) is not None
