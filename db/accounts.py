"""Closing an account: what must vanish at once, and the purge of everything that is the user's.

Both are idempotent: running either again after a crash leaves the same rows.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg

# Object keys are laid out as <kind>/<owner id>/...: everything under these is the user's.
OBJECT_PREFIXES = ("avatars", "garments", "outfits", "posts", "users", "exports")

CLOSE = """
WITH account AS (
    UPDATE users SET is_active = false, deleted_at = coalesce(deleted_at, now())
    WHERE id = $1 RETURNING id
), gone_likes AS (
    DELETE FROM likes WHERE user_id = $1 RETURNING post_id
), gone_comments AS (
    -- Hidden or removed comments (db/reports.py), and those of a suspended account (every
    -- statement here reads users as it was before it), already left the count. Replies to the
    -- user's comments go with them.
    DELETE FROM comments c
    WHERE author_id = $1 OR parent_id IN (SELECT id FROM comments WHERE author_id = $1)
    RETURNING post_id, hidden_at IS NULL AND removed_at IS NULL
              AND (SELECT is_active FROM users WHERE id = c.author_id) AS counted
), gone_follows AS (
    DELETE FROM follows WHERE follower_id = $1 OR followee_id = $1
    RETURNING follower_id, followee_id, status
), sessions AS (
    UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL
    RETURNING family_id
), post_counts AS (
    -- One UPDATE per row: two CTEs updating the same row would apply only one of them.
    UPDATE posts p SET like_count = p.like_count - d.likes,
                       comment_count = p.comment_count - d.comments
    FROM (
        SELECT post_id, sum(likes) AS likes, sum(comments) AS comments FROM (
            SELECT post_id, 1 AS likes, 0 AS comments FROM gone_likes
            UNION ALL SELECT post_id, 0, 1 FROM gone_comments WHERE counted
        ) x GROUP BY post_id
    ) d
    WHERE p.id = d.post_id AND p.author_id <> $1
), user_counts AS (
    UPDATE users u SET follower_count = u.follower_count - d.followers,
                       following_count = u.following_count - d.following
    FROM (
        SELECT other, sum(followers) AS followers, sum(following) AS following FROM (
            SELECT followee_id AS other, 1 AS followers, 0 AS following FROM gone_follows
            WHERE status = 'active' AND follower_id = $1
            UNION ALL
            SELECT follower_id, 0, 1 FROM gone_follows
            WHERE status = 'active' AND followee_id = $1
        ) x GROUP BY other
    ) d
    WHERE u.id = d.other
)
SELECT (SELECT count(*) FROM account) AS closed,
       (SELECT array_agg(DISTINCT family_id) FROM sessions) AS sessions
"""


# The posts whose counters CLOSE corrects, locked first and by id: every writer takes a post's
# row before its likes' and comments' (liking, commenting, hiding a comment), so CLOSE deleting
# a comment and then waiting for its post could deadlock with a moderator hiding that comment.
LOCK_TOUCHED_POSTS = """
SELECT id FROM posts
WHERE id IN (SELECT post_id FROM likes WHERE user_id = $1
             UNION SELECT post_id FROM comments WHERE author_id = $1)
  AND author_id <> $1
ORDER BY id
FOR UPDATE
"""


async def close_account(conn: asyncpg.Connection, user_id: uuid.UUID) -> list[uuid.UUID] | None:
    """Make the account vanish from every other user's view now; returns its sessions that were
    still live (to end their access tokens too), or None if there is no such account. Run it
    inside a transaction, which holds the posts' locks until CLOSE is done."""
    await conn.execute(LOCK_TOUCHED_POSTS, user_id)
    row = await conn.fetchrow(CLOSE, user_id)
    if not row["closed"]:
        return None
    return list(row["sessions"] or [])


PURGE = """
WITH seen AS (
    DELETE FROM notifications WHERE actor_id = $1
)
DELETE FROM users WHERE id = $1 AND deleted_at IS NOT NULL
"""


async def purge_rows(conn: asyncpg.Connection, user_id: uuid.UUID) -> None:
    """Every row that is the user's: the account row, and through its foreign keys (ON DELETE
    CASCADE) its profiles, wardrobe, outfits, posts with their likes and comments, avatars,
    jobs, recommendations, analyses, tokens and devices; plus the notifications it caused."""
    await conn.execute(PURGE, user_id)


PENDING_PURGES = """
SELECT id FROM users WHERE deleted_at IS NOT NULL AND deleted_at < now() - $1::interval
ORDER BY deleted_at LIMIT 100
"""


async def pending_purges(pool: asyncpg.Pool, older_than: float) -> list[uuid.UUID]:
    return [r["id"] for r in await pool.fetch(PENDING_PURGES, timedelta(seconds=older_than))]


# Columns that name the owner of a row: every foreign key to users(id), read from the catalog
# so a new table is exported without a change here.
OWNER_COLUMNS = """
SELECT DISTINCT kcu.table_name, kcu.column_name
FROM information_schema.referential_constraints rc
JOIN information_schema.key_column_usage kcu
  ON kcu.constraint_name = rc.constraint_name AND kcu.constraint_schema = rc.constraint_schema
JOIN information_schema.constraint_column_usage ccu
  ON ccu.constraint_name = rc.unique_constraint_name
 AND ccu.constraint_schema = rc.unique_constraint_schema
WHERE kcu.table_schema = 'public' AND ccu.table_name = 'users' AND ccu.column_name = 'id'
ORDER BY 1, 2
"""
# Never exported: what would let someone else sign in as the user.
SECRET_COLUMNS = ("password_hash", "token_hash")
# Rows that name the user but are another account's own act, which that account may keep from
# them: who blocked or muted them (a mute is silent) and who reported them.
OTHERS_ACTS = {("blocks", "blocked_id"), ("mutes", "muted_id"), ("reports", "owner_id")}


async def export_rows(pool: asyncpg.Pool, user_id: uuid.UUID) -> dict[str, list[Any]]:
    """Every row that names the user, per table and column (`table` or `table.column` when a
    table names users twice, e.g. follows), as JSON-ready dicts without secrets."""
    owners = await pool.fetch(OWNER_COLUMNS)
    per_table: dict[str, list[str]] = {}
    for r in owners:
        if (r["table_name"], r["column_name"]) not in OTHERS_ACTS:
            per_table.setdefault(r["table_name"], []).append(r["column_name"])
    strip = " ".join(f"- '{c}'" for c in SECRET_COLUMNS)
    out: dict[str, list[Any]] = {
        "users": [
            await pool.fetchval(f"SELECT to_jsonb(u) {strip} FROM users u WHERE id = $1", user_id)
        ]
    }
    for table, columns in sorted(per_table.items()):
        for column in columns:
            name = table if len(columns) == 1 else f"{table}.{column}"
            sql = f'SELECT to_jsonb(t) {strip} FROM "{table}" t WHERE "{column}" = $1'
            out[name] = list(
                await pool.fetchval(
                    f"SELECT coalesce(jsonb_agg(x), '[]') FROM ({sql}) s(x)", user_id
                )
            )
    return out


LAST_EXPORT = """
SELECT created_at FROM jobs
WHERE user_id = $1 AND kind = 'export' AND status <> 'failed'
  AND created_at > now() - interval '1 day'
ORDER BY created_at DESC LIMIT 1
"""


async def last_export(pool: asyncpg.Pool, user_id: uuid.UUID) -> Any:
    """When the user's export of the last day was asked for, or None."""
    return await pool.fetchval(LAST_EXPORT, user_id)
