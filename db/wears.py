"""The wear log: an outfit or single garments worn on a date, undone by deleting the entry, a
calendar of it, and what it says about each garment (most and least worn, idle ones, cost per
wear).

garments.wear_count and last_worn_at (and the outfit's) move with every entry logged or undone,
in the same transaction, so a wardrobe page reads them without counting the log.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, Final

import asyncpg

from db.common import KEYSET_TOP

WEAR_FIELDS = """
w.id, w.worn_on, w.outfit_id, w.created_at,
coalesce((SELECT json_agg(json_build_object(
              'id', g.id, 'name', g.name, 'category', g.category,
              'thumbnail_key', g.thumbnail_key) ORDER BY g.category, g.name, g.id)
          FROM wear_garments wg JOIN garments g ON g.id = wg.garment_id
          WHERE wg.wear_id = w.id), '[]') AS garments
"""

# The outfit's garments and the ones named, of this owner only; none at all is refused by the
# caller. $3 null: today where the user lives (and last_worn_at now); a date: its midnight there.
INSERT_WEAR = """
WITH owner AS (
    SELECT id, coalesce($3::date, (now() AT TIME ZONE timezone)::date) AS day,
           CASE WHEN $3::date IS NULL THEN now() ELSE $3::date::timestamp AT TIME ZONE timezone
           END AS at
    FROM users WHERE id = $1
), outfit AS (
    SELECT id FROM outfits WHERE id = $2 AND owner_id = $1
), worn AS (
    SELECT g.id FROM garments g
    WHERE g.owner_id = $1
      AND (g.id = ANY($4::uuid[])
           OR g.id IN (SELECT i.garment_id FROM outfit_items i
                       JOIN outfit ON outfit.id = i.outfit_id))
    ORDER BY g.id
    FOR UPDATE
), wear AS (
    INSERT INTO wears (user_id, worn_on, outfit_id)
    SELECT owner.id, owner.day, (SELECT id FROM outfit) FROM owner
    WHERE EXISTS (SELECT 1 FROM worn)
    RETURNING id, worn_on
), items AS (
    INSERT INTO wear_garments (wear_id, user_id, garment_id, worn_on)
    SELECT wear.id, $1, worn.id, wear.worn_on FROM wear, worn
), garment_counts AS (
    UPDATE garments g SET wear_count = g.wear_count + 1,
           last_worn_at = greatest(g.last_worn_at, owner.at)
    FROM wear, owner WHERE g.id IN (SELECT id FROM worn)
), outfit_counts AS (
    UPDATE outfits o SET wear_count = o.wear_count + 1,
           last_worn_at = greatest(o.last_worn_at, owner.at)
    FROM wear, owner WHERE o.id = (SELECT id FROM outfit)
)
SELECT (SELECT id FROM wear) AS id, (SELECT id FROM outfit) AS outfit_id,
       (SELECT count(*) FROM worn) AS garments
"""


class NothingToWear(ValueError):
    """No outfit of the user's, or no garments of theirs, was named."""


async def log_wear(
    conn: asyncpg.Connection,
    user_id: uuid.UUID,
    *,
    worn_on: date | None,
    outfit_id: uuid.UUID | None,
    garment_ids: list[uuid.UUID],
) -> uuid.UUID:
    """Log one wear inside the caller's transaction; returns the entry's id. Raises
    NothingToWear if the outfit is not the user's or no garment of theirs is named."""
    row = await conn.fetchrow(INSERT_WEAR, user_id, outfit_id, worn_on, garment_ids)
    if row["id"] is None or (outfit_id is not None and row["outfit_id"] is None):
        raise NothingToWear("outfit_id" if outfit_id is not None else "garment_ids")
    return row["id"]


OWN_GARMENTS = "SELECT count(*) FROM garments WHERE owner_id = $1 AND id = ANY($2::uuid[])"


async def add_wear(
    pool: asyncpg.Pool,
    user_id: uuid.UUID,
    *,
    worn_on: date | None,
    outfit_id: uuid.UUID | None,
    garment_ids: list[uuid.UUID],
) -> asyncpg.Record:
    """Log a wear of the outfit and/or the garments; all of them must be the user's."""
    async with pool.acquire() as conn, conn.transaction():
        if garment_ids:
            known = await conn.fetchval(OWN_GARMENTS, user_id, garment_ids)
            if known != len(set(garment_ids)):
                raise NothingToWear("garment_ids")
        wear_id = await log_wear(
            conn, user_id, worn_on=worn_on, outfit_id=outfit_id, garment_ids=garment_ids
        )
        return await conn.fetchrow(SELECT_WEAR, wear_id, user_id)


SELECT_WEAR = f"SELECT {WEAR_FIELDS} FROM wears w WHERE w.id = $1 AND w.user_id = $2"


# The counters step back; a garment's last wear is the latest left in the log if this entry was
# it (wears from before the log began count in wear_count but have no date to go back to).
UNDO_WEAR = """
WITH gone AS (
    DELETE FROM wears WHERE id = $1 AND user_id = $2 RETURNING id, worn_on, outfit_id
), items AS (
    SELECT wg.garment_id FROM wear_garments wg WHERE wg.wear_id IN (SELECT id FROM gone)
), garment_counts AS (
    UPDATE garments g SET wear_count = greatest(g.wear_count - 1, 0),
           last_worn_at = CASE
               WHEN g.last_worn_at::date > (SELECT worn_on FROM gone) THEN g.last_worn_at
               ELSE (SELECT max(o.worn_on)::timestamp AT TIME ZONE 'UTC' FROM wear_garments o
                     WHERE o.user_id = $2 AND o.garment_id = g.id
                       AND o.wear_id NOT IN (SELECT id FROM gone))
           END
    FROM (SELECT garment_id FROM items ORDER BY garment_id) AS i
    WHERE g.id = i.garment_id
), outfit_counts AS (
    UPDATE outfits o SET wear_count = greatest(o.wear_count - 1, 0),
           last_worn_at = CASE
               WHEN o.last_worn_at::date > (SELECT worn_on FROM gone) THEN o.last_worn_at
               ELSE (SELECT max(w.worn_on)::timestamp AT TIME ZONE 'UTC' FROM wears w
                     WHERE w.user_id = $2 AND w.outfit_id = o.id
                       AND w.id NOT IN (SELECT id FROM gone))
           END
    WHERE o.id = (SELECT outfit_id FROM gone)
)
SELECT count(*) FROM gone
"""


async def undo_wear(pool: asyncpg.Pool, wear_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    async with pool.acquire() as conn, conn.transaction():
        # Lock the entry's garments in id order first, as logging does: no deadlock between an
        # undo and a log of the same garments.
        await conn.execute(
            "SELECT 1 FROM garments WHERE id IN (SELECT garment_id FROM wear_garments"
            " WHERE wear_id = $1 AND user_id = $2) ORDER BY id FOR UPDATE",
            wear_id,
            user_id,
        )
        return bool(await conn.fetchval(UNDO_WEAR, wear_id, user_id))


SELECT_WEARS = f"""
SELECT {WEAR_FIELDS} FROM wears w
WHERE w.user_id = $1 AND w.worn_on BETWEEN $2 AND $3
  AND (w.worn_on, w.created_at, w.id) < ($4, $5, $6)
ORDER BY w.worn_on DESC, w.created_at DESC, w.id DESC
LIMIT $7
"""

EARLIEST: Final = date(1900, 1, 1)
LATEST: Final = date(9999, 12, 31)


async def list_wears(
    pool: asyncpg.Pool,
    user_id: uuid.UUID,
    *,
    first: date | None,
    last: date | None,
    before: tuple[Any, Any, Any] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Entries between `first` and `last` (inclusive), the latest day first."""
    position = before or (LATEST, *KEYSET_TOP)
    return await pool.fetch(
        SELECT_WEARS, user_id, first or EARLIEST, last or LATEST, *position, limit
    )


CALENDAR = f"""
SELECT {WEAR_FIELDS} FROM wears w
WHERE w.user_id = $1 AND w.worn_on BETWEEN $2 AND $3
ORDER BY w.worn_on, w.created_at, w.id
"""


async def calendar(
    pool: asyncpg.Pool, user_id: uuid.UUID, first: date, last: date
) -> list[asyncpg.Record]:
    """Every entry from `first` to `last` (a bounded window: the caller checks its length)."""
    return await pool.fetch(CALENDAR, user_id, first, last)


# Per garment (not archived): how often and when last worn, and what each wear cost. $2 picks
# the order: most worn, least worn, or idle (not worn since $3, never worn first).
GARMENT_STATS = """
SELECT g.id, g.name, g.category, g.thumbnail_key, g.price, g.currency, g.wear_count,
       g.last_worn_at, g.created_at,
       CASE WHEN g.price IS NOT NULL AND g.wear_count > 0
            THEN round(g.price / g.wear_count, 2) END AS cost_per_wear
FROM garments g
WHERE g.owner_id = $1 AND NOT g.is_archived
  AND ($2 <> 'idle' OR g.last_worn_at IS NULL OR g.last_worn_at < $3)
ORDER BY
    CASE WHEN $2 = 'most' THEN g.wear_count END DESC,
    CASE WHEN $2 = 'least' THEN g.wear_count END ASC,
    CASE WHEN $2 = 'idle' THEN coalesce(g.last_worn_at, '-infinity') END ASC,
    g.created_at, g.id
OFFSET $4 LIMIT $5
"""


async def garment_stats(
    pool: asyncpg.Pool,
    user_id: uuid.UUID,
    *,
    order: str,
    idle_since: date,
    offset: int,
    limit: int,
) -> list[asyncpg.Record]:
    return await pool.fetch(GARMENT_STATS, user_id, order, idle_since, offset, limit)
