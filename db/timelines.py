"""The home feed from timelines (drape/timelines.py), with Postgres as the truth: the queries
that fill timelines, and the page built from a timeline's ids in one statement.

Authors above TIMELINE_FANOUT_MAX_FOLLOWERS are in feed_pull_authors: their posts are in no
follower's timeline and SELECT_PAGE merges them in. Whatever a timeline lacks or holds too much
(lost with Redis, being rebuilt, a delete not yet removed), the page is the one db.posts.feed
would give, or db.posts.feed answers it.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from arq.connections import ArqRedis
from redis.asyncio import Redis

from db import follows, posts
from db.blocks import muted
from db.common import KEYSET_TOP
from drape import timelines
from drape.settings import Settings

# The page: the timeline's ids past the cursor, and the newest posts of followed authors that
# are merged at read time, each checked again (the post exists, its author is active and the
# reader follows them or is them): primary-key lookups of posts, users, follows and likes per
# candidate, no merge of every followee's posts.
SELECT_PAGE = f"""
WITH pulled AS (
    SELECT q.id FROM follows f
    JOIN feed_pull_authors b ON b.author_id = f.followee_id
    CROSS JOIN LATERAL (
        SELECT id FROM posts
        WHERE author_id = f.followee_id AND (created_at, id) < ($3, $4)
          AND removed_at IS NULL AND hidden_at IS NULL
        ORDER BY created_at DESC, id DESC
        LIMIT $5
    ) q
    WHERE f.follower_id = $1 AND f.status = 'active'
), candidates AS (
    SELECT id FROM unnest($2::uuid[]) AS t (id)
    UNION
    SELECT id FROM pulled
)
SELECT {posts.POST_FIELDS}
FROM candidates c JOIN posts p ON p.id = c.id JOIN users u ON u.id = p.author_id
LEFT JOIN follows f
    ON f.follower_id = $1 AND f.followee_id = p.author_id AND f.status = 'active'
WHERE (p.created_at, p.id) < ($3, $4) AND u.is_active AND {posts.SHOWN}
  AND (p.author_id = $1 OR f.follower_id IS NOT NULL) AND NOT {muted("$1", "p.author_id")}
ORDER BY p.created_at DESC, p.id DESC
LIMIT $5
"""


def fetch_count(limit: int) -> int:
    """Ids asked of the timeline for a page of `limit`: a few spare for ids that fail the check
    (each costs its lookups; a page left short by more is answered by Postgres)."""
    return limit + max(2, limit // 4)


async def feed(
    pool: asyncpg.Pool,
    queue: ArqRedis,
    settings: Settings,
    viewer: uuid.UUID,
    before: tuple[Any, Any] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """The home feed page db.posts.feed would give, from the viewer's timeline when it has one.
    Without one, Postgres answers and a rebuild is queued; past the timeline's horizon, or when
    too many of its ids failed the check, Postgres answers."""
    got = await timelines.page(queue, settings, viewer, before, fetch_count(limit))
    if got is None:
        await timelines.rebuild(queue, viewer)
        return await posts.feed(pool, viewer, before, limit)
    created_at, post_id = before or KEYSET_TOP
    rows = await pool.fetch(SELECT_PAGE, viewer, got.hex_ids(), created_at, post_id, limit)
    if got.covers([(r["created_at"], r["id"]) for r in rows], limit):
        return rows
    return await posts.feed(pool, viewer, before, limit)


# The newest posts of the accounts whose posts are written into the viewer's timeline (active
# followees not merged at read time, and the viewer), one index probe per followee.
SELECT_REBUILD = f"""
WITH authors AS (
    SELECT f.followee_id AS id FROM follows f JOIN users a ON a.id = f.followee_id
    WHERE f.follower_id = $1 AND f.status = 'active' AND a.is_active
      AND NOT EXISTS (SELECT 1 FROM feed_pull_authors b WHERE b.author_id = f.followee_id)
      AND NOT {muted("$1", "a.id")}
    UNION ALL SELECT $1
)
SELECT q.id, a.id AS author_id, q.created_at FROM authors a
CROSS JOIN LATERAL (
    SELECT id, created_at FROM posts
    WHERE author_id = a.id
    ORDER BY created_at DESC, id DESC
    LIMIT $2
) q
ORDER BY q.created_at DESC, q.id DESC
LIMIT $2
"""


async def rebuild(pool: asyncpg.Pool, redis: Redis, settings: Settings, viewer: uuid.UUID) -> int:
    """Build the viewer's missing timeline; returns the posts it holds (-1: it existed)."""
    if await timelines.exists(redis, viewer):
        return -1
    await timelines.begin_rebuild(redis, viewer)
    size = settings.timeline_size
    rows = await pool.fetch(SELECT_REBUILD, viewer, size + 1)
    entries = [(r["id"], r["author_id"], r["created_at"]) for r in rows[:size]]
    older = rows[size]["created_at"] if len(rows) > size else None
    return await timelines.fill(redis, settings, viewer, entries, older=older)


SELECT_NEW_POST = """
SELECT p.author_id, p.created_at, u.follower_count > $2 AS pulled
FROM posts p JOIN users u ON u.id = p.author_id
WHERE p.id = $1 AND u.is_active
"""

INSERT_PULL_AUTHOR = """
INSERT INTO feed_pull_authors (author_id) VALUES ($1) ON CONFLICT DO NOTHING
"""


# Who gets a new post in their timeline: the author's active followers who have not muted them.
FANOUT_FOLLOWERS = f"""
SELECT follower_id FROM follows
WHERE followee_id = $1 AND status = 'active' AND NOT {muted("follower_id", "$1")}
"""


async def fan_out(
    pool: asyncpg.Pool, redis: Redis, settings: Settings, post_id: uuid.UUID
) -> dict[str, Any]:
    """Write a new post into its author's timeline and its active followers' (those who have a
    timeline). An author above the threshold is recorded as merged at read time instead, before
    its followers are skipped, so no reader misses the post."""
    post = await pool.fetchrow(SELECT_NEW_POST, post_id, settings.timeline_fanout_max_followers)
    if post is None:  # deleted meanwhile, or its author is gone
        return {"followers": 0, "timelines": 0, "pulled": False}
    author = post["author_id"]
    recipients = [author]
    if post["pulled"]:
        await pool.execute(INSERT_PULL_AUTHOR, author)
    else:
        recipients += [r[0] for r in await pool.fetch(FANOUT_FOLLOWERS, author)]
    written = await timelines.add(
        redis, settings, recipients, (post_id, author, post["created_at"])
    )
    return {"followers": len(recipients) - 1, "timelines": written, "pulled": post["pulled"]}


IS_PULLED = "SELECT EXISTS (SELECT 1 FROM feed_pull_authors WHERE author_id = $1)"


async def forget_post(
    pool: asyncpg.Pool, redis: Redis, post_id: uuid.UUID, author_id: uuid.UUID
) -> int:
    """Take a deleted post out of the timelines it went to. For an author merged at read time
    only the author's own: the post can be in followers' timelines only from before, and the
    page query leaves it out anyway."""
    holders = [author_id]
    if not await pool.fetchval(IS_PULLED, author_id):
        holders += await follows.follower_ids(pool, author_id)
    return await timelines.remove(redis, holders, post_id, author_id)


SELECT_AUTHOR_RECENT = """
SELECT id, author_id, created_at FROM posts
WHERE author_id = $1
ORDER BY created_at DESC, id DESC
LIMIT $2
"""

# Of `viewers`, those who follow the author now and have not muted them (a follow undone
# meanwhile merges nothing).
SELECT_ACTIVE_FOLLOWERS = f"""
SELECT follower_id FROM follows
WHERE followee_id = $1 AND follower_id = ANY($2::uuid[]) AND status = 'active'
  AND NOT {muted("follower_id", "$1")}
"""


async def merge_author(
    pool: asyncpg.Pool,
    redis: Redis,
    settings: Settings,
    author_id: uuid.UUID,
    viewers: list[uuid.UUID],
) -> int:
    """New followers of `author_id` get the author's newest posts in their timelines (nothing
    for an author merged at read time). Returns the posts written, summed over viewers."""
    if await pool.fetchval(IS_PULLED, author_id):
        return 0
    followers = [
        r["follower_id"] for r in await pool.fetch(SELECT_ACTIVE_FOLLOWERS, author_id, viewers)
    ]
    if not followers:
        return 0
    rows = await pool.fetch(SELECT_AUTHOR_RECENT, author_id, settings.timeline_size)
    entries = [(r["id"], r["author_id"], r["created_at"]) for r in rows]
    added = 0
    for viewer in followers:
        added += await timelines.merge(redis, settings, viewer, entries)
    return added
