"""Size charts (on a garment, or a brand's catalogue entry every user may read), fit outcomes,
and what is learned from them: a user's offset per brand and a chart's bias across users."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from db.blocks import apart
from db.common import iso
from drape import fit

CHART_COLUMNS = """
id, owner_id, garment_id, brand, name, category, chart, bias, outcome_count, created_at,
updated_at
"""

UPSERT_GARMENT_CHART = f"""
INSERT INTO size_charts (owner_id, garment_id, brand, name, category, chart)
SELECT $1, g.id, coalesce($3, g.brand), $4, $5, $6 FROM garments g
WHERE g.id = $2 AND g.owner_id = $1
ON CONFLICT (garment_id) DO UPDATE
SET brand = excluded.brand, name = excluded.name, category = excluded.category,
    chart = excluded.chart, bias = 0, outcome_count = 0
RETURNING {CHART_COLUMNS}
"""


async def put_garment_chart(
    pool: asyncpg.Pool,
    owner_id: uuid.UUID,
    garment_id: uuid.UUID,
    *,
    brand: str | None,
    name: str,
    chart: dict[str, Any],
) -> asyncpg.Record | None:
    """None when the garment is not the owner's. A replaced chart starts learning afresh."""
    return await pool.fetchrow(
        UPSERT_GARMENT_CHART, owner_id, garment_id, brand, name, chart["category"], chart
    )


SELECT_GARMENT_CHART = f"""
SELECT {CHART_COLUMNS} FROM size_charts WHERE garment_id = $1 AND owner_id = $2
"""


async def garment_chart(
    pool: asyncpg.Pool, owner_id: uuid.UUID, garment_id: uuid.UUID
) -> asyncpg.Record | None:
    return await pool.fetchrow(SELECT_GARMENT_CHART, garment_id, owner_id)


DELETE_GARMENT_CHART = "DELETE FROM size_charts WHERE garment_id = $1 AND owner_id = $2"


async def delete_garment_chart(
    pool: asyncpg.Pool, owner_id: uuid.UUID, garment_id: uuid.UUID
) -> bool:
    return await pool.execute(DELETE_GARMENT_CHART, garment_id, owner_id) == "DELETE 1"


INSERT_CATALOGUE_CHART = f"""
INSERT INTO size_charts (owner_id, brand, name, category, chart) VALUES ($1, $2, $3, $4, $5)
RETURNING {CHART_COLUMNS}
"""


async def create_catalogue_chart(
    pool: asyncpg.Pool, owner_id: uuid.UUID, *, brand: str, name: str, chart: dict[str, Any]
) -> asyncpg.Record:
    return await pool.fetchrow(
        INSERT_CATALOGUE_CHART, owner_id, brand, name, chart["category"], chart
    )


# A catalogue chart is anyone's to read while its author's account is active (and the reader
# is not apart from its author by a block); a garment's only its owner's.
SELECT_READABLE = f"""
SELECT {CHART_COLUMNS} FROM size_charts c
WHERE id = $1 AND (owner_id = $2 OR garment_id IS NULL
                   AND EXISTS (SELECT 1 FROM users u WHERE u.id = c.owner_id AND u.is_active)
                   AND NOT {apart("$2", "c.owner_id")})
"""


async def readable_chart(
    pool: asyncpg.Pool, chart_id: uuid.UUID, viewer: uuid.UUID
) -> asyncpg.Record | None:
    return await pool.fetchrow(SELECT_READABLE, chart_id, viewer)


UPDATE_CATALOGUE_CHART = f"""
UPDATE size_charts SET brand = $3, name = $4, category = $5, chart = $6, bias = 0,
       outcome_count = 0
WHERE id = $1 AND owner_id = $2 AND garment_id IS NULL
RETURNING {CHART_COLUMNS}
"""


async def replace_catalogue_chart(
    pool: asyncpg.Pool,
    chart_id: uuid.UUID,
    owner_id: uuid.UUID,
    *,
    brand: str,
    name: str,
    chart: dict[str, Any],
) -> asyncpg.Record | None:
    return await pool.fetchrow(
        UPDATE_CATALOGUE_CHART, chart_id, owner_id, brand, name, chart["category"], chart
    )


DELETE_CATALOGUE_CHART = """
DELETE FROM size_charts WHERE id = $1 AND owner_id = $2 AND garment_id IS NULL
"""


async def delete_catalogue_chart(
    pool: asyncpg.Pool, chart_id: uuid.UUID, owner_id: uuid.UUID
) -> bool:
    return await pool.execute(DELETE_CATALOGUE_CHART, chart_id, owner_id) == "DELETE 1"


LIST_CATALOGUE = f"""
SELECT {CHART_COLUMNS} FROM size_charts c
WHERE garment_id IS NULL
  AND EXISTS (SELECT 1 FROM users u WHERE u.id = c.owner_id AND u.is_active)
  AND NOT {apart("$6", "c.owner_id")}
  AND ($1::text IS NULL OR lower(brand) = lower($1))
  AND ($2::text IS NULL OR category = $2)
  AND (created_at, id) < ($3, $4)
ORDER BY created_at DESC, id DESC
LIMIT $5
"""


async def list_catalogue(
    pool: asyncpg.Pool,
    *,
    brand: str | None,
    category: str | None,
    before: tuple[Any, uuid.UUID],
    limit: int,
    viewer: uuid.UUID,
) -> list[asyncpg.Record]:
    return await pool.fetch(LIST_CATALOGUE, brand, category, *before, limit, viewer)


async def chart_for(
    pool: asyncpg.Pool,
    viewer: uuid.UUID,
    chart_id: uuid.UUID | None,
    garment_id: uuid.UUID | None,
) -> asyncpg.Record | None:
    """A chart by its id (a catalogue one, or mine) or the chart of a garment of mine."""
    if chart_id is not None:
        return await readable_chart(pool, chart_id, viewer)
    if garment_id is not None:
        return await garment_chart(pool, viewer, garment_id)
    return None


def brand_key(row: asyncpg.Record) -> str:
    """What a user's offset is kept under: the brand, or the chart itself when it has none."""
    brand = (row["brand"] or "").strip().lower()
    return brand or f"chart:{row['id']}"


# Per garment of the owner: its own chart, else the newest catalogue chart of its brand and
# category.
CHARTS_OF_GARMENTS = """
SELECT g.id AS garment_id, c.id, c.brand, c.chart, c.bias
FROM garments g
JOIN LATERAL (
    SELECT s.id, s.brand, s.chart, s.bias FROM size_charts s
    WHERE s.garment_id = g.id
       OR (s.garment_id IS NULL AND lower(s.brand) = lower(g.brand) AND s.category = g.category
           AND EXISTS (SELECT 1 FROM users u WHERE u.id = s.owner_id AND u.is_active))
    ORDER BY (s.garment_id IS NOT NULL) DESC, s.created_at DESC
    LIMIT 1
) c ON true
WHERE g.owner_id = $1 AND g.id = ANY($2::uuid[])
"""


async def charts_of_garments(
    pool: asyncpg.Pool, owner_id: uuid.UUID, garment_ids: list[uuid.UUID]
) -> list[asyncpg.Record]:
    return await pool.fetch(CHARTS_OF_GARMENTS, owner_id, garment_ids)


SELECT_OFFSETS = 'SELECT brand_key, "offset" FROM fit_brand_offsets WHERE user_id = $1'


async def user_offsets(pool: asyncpg.Pool, user_id: uuid.UUID) -> dict[str, float]:
    return {r["brand_key"]: float(r["offset"]) for r in await pool.fetch(SELECT_OFFSETS, user_id)}


SELECT_OFFSET = 'SELECT "offset" FROM fit_brand_offsets WHERE user_id = $1 AND brand_key = $2'


async def user_offset(pool: asyncpg.Pool, user_id: uuid.UUID, key: str) -> float:
    value = await pool.fetchval(SELECT_OFFSET, user_id, key)
    return float(value or 0.0)


INSERT_OUTCOME = """
INSERT INTO fit_outcomes (user_id, chart_id, brand_key, size_label, size_index, position,
                          outcome, dimension)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
RETURNING id, created_at
"""
# The user's outcomes for a brand, each position moved by its chart's current bias, so what
# the user's offset learns is what the charts' biases leave unexplained.
USER_OUTCOMES = """
SELECT o.size_index, o.position + c.bias AS position, o.outcome
FROM fit_outcomes o JOIN size_charts c ON c.id = o.chart_id
WHERE o.user_id = $1 AND o.brand_key = $2
ORDER BY o.created_at DESC LIMIT 200
"""
CHART_OUTCOMES = """
SELECT size_index, position, outcome FROM fit_outcomes WHERE chart_id = $1
ORDER BY created_at DESC LIMIT 2000
"""
SET_BIAS = "UPDATE size_charts SET bias = $2, outcome_count = $3 WHERE id = $1"
UPSERT_OFFSET = """
INSERT INTO fit_brand_offsets (user_id, brand_key, "offset", outcome_count) VALUES ($1, $2, $3, $4)
ON CONFLICT (user_id, brand_key) DO UPDATE
SET "offset" = excluded."offset", outcome_count = excluded.outcome_count, updated_at = now()
"""


def _outcomes(rows: list[asyncpg.Record]) -> list[fit.Outcome]:
    return [fit.Outcome(r["size_index"], float(r["position"]), r["outcome"]) for r in rows]


async def record_outcome(
    pool: asyncpg.Pool,
    user_id: uuid.UUID,
    chart: asyncpg.Record,
    *,
    size_label: str,
    size_index: int,
    position: float,
    outcome: str,
    dimension: str | None,
) -> dict[str, Any]:
    """Store one outcome and learn again from it: the chart's bias across every user, then the
    user's offset for the brand. `position` is the body on the chart without any offset.
    Serialized per chart (its row is locked), so concurrent outcomes all count."""
    key = brand_key(chart)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM size_charts WHERE id = $1 FOR UPDATE", chart["id"])
        row = await conn.fetchrow(
            INSERT_OUTCOME, user_id, chart["id"], key, size_label, size_index, position,
            outcome, dimension,
        )  # fmt: skip
        seen = _outcomes(await conn.fetch(CHART_OUTCOMES, chart["id"]))
        bias = fit.learned_offset(seen, fit.CHART_PRIOR_SD)
        await conn.execute(SET_BIAS, chart["id"], bias, len(seen))
        own = _outcomes(await conn.fetch(USER_OUTCOMES, user_id, key))
        offset = fit.learned_offset(own, fit.USER_PRIOR_SD)
        await conn.execute(UPSERT_OFFSET, user_id, key, offset, len(own))
    return {
        "id": str(row["id"]),
        "created_at": iso(row["created_at"]),
        "brand_key": key,
        "user_offset": round(offset, 3),
        "chart_bias": round(bias, 3),
        "chart_outcomes": len(seen),
        "user_outcomes": len(own),
    }


def chart_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "garment_id": str(row["garment_id"]) if row["garment_id"] else None,
        "owner_id": str(row["owner_id"]),
        "brand": row["brand"],
        "name": row["name"],
        "category": row["category"],
        "chart": row["chart"],
        "bias": round(float(row["bias"]), 3),
        "outcome_count": row["outcome_count"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }
