"""AIRecommendation and StyleAnalysis rows, and the wardrobe data the AI jobs read."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from db.blocks import muted
from db.posts import VISIBLE

GARMENTS_FOR_AI = """
SELECT id::text, category, subcategory, colors, pattern, material, formality, warmth, seasons,
       tags, price::float8 AS price, wear_count, last_worn_at, created_at
FROM garments WHERE owner_id = $1 AND NOT is_archived
"""


async def wardrobe(
    conn: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID
) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(GARMENTS_FOR_AI, user_id)]


STYLE_PROFILE = """
SELECT preferred_styles, preferred_colors, avoided_colors, fit, budget_min::float8 AS budget_min,
       budget_max::float8 AS budget_max, occasions, body_shape
FROM style_profiles WHERE user_id = $1
"""


async def style_profile(
    conn: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID
) -> dict[str, Any]:
    row = await conn.fetchrow(STYLE_PROFILE, user_id)
    return dict(row) if row else {}


# Garments the user showed a liking for: in outfits they marked favourite, or in recommended
# outfits they liked or wore.
LIKED_GARMENTS = """
SELECT i.garment_id::text FROM outfits o JOIN outfit_items i ON i.outfit_id = o.id
WHERE o.owner_id = $1 AND o.is_favorite
UNION
SELECT item->>'garment_id' FROM ai_recommendations r, jsonb_array_elements(r.items) item
WHERE r.user_id = $1 AND r.kind = 'outfit' AND r.feedback IN ('liked', 'worn')
"""

RECENTLY_WORN = """
SELECT id::text FROM garments
WHERE owner_id = $1 AND last_worn_at > now() - make_interval(days => $2)
"""

# The outfits of the last few recommendation batches, so a new batch does not repeat them.
# The batch being (re)computed is not one of them: a job that runs again must give its result.
RECENTLY_SHOWN = """
SELECT items FROM ai_recommendations
WHERE user_id = $1 AND kind = 'outfit' AND batch_id IN (
    SELECT batch_id FROM ai_recommendations
    WHERE user_id = $1 AND kind = 'outfit' AND batch_id <> $3
    GROUP BY batch_id ORDER BY max(created_at) DESC LIMIT $2)
"""


async def taste(
    conn: asyncpg.Connection | asyncpg.Pool,
    user_id: uuid.UUID,
    *,
    batch_id: uuid.UUID,
    worn_days: int = 3,
    shown_batches: int = 2,
) -> tuple[set[str], set[str], set[frozenset[str]]]:
    """(liked garment ids, recently worn garment ids, recently shown outfits)."""
    liked = {r[0] for r in await conn.fetch(LIKED_GARMENTS, user_id)}
    worn = {r[0] for r in await conn.fetch(RECENTLY_WORN, user_id, worn_days)}
    shown = {
        frozenset(i["garment_id"] for i in r["items"])
        for r in await conn.fetch(RECENTLY_SHOWN, user_id, shown_batches, batch_id)
    }
    return liked, worn, shown


DELETE_BATCH = "DELETE FROM ai_recommendations WHERE batch_id = $1"

INSERT_RECOMMENDATION = """
INSERT INTO ai_recommendations
    (user_id, job_id, batch_id, kind, rank, occasion, weather, items, target_id, score, terms,
     explanation)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
"""


async def save_batch(
    pool: asyncpg.Pool,
    *,
    user_id: uuid.UUID,
    job_id: uuid.UUID,
    kind: str,
    occasion: str | None,
    weather: dict[str, Any] | None,
    rows: list[dict[str, Any]],
    batch_id: uuid.UUID | None = None,
) -> None:
    """One batch per job (and kind): a job that runs again replaces its own batch, never adds
    a second. The batch id is the job id unless the job writes several kinds."""
    batch = batch_id or job_id
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(DELETE_BATCH, batch)
        await conn.executemany(
            INSERT_RECOMMENDATION,
            [
                (
                    user_id,
                    job_id,
                    batch,
                    kind,
                    rank,
                    occasion,
                    weather,
                    r.get("items", []),
                    r.get("target_id"),
                    r["score"],
                    r.get("terms", {}),
                    r.get("explanation", ""),
                )
                for rank, r in enumerate(rows)
            ],
        )


LATEST_BATCH = """
SELECT id, batch_id, kind, rank, occasion, weather, items, target_id, score, terms, explanation,
       feedback, created_at
FROM ai_recommendations
WHERE user_id = $1 AND kind = $2 AND batch_id = (
    SELECT batch_id FROM ai_recommendations WHERE user_id = $1 AND kind = $2
    ORDER BY created_at DESC LIMIT 1)
ORDER BY rank
"""


async def latest_batch(pool: asyncpg.Pool, user_id: uuid.UUID, kind: str) -> list[asyncpg.Record]:
    return await pool.fetch(LATEST_BATCH, user_id, kind)


SET_FEEDBACK = """
UPDATE ai_recommendations SET feedback = $3 WHERE id = $1 AND user_id = $2 RETURNING id
"""


async def set_feedback(
    pool: asyncpg.Pool, rec_id: uuid.UUID, user_id: uuid.UUID, feedback: str
) -> bool:
    return await pool.fetchval(SET_FEEDBACK, rec_id, user_id, feedback) is not None


UPSERT_ANALYSIS = """
INSERT INTO style_analyses
    (user_id, job_id, garment_count, palette, category_distribution, formality_distribution,
     season_coverage, archetypes, versatility, wear_stats, gaps, summary)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (job_id) DO UPDATE SET
    garment_count = EXCLUDED.garment_count, palette = EXCLUDED.palette,
    category_distribution = EXCLUDED.category_distribution,
    formality_distribution = EXCLUDED.formality_distribution,
    season_coverage = EXCLUDED.season_coverage, archetypes = EXCLUDED.archetypes,
    versatility = EXCLUDED.versatility, wear_stats = EXCLUDED.wear_stats, gaps = EXCLUDED.gaps,
    summary = EXCLUDED.summary, created_at = now()
RETURNING id
"""


async def save_analysis(
    pool: asyncpg.Pool,
    *,
    user_id: uuid.UUID,
    job_id: uuid.UUID,
    analysis: dict[str, Any],
    summary: str,
) -> uuid.UUID:
    a = analysis
    return await pool.fetchval(
        UPSERT_ANALYSIS,
        user_id,
        job_id,
        a["garment_count"],
        a["palette"],
        {"categories": a["categories"], "slots": a["slots"]},
        a["formality"],
        a["seasons"],
        a["styles"],
        {"outfits": a["outfits"], "garments": a["versatility"]},
        {"wear": a["wear"], "worn_outfits": a["worn_outfits"]},
        a["gaps"],
        summary,
    )


LATEST_ANALYSIS = """
SELECT id, job_id, garment_count, palette, category_distribution, formality_distribution,
       season_coverage, archetypes, versatility, wear_stats, gaps, summary, created_at
FROM style_analyses WHERE user_id = $1 ORDER BY created_at DESC LIMIT 1
"""


async def latest_analysis(pool: asyncpg.Pool, user_id: uuid.UUID) -> asyncpg.Record | None:
    return await pool.fetchrow(LATEST_ANALYSIS, user_id)


ACTIVE_USERS = """
SELECT id FROM users
WHERE is_active AND last_login_at > now() - make_interval(days => $1)
  AND EXISTS (SELECT 1 FROM garments g WHERE g.owner_id = users.id)
"""


async def active_users(pool: asyncpg.Pool, days: int = 7) -> list[uuid.UUID]:
    return [r["id"] for r in await pool.fetch(ACTIVE_USERS, days)]


# Social: the interactions collaborative filtering learns from, over a bounded recent window.
RECENT_LIKES = """
SELECT l.user_id::text, l.post_id::text FROM likes l JOIN posts p ON p.id = l.post_id
WHERE p.created_at > now() - make_interval(days => $1)
ORDER BY l.created_at DESC LIMIT $2
"""

ACTIVE_FOLLOWS = """
SELECT follower_id::text, followee_id::text FROM follows WHERE status = 'active' LIMIT $1
"""

# Candidate posts the viewer ($1) may see (db/posts.py VISIBLE) and has not written, by authors
# the viewer has not muted, with their authors.
CANDIDATE_POSTS = f"""
SELECT p.id::text, p.author_id::text FROM posts p JOIN users u ON u.id = p.author_id
WHERE p.created_at > now() - make_interval(days => $2) AND u.is_active AND p.author_id <> $1
  AND p.hidden_at IS NULL AND {VISIBLE} AND NOT {muted("$1", "u.id")}
"""

ALL_USERS = "SELECT id::text, is_active FROM users"

# Never suggested: accounts already followed or asked, muted, or apart by a block either way.
ALREADY_ASKED = """
SELECT followee_id::text FROM follows WHERE follower_id = $1
UNION SELECT muted_id::text FROM mutes WHERE muter_id = $1
UNION SELECT blocked_id::text FROM blocks WHERE blocker_id = $1
UNION SELECT blocker_id::text FROM blocks WHERE blocked_id = $1
"""


async def social_inputs(
    pool: asyncpg.Pool, user_id: uuid.UUID, *, days: int = 90, limit: int = 500_000
) -> dict[str, Any]:
    async with pool.acquire() as conn:
        return {
            "likes": [tuple(r) for r in await conn.fetch(RECENT_LIKES, days, limit)],
            "follows": [tuple(r) for r in await conn.fetch(ACTIVE_FOLLOWS, limit)],
            "candidates": [tuple(r) for r in await conn.fetch(CANDIDATE_POSTS, user_id, days)],
            "users": [(r[0], r[1]) for r in await conn.fetch(ALL_USERS)],
            "asked": {r[0] for r in await conn.fetch(ALREADY_ASKED, user_id)},
        }


EXPLORE_POSTS = """
SELECT r.rank, r.score, r.explanation, r.target_id FROM ai_recommendations r
WHERE r.user_id = $1 AND r.kind = $2 AND r.batch_id = (
    SELECT batch_id FROM ai_recommendations WHERE user_id = $1 AND kind = $2
    ORDER BY created_at DESC LIMIT 1)
ORDER BY r.rank
"""


async def latest_targets(pool: asyncpg.Pool, user_id: uuid.UUID, kind: str) -> list[asyncpg.Record]:
    return await pool.fetch(EXPLORE_POSTS, user_id, kind)
