"""Follows and follow requests. A follow of a private account starts as a request ('pending');
follower/following counters count active follows only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from db import notifications
from db.blocks import apart
from db.common import KEYSET_TOP


@dataclass(slots=True)
class FollowResult:
    status: str  # 'active' | 'pending'
    changed: bool
    notification: dict[str, Any] | None = None


# Never between accounts apart by a block (checked again here, in the statement that writes).
INSERT_FOLLOW = f"""
INSERT INTO follows (follower_id, followee_id, status, accepted_at)
SELECT $1, $2, $3, CASE WHEN $3 = 'active' THEN now() END
WHERE NOT {apart("$1::uuid", "$2::uuid")}
ON CONFLICT (follower_id, followee_id) DO NOTHING
RETURNING id, status
"""

CURRENT = "SELECT status FROM follows WHERE follower_id = $1 AND followee_id = $2"

COUNT_FOLLOW = """
WITH a AS (UPDATE users SET following_count = following_count + $3 WHERE id = $1)
UPDATE users SET follower_count = follower_count + $3 WHERE id = $2
"""


async def follow(
    pool: asyncpg.Pool, actor: asyncpg.Record, target: asyncpg.Record
) -> FollowResult | None:
    """None if the two are apart by a block."""
    status = "pending" if target["is_private"] else "active"
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(INSERT_FOLLOW, actor["id"], target["id"], status)
        if row is None:
            current = await conn.fetchval(CURRENT, actor["id"], target["id"])
            return None if current is None else FollowResult(status=current, changed=False)
        if status == "active":
            await conn.execute(COUNT_FOLLOW, actor["id"], target["id"], 1)
        note = await notifications.notify(
            conn,
            user_id=target["id"],
            type_="follow" if status == "active" else "follow_request",
            actor=actor,
        )
        return FollowResult(status=status, changed=True, notification=note)


DELETE_FOLLOW = """
DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2 RETURNING status
"""


async def unfollow(pool: asyncpg.Pool, actor_id: uuid.UUID, target_id: uuid.UUID) -> bool:
    async with pool.acquire() as conn, conn.transaction():
        status = await conn.fetchval(DELETE_FOLLOW, actor_id, target_id)
        if status == "active":
            await conn.execute(COUNT_FOLLOW, actor_id, target_id, -1)
        return status is not None


SELECT_REQUESTS = """
SELECT f.id, f.created_at, u.id AS user_id, u.username, u.display_name, u.avatar_url
FROM follows f JOIN users u ON u.id = f.follower_id
WHERE f.followee_id = $1 AND f.status = 'pending' AND (f.created_at, f.id) < ($2, $3)
ORDER BY f.created_at DESC, f.id DESC
LIMIT $4
"""


async def pending_requests(
    pool: asyncpg.Pool, user_id: uuid.UUID, before: tuple[Any, Any] | None, limit: int
) -> list[asyncpg.Record]:
    created_at, request_id = before or KEYSET_TOP
    return await pool.fetch(SELECT_REQUESTS, user_id, created_at, request_id, limit)


ACCEPT = """
UPDATE follows SET status = 'active', accepted_at = now()
WHERE id = $1 AND followee_id = $2 AND status = 'pending'
RETURNING follower_id
"""


async def accept_request(
    pool: asyncpg.Pool, request_id: uuid.UUID, me: asyncpg.Record
) -> tuple[uuid.UUID, dict[str, Any] | None] | None:
    """Returns (follower id, the follower's notification unless a repeat), or None if no such
    request is mine."""
    async with pool.acquire() as conn, conn.transaction():
        follower = await conn.fetchval(ACCEPT, request_id, me["id"])
        if follower is None:
            return None
        await conn.execute(COUNT_FOLLOW, follower, me["id"], 1)
        note = await notifications.notify(conn, user_id=follower, type_="follow_accepted", actor=me)
        return follower, note


REJECT = "DELETE FROM follows WHERE id = $1 AND followee_id = $2 AND status = 'pending' RETURNING 1"


async def reject_request(pool: asyncpg.Pool, request_id: uuid.UUID, me_id: uuid.UUID) -> bool:
    return await pool.fetchval(REJECT, request_id, me_id) is not None


ACCEPT_ALL = """
WITH accepted AS (
    UPDATE follows SET status = 'active', accepted_at = now()
    WHERE followee_id = $1 AND status = 'pending'
    RETURNING follower_id
), counted AS (
    UPDATE users SET following_count = following_count + 1
    WHERE id IN (SELECT follower_id FROM accepted)
), bumped AS (
    UPDATE users SET follower_count = follower_count + (SELECT count(*) FROM accepted)
    WHERE id = $1
)
SELECT follower_id FROM accepted
"""


async def accept_all(pool: asyncpg.Pool, user_id: uuid.UUID) -> list[uuid.UUID]:
    """When an account goes public, its pending requests become follows; returns the new
    followers."""
    return [r["follower_id"] for r in await pool.fetch(ACCEPT_ALL, user_id)]


# Follower lists leave out the accounts the viewer ($5) is apart from.
SELECT_FOLLOWERS = f"""
SELECT f.created_at, u.id, u.username, u.display_name, u.avatar_url, u.is_verified
FROM follows f JOIN users u ON u.id = f.follower_id
WHERE f.followee_id = $1 AND f.status = 'active' AND (f.created_at, u.id) < ($2, $3)
  AND u.is_active AND NOT {apart("$5", "u.id")}
ORDER BY f.created_at DESC, u.id DESC
LIMIT $4
"""

SELECT_FOLLOWING = f"""
SELECT f.created_at, u.id, u.username, u.display_name, u.avatar_url, u.is_verified
FROM follows f JOIN users u ON u.id = f.followee_id
WHERE f.follower_id = $1 AND f.status = 'active' AND (f.created_at, u.id) < ($2, $3)
  AND u.is_active AND NOT {apart("$5", "u.id")}
ORDER BY f.created_at DESC, u.id DESC
LIMIT $4
"""


async def followers(
    pool: asyncpg.Pool,
    user_id: uuid.UUID,
    before: tuple[Any, Any] | None,
    limit: int,
    viewer: uuid.UUID,
) -> list[asyncpg.Record]:
    created_at, other = before or KEYSET_TOP
    return await pool.fetch(SELECT_FOLLOWERS, user_id, created_at, other, limit, viewer)


async def following(
    pool: asyncpg.Pool,
    user_id: uuid.UUID,
    before: tuple[Any, Any] | None,
    limit: int,
    viewer: uuid.UUID,
) -> list[asyncpg.Record]:
    created_at, other = before or KEYSET_TOP
    return await pool.fetch(SELECT_FOLLOWING, user_id, created_at, other, limit, viewer)


FOLLOWER_IDS = """
SELECT follower_id FROM follows WHERE followee_id = $1 AND status = 'active'
"""


async def follower_ids(pool: asyncpg.Pool, user_id: uuid.UUID) -> list[uuid.UUID]:
    return [r["follower_id"] for r in await pool.fetch(FOLLOWER_IDS, user_id)]
