"""Posts, likes and comments, with the feed. Counters live on the post row and change in the
same transaction as the like or comment, so they stay exact under concurrency."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from db import notifications, uploads
from db.common import KEYSET_BOTTOM, KEYSET_TOP

# Which posts (p) and comments (c) are shown at all (migrations/0007_moderation.sql): none a
# moderator removed, and none hidden pending review unless the viewer ($1) wrote it.
SHOWN = "(p.removed_at IS NULL AND (p.hidden_at IS NULL OR p.author_id = $1))"
COMMENT_SHOWN = "(c.removed_at IS NULL AND (c.hidden_at IS NULL OR c.author_id = $1))"

# Who may see an author's posts: everyone if the account is public; otherwise the author and
# active followers; of those posts, the SHOWN ones. $1 is the viewer, u the author, p the post.
VISIBLE = f"""
({SHOWN} AND (NOT u.is_private OR u.id = $1 OR EXISTS (
    SELECT 1 FROM follows f
    WHERE f.follower_id = $1 AND f.followee_id = u.id AND f.status = 'active')))
"""

POST_FIELDS = """
p.id, p.caption, p.outfit_id, p.image_key, p.like_count, p.comment_count, p.created_at,
p.author_id, u.username AS author_username, u.display_name AS author_display_name,
u.avatar_url AS author_avatar_url,
EXISTS (SELECT 1 FROM likes l WHERE l.post_id = p.id AND l.user_id = $1) AS liked_by_me
"""


INSERT_POST = """
WITH p AS (
    INSERT INTO posts (author_id, caption, outfit_id, image_key)
    VALUES ($1, $2, $3, $4)
    RETURNING id
), bump AS (
    UPDATE users SET post_count = post_count + 1 WHERE id = $1
)
SELECT id FROM p
"""


async def create_post(
    pool: asyncpg.Pool,
    *,
    author_id: uuid.UUID,
    caption: str,
    outfit_id: uuid.UUID | None,
    image_key: str | None,
) -> asyncpg.Record:
    async with pool.acquire() as conn, conn.transaction():
        if outfit_id is not None:
            owner = await conn.fetchval("SELECT owner_id FROM outfits WHERE id = $1", outfit_id)
            if owner != author_id:
                raise PermissionError("outfit_id")
        post_id = await conn.fetchval(INSERT_POST, author_id, caption, outfit_id, image_key)
        return await get_visible_post(conn, post_id, author_id)  # type: ignore[return-value]


SELECT_VISIBLE_POST = f"""
SELECT {POST_FIELDS}
FROM posts p JOIN users u ON u.id = p.author_id
WHERE p.id = $2 AND u.is_active AND {VISIBLE}
"""


async def get_visible_post(
    conn: asyncpg.Connection | asyncpg.Pool, post_id: uuid.UUID, viewer: uuid.UUID
) -> asyncpg.Record | None:
    """The post if it exists and the viewer may see it; None either way otherwise, so a private
    post's existence does not leak."""
    return await conn.fetchrow(SELECT_VISIBLE_POST, viewer, post_id)


SELECT_AUTHOR_POSTS = f"""
SELECT {POST_FIELDS}
FROM posts p JOIN users u ON u.id = p.author_id
WHERE p.author_id = $2 AND {SHOWN} AND (p.created_at, p.id) < ($3, $4)
ORDER BY p.created_at DESC, p.id DESC
LIMIT $5
"""


async def author_posts(
    pool: asyncpg.Pool,
    viewer: uuid.UUID,
    author_id: uuid.UUID,
    before: tuple[Any, Any] | None,
    limit: int,
) -> list[asyncpg.Record]:
    created_at, post_id = before or KEYSET_TOP
    return await pool.fetch(SELECT_AUTHOR_POSTS, viewer, author_id, created_at, post_id, limit)


# One index-only probe per followed author (posts_author_timeline_idx holds author, created_at
# and id), each taking at most `limit` keys past the cursor; the merge keeps `limit` of them and
# only those rows are read in full. The cost grows with the number of followees, not with the
# size of the posts table (bench/feed.py: 3.5x fewer Postgres CPU per page than reading the
# full rows of every candidate).
SELECT_FEED = f"""
WITH authors AS (
    SELECT f.followee_id AS id FROM follows f JOIN users a ON a.id = f.followee_id
    WHERE f.follower_id = $1 AND f.status = 'active' AND a.is_active
    UNION ALL SELECT $1
), page AS (
    SELECT q.id, q.created_at FROM authors a
    CROSS JOIN LATERAL (
        SELECT id, created_at FROM posts
        WHERE author_id = a.id AND (created_at, id) < ($2, $3)
          AND removed_at IS NULL AND (hidden_at IS NULL OR author_id = $1)
        ORDER BY created_at DESC, id DESC
        LIMIT $4
    ) q
    ORDER BY q.created_at DESC, q.id DESC
    LIMIT $4
)
SELECT {POST_FIELDS}
FROM page JOIN posts p ON p.id = page.id JOIN users u ON u.id = p.author_id
ORDER BY p.created_at DESC, p.id DESC
"""


async def feed(
    pool: asyncpg.Pool, viewer: uuid.UUID, before: tuple[Any, Any] | None, limit: int
) -> list[asyncpg.Record]:
    created_at, post_id = before or KEYSET_TOP
    return await pool.fetch(SELECT_FEED, viewer, created_at, post_id, limit)


# A removed post is gone for its author too; a hidden one already left the count.
DELETE_POST = """
WITH d AS (
    DELETE FROM posts WHERE id = $1 AND author_id = $2 AND removed_at IS NULL
    RETURNING author_id, hidden_at IS NULL AS counted
), bump AS (
    UPDATE users SET post_count = greatest(post_count - 1, 0)
    WHERE id IN (SELECT author_id FROM d WHERE counted)
)
SELECT author_id FROM d
"""


async def delete_post(pool: asyncpg.Pool, post_id: uuid.UUID, author_id: uuid.UUID) -> bool:
    return await pool.fetchval(DELETE_POST, post_id, author_id) is not None


# Likes ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Change:
    """What a write changed, for the events sent after commit."""

    post_id: uuid.UUID
    author_id: uuid.UUID
    like_count: int = 0
    comment_count: int = 0
    changed: bool = False
    notification: dict[str, Any] | None = None
    comment: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


LOCK_VISIBLE_POST = f"""
SELECT p.id, p.author_id, p.like_count, p.comment_count
FROM posts p JOIN users u ON u.id = p.author_id
WHERE p.id = $2 AND u.is_active AND {VISIBLE}
FOR UPDATE OF p
"""

# A like is one statement (one round trip, atomic on its own): lock the visible post, insert the
# like unless it exists, bump the counter, and store the author's notification with the next
# seq unless one about this like is recent (db/notifications.py INSERT_NOTIFICATION: the same
# mark, then the counter). Concurrent likes of one post queue on the post's row lock, so the
# count stays exact.
LIKE = f"""
WITH post AS (
    SELECT p.id, p.author_id, p.like_count
    FROM posts p JOIN users u ON u.id = p.author_id
    WHERE p.id = $2 AND u.is_active AND {VISIBLE}
    FOR UPDATE OF p
), liked AS (
    INSERT INTO likes (post_id, user_id) SELECT id, $1 FROM post
    ON CONFLICT DO NOTHING
    RETURNING post_id
), bumped AS (
    UPDATE posts SET like_count = like_count + 1
    WHERE id IN (SELECT post_id FROM liked)
    RETURNING like_count
), mark AS (
    INSERT INTO notification_marks AS m (user_id, actor_id, type, post_id, at)
    SELECT author_id, $1, 'like', $2, now() FROM post
    WHERE author_id <> $1 AND EXISTS (SELECT 1 FROM liked)
    ON CONFLICT (user_id, actor_id, type, post_id) DO UPDATE SET at = excluded.at
    WHERE m.at <= excluded.at - make_interval(secs => $3)
    RETURNING user_id
), counter AS (
    INSERT INTO notification_counters AS c (user_id, last_seq)
    SELECT user_id, 1 FROM mark
    ON CONFLICT (user_id) DO UPDATE SET last_seq = c.last_seq + 1
    RETURNING user_id, last_seq
), note AS (
    INSERT INTO notifications (user_id, seq, type, actor_id, post_id)
    SELECT user_id, last_seq, 'like', $1, $2 FROM counter
    RETURNING seq, id, type, actor_id, post_id, comment_id, created_at
)
SELECT post.author_id, (SELECT username FROM users WHERE id = $1) AS actor_username,
       coalesce((SELECT like_count FROM bumped), post.like_count) AS like_count,
       EXISTS (SELECT 1 FROM liked) AS changed,
       note.seq, note.id, note.type, note.actor_id, note.post_id, note.comment_id, note.created_at
FROM post LEFT JOIN note ON true
"""

UNLIKE = f"""
WITH post AS (
    SELECT p.id, p.author_id, p.like_count
    FROM posts p JOIN users u ON u.id = p.author_id
    WHERE p.id = $2 AND u.is_active AND {VISIBLE}
    FOR UPDATE OF p
), gone AS (
    DELETE FROM likes WHERE post_id IN (SELECT id FROM post) AND user_id = $1
    RETURNING post_id
), bumped AS (
    UPDATE posts SET like_count = like_count - 1
    WHERE id IN (SELECT post_id FROM gone)
    RETURNING like_count
)
SELECT post.author_id, (SELECT username FROM users WHERE id = $1) AS actor_username,
       coalesce((SELECT like_count FROM bumped), post.like_count) AS like_count,
       EXISTS (SELECT 1 FROM gone) AS changed
FROM post
"""


async def like(pool: asyncpg.Pool, post_id: uuid.UUID, actor_id: uuid.UUID) -> Change | None:
    """Idempotent: liking twice changes nothing the second time. None if not visible. The
    actor's username comes back in `extra` (no separate user lookup)."""
    row = await pool.fetchrow(LIKE, actor_id, post_id, notifications.REPEAT_WINDOW)
    if row is None:
        return None
    change = _like_change(post_id, row)
    if row["seq"] is not None:
        change.notification = notifications.notification_json(
            row, actor_username=row["actor_username"]
        )
    return change


async def unlike(pool: asyncpg.Pool, post_id: uuid.UUID, actor_id: uuid.UUID) -> Change | None:
    row = await pool.fetchrow(UNLIKE, actor_id, post_id)
    return None if row is None else _like_change(post_id, row)


def _like_change(post_id: uuid.UUID, row: asyncpg.Record) -> Change:
    return Change(
        post_id=post_id,
        author_id=row["author_id"],
        like_count=row["like_count"],
        changed=row["changed"],
        extra={"actor_username": row["actor_username"]},
    )


# Comments ---------------------------------------------------------------------------------------

COMMENT_FIELDS = """
c.id, c.post_id, c.body, c.created_at, c.author_id, a.username AS author_username,
a.avatar_url AS author_avatar_url
"""

INSERT_COMMENT = """
INSERT INTO comments (post_id, author_id, body) VALUES ($1, $2, $3)
RETURNING id, post_id, body, created_at, author_id
"""

BUMP_COMMENTS = """
UPDATE posts SET comment_count = comment_count + $2 WHERE id = $1 RETURNING comment_count
"""


async def add_comment(
    pool: asyncpg.Pool, post_id: uuid.UUID, actor: asyncpg.Record, body: str
) -> Change | None:
    async with pool.acquire() as conn, conn.transaction():
        post = await conn.fetchrow(LOCK_VISIBLE_POST, actor["id"], post_id)
        if post is None:
            return None
        row = await conn.fetchrow(INSERT_COMMENT, post_id, actor["id"], body)
        change = Change(
            post_id=post_id,
            author_id=post["author_id"],
            changed=True,
            like_count=post["like_count"],
        )
        change.comment_count = await conn.fetchval(BUMP_COMMENTS, post_id, 1)
        change.comment = {
            **dict(row),
            "author_username": actor["username"],
            "author_avatar_url": actor["avatar_url"],
        }
        if post["author_id"] != actor["id"]:
            change.notification = await notifications.notify(
                conn,
                user_id=post["author_id"],
                type_="comment",
                actor=actor,
                post_id=post_id,
                comment_id=row["id"],
            )
        return change


SELECT_COMMENTS = f"""
SELECT {COMMENT_FIELDS}
FROM comments c JOIN users a ON a.id = c.author_id
WHERE c.post_id = $2 AND a.is_active AND {COMMENT_SHOWN} AND (c.created_at, c.id) > ($3, $4)
ORDER BY c.created_at, c.id
LIMIT $5
"""


async def comments(
    pool: asyncpg.Pool,
    post_id: uuid.UUID,
    after: tuple[Any, Any] | None,
    limit: int,
    viewer: uuid.UUID | None = None,
) -> list[asyncpg.Record]:
    """A page of the post's comments that `viewer` may see (hidden ones only to their author)."""
    created_at, comment_id = after or KEYSET_BOTTOM
    return await pool.fetch(SELECT_COMMENTS, viewer, post_id, created_at, comment_id, limit)


LOCK_COMMENT = f"""
SELECT c.id, c.post_id, c.author_id, p.author_id AS post_author_id,
       u.is_active AND {VISIBLE} AS post_visible, c.hidden_at IS NULL AS counted
FROM comments c JOIN posts p ON p.id = c.post_id JOIN users u ON u.id = p.author_id
WHERE c.id = $2 AND {COMMENT_SHOWN}
FOR UPDATE OF p
"""


async def delete_comment(
    pool: asyncpg.Pool, comment_id: uuid.UUID, actor_id: uuid.UUID
) -> Change | bool | None:
    """The comment's author and the post's owner may delete it. Returns None if there is no
    such comment or it is under a post the actor may not see (whose existence must not show),
    False if the actor may not, else the change."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(LOCK_COMMENT, actor_id, comment_id)
        if row is None:
            return None
        if actor_id not in (row["author_id"], row["post_author_id"]):
            return False if row["post_visible"] else None
        await conn.execute("DELETE FROM comments WHERE id = $1", comment_id)
        count = await conn.fetchval(BUMP_COMMENTS, row["post_id"], -1 if row["counted"] else 0)
        return Change(
            post_id=row["post_id"],
            author_id=row["post_author_id"],
            changed=True,
            comment_count=count,
            extra={"comment_id": str(comment_id)},
        )


OUTFIT_SUMMARIES = """
SELECT o.id, o.name,
       coalesce(json_agg(json_build_object(
           'garment_id', i.garment_id, 'slot', i.slot, 'position', i.position,
           'name', g.name, 'category', g.category) ORDER BY i.position)
         FILTER (WHERE i.garment_id IS NOT NULL), '[]') AS items
FROM outfits o
LEFT JOIN outfit_items i ON i.outfit_id = o.id
LEFT JOIN garments g ON g.id = i.garment_id
WHERE o.id = ANY($1::uuid[])
GROUP BY o.id
"""


async def outfit_summaries(
    conn: asyncpg.Connection | asyncpg.Pool, outfit_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """The outfits shown with a page of posts, in one query."""
    if not outfit_ids:
        return {}
    rows = await conn.fetch(OUTFIT_SUMMARIES, outfit_ids)
    return {r["id"]: {"id": str(r["id"]), "name": r["name"], "items": r["items"]} for r in rows}


LOCK_OWN_POST = "SELECT image_key FROM posts WHERE id = $1 AND author_id = $2 FOR UPDATE"

SET_POST_IMAGE = "UPDATE posts SET image_key = $2 WHERE id = $1"


async def set_image(
    pool: asyncpg.Pool,
    author_id: uuid.UUID,
    post_id: uuid.UUID,
    *,
    upload_key: str | None,
    image_key: str | None,
) -> list[str] | None:
    """Point the post at a checked image (claiming its pending upload), or at none. Returns the
    keys no longer used; None if the post is gone or the upload was claimed meanwhile."""
    async with pool.acquire() as conn, conn.transaction():
        old = await conn.fetchrow(LOCK_OWN_POST, post_id, author_id)
        if old is None:
            return None
        if upload_key is not None and not await uploads.accept_upload(
            conn, upload_key, author_id, "post_image", post_id
        ):
            return None
        await conn.execute(SET_POST_IMAGE, post_id, image_key)
    return [old["image_key"]] if old["image_key"] else []


SELECT_VISIBLE_POSTS = f"""
SELECT {POST_FIELDS}
FROM posts p JOIN users u ON u.id = p.author_id
WHERE p.id = ANY($2::uuid[]) AND u.is_active AND {VISIBLE}
"""


async def visible_posts(
    pool: asyncpg.Pool, viewer: uuid.UUID, post_ids: list[uuid.UUID]
) -> list[asyncpg.Record]:
    """The posts among `post_ids` the viewer may see now, in the order given."""
    rows = {r["id"]: r for r in await pool.fetch(SELECT_VISIBLE_POSTS, viewer, post_ids)}
    return [rows[i] for i in post_ids if i in rows]


SELECT_POPULAR = f"""
SELECT {POST_FIELDS}
FROM posts p JOIN users u ON u.id = p.author_id
WHERE p.author_id <> $1 AND u.is_active AND p.created_at > now() - make_interval(days => $3)
  AND {VISIBLE}
ORDER BY p.like_count + 2 * p.comment_count DESC, p.created_at DESC, p.id DESC
LIMIT $2
"""


async def popular_posts(
    pool: asyncpg.Pool, viewer: uuid.UUID, limit: int, days: int = 14
) -> list[asyncpg.Record]:
    """Others' recent posts the viewer may see, most liked and discussed first: explore's cold
    start before the viewer's own picks are computed."""
    return await pool.fetch(SELECT_POPULAR, viewer, limit, days)
