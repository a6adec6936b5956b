"""Blocks and mutes (migrations/0009_blocks_mutes.sql).

The rule of a block is written once, as the SQL of `apart(a, b)`; every surface that shows one
account to another puts it in its WHERE (db/posts.py VISIBLE, comments, follower lists,
notifications, explore, suggestions), so a new surface built on those inherits it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from db.common import KEYSET_TOP


def apart(a: str, b: str) -> str:
    """SQL true when accounts `a` and `b` (SQL expressions) blocked each other, either way."""
    return f"""EXISTS (
    SELECT 1 FROM blocks bl
    WHERE (bl.blocker_id = {a} AND bl.blocked_id = {b})
       OR (bl.blocker_id = {b} AND bl.blocked_id = {a}))"""


def apart_from(viewer: str) -> str:
    """SQL listing (as `id`) the accounts `viewer` and they blocked, either way: the same rule as
    `apart`, as a set for a statement that weighs many accounts at once to anti-join against
    (one lookup per direction, instead of one per account)."""
    return f"""SELECT blocked_id AS id FROM blocks WHERE blocker_id = {viewer}
    UNION ALL SELECT blocker_id FROM blocks WHERE blocked_id = {viewer}"""


def muted(muter: str, author: str) -> str:
    """SQL true when `muter` muted `author`."""
    return f"EXISTS (SELECT 1 FROM mutes mu WHERE mu.muter_id = {muter} AND mu.muted_id = {author})"


@dataclass(slots=True)
class Blocked:
    changed: bool  # False: it was already blocked
    follows_removed: int = 0


# One statement: the block, and the follows and requests between the two removed both ways with
# the counters of the active ones corrected.
BLOCK = """
WITH b AS (
    INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)
    ON CONFLICT DO NOTHING
    RETURNING blocker_id
), gone AS (
    DELETE FROM follows
    WHERE (follower_id = $1 AND followee_id = $2) OR (follower_id = $2 AND followee_id = $1)
    RETURNING follower_id, followee_id, status
), counts AS (
    SELECT u.id,
           count(*) FILTER (WHERE g.follower_id = u.id AND g.status = 'active') AS following,
           count(*) FILTER (WHERE g.followee_id = u.id AND g.status = 'active') AS followers
    FROM users u JOIN gone g ON u.id IN (g.follower_id, g.followee_id)
    GROUP BY u.id
), bumped AS (
    UPDATE users u SET following_count = greatest(u.following_count - c.following, 0),
                       follower_count = greatest(u.follower_count - c.followers, 0)
    FROM counts c
    WHERE u.id = c.id AND (c.following > 0 OR c.followers > 0)
)
SELECT EXISTS (SELECT 1 FROM b) AS changed, (SELECT count(*) FROM gone) AS follows_removed
"""


async def block(pool: asyncpg.Pool, blocker: uuid.UUID, blocked: uuid.UUID) -> Blocked:
    row = await pool.fetchrow(BLOCK, blocker, blocked)
    return Blocked(changed=row["changed"], follows_removed=row["follows_removed"])


UNBLOCK = "DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2 RETURNING 1"


async def unblock(pool: asyncpg.Pool, blocker: uuid.UUID, blocked: uuid.UUID) -> bool:
    """True if a block was lifted. The two stay apart while the other's block of them lasts."""
    return await pool.fetchval(UNBLOCK, blocker, blocked) is not None


IS_APART = f"SELECT {apart('$1', '$2')}"


async def is_apart(conn: asyncpg.Connection | asyncpg.Pool, a: uuid.UUID, b: uuid.UUID) -> bool:
    return bool(await conn.fetchval(IS_APART, a, b))


# What sockets need to know of their accounts when they connect, for many accounts in one round
# trip: the active ones, each with every account it is apart from either way.
SOCKET_ACCOUNTS = """
SELECT u.id, ARRAY(
    SELECT blocked_id FROM blocks WHERE blocker_id = u.id
    UNION SELECT blocker_id FROM blocks WHERE blocked_id = u.id) AS apart
FROM users u WHERE u.id = ANY($1::uuid[]) AND u.is_active
"""


async def socket_accounts(
    conn: asyncpg.Connection | asyncpg.Pool, users: list[uuid.UUID]
) -> dict[uuid.UUID, frozenset[str]]:
    """{account: the accounts it is apart from, as strings} for the active ones of `users`
    (a socket's filter of live events)."""
    rows = await conn.fetch(SOCKET_ACCOUNTS, users)
    return {r["id"]: frozenset(str(u) for u in r["apart"]) for r in rows}


MUTE = """
INSERT INTO mutes (muter_id, muted_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1
"""


async def mute(pool: asyncpg.Pool, muter: uuid.UUID, muted_id: uuid.UUID) -> bool:
    return await pool.fetchval(MUTE, muter, muted_id) is not None


UNMUTE = "DELETE FROM mutes WHERE muter_id = $1 AND muted_id = $2 RETURNING 1"


async def unmute(pool: asyncpg.Pool, muter: uuid.UUID, muted_id: uuid.UUID) -> bool:
    return await pool.fetchval(UNMUTE, muter, muted_id) is not None


PEOPLE = """
SELECT x.created_at, u.id, u.username, u.display_name, u.avatar_url, u.is_verified
FROM {table} x JOIN users u ON u.id = x.{other}
WHERE x.{me} = $1 AND u.is_active AND (x.created_at, u.id) < ($2, $3)
ORDER BY x.created_at DESC, u.id DESC
LIMIT $4
"""
PageFetch = Callable[
    [asyncpg.Pool, uuid.UUID, tuple[Any, Any] | None, int], Awaitable[list[asyncpg.Record]]
]
SELECT_BLOCKED = PEOPLE.format(table="blocks", me="blocker_id", other="blocked_id")
SELECT_MUTED = PEOPLE.format(table="mutes", me="muter_id", other="muted_id")


async def blocked_page(
    pool: asyncpg.Pool, user: uuid.UUID, before: tuple[Any, Any] | None, limit: int
) -> list[asyncpg.Record]:
    """The accounts `user` blocked, newest block first (not those who blocked `user`)."""
    created_at, other = before or KEYSET_TOP
    return await pool.fetch(SELECT_BLOCKED, user, created_at, other, limit)


async def muted_page(
    pool: asyncpg.Pool, user: uuid.UUID, before: tuple[Any, Any] | None, limit: int
) -> list[asyncpg.Record]:
    created_at, other = before or KEYSET_TOP
    return await pool.fetch(SELECT_MUTED, user, created_at, other, limit)
