"""Posts, likes and comments, with the feed. Counters live on the post row and change in the
same transaction as the like or comment, so they stay exact under concurrency."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Final

import asyncpg

from db import notifications, uploads
from db.blocks import apart, muted
from db.common import KEYSET_BOTTOM, KEYSET_TOP
from drape import captions


# Which posts (p) and comments (c) are shown at all (migrations/0007_moderation.sql): none a
# moderator removed, and none hidden pending review unless the viewer ($1) wrote it.
def shown(viewer: str) -> str:
    return f"(p.removed_at IS NULL AND (p.hidden_at IS NULL OR p.author_id = {viewer}))"


SHOWN = shown("$1")
COMMENT_SHOWN = "(c.removed_at IS NULL AND (c.hidden_at IS NULL OR c.author_id = $1))"
# A comment (c) the viewer ($1) may read, under a post they may see: shown, and not by an account
# apart from the viewer by a block.
COMMENT_VISIBLE = f"({COMMENT_SHOWN} AND NOT {apart('$1', 'c.author_id')})"


# Who may see an author's posts: everyone if the account is public; otherwise the author and
# active followers; never an account apart from the author by a block (db/blocks.py); of those
# posts, the SHOWN ones. `viewer` is the viewer (an SQL expression), u the author, p the post.
def visible(viewer: str) -> str:
    return f"""
({shown(viewer)} AND (NOT u.is_private OR u.id = {viewer} OR EXISTS (
    SELECT 1 FROM follows f
    WHERE f.follower_id = {viewer} AND f.followee_id = u.id AND f.status = 'active'))
 AND NOT {apart(viewer, "u.id")})
"""


VISIBLE = visible("$1")  # for the viewer $1

# Which accounts show to the viewer ($1) where people are listed (search, likers): active ones;
# u is the account; none apart from the viewer by a block (db/blocks.py).
ACCOUNT_SHOWN = f"(u.is_active AND NOT {apart('$1', 'u.id')})"

POST_FIELDS = """
p.id, p.caption, p.outfit_id, p.image_key, p.like_count, p.comment_count, p.created_at,
p.author_id, u.username AS author_username, u.display_name AS author_display_name,
u.avatar_url AS author_avatar_url,
EXISTS (SELECT 1 FROM likes l WHERE l.post_id = p.id AND l.user_id = $1) AS liked_by_me,
ARRAY(SELECT i.image_key FROM post_images i WHERE i.post_id = p.id ORDER BY i.position)
    AS image_keys
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
        await set_hashtags(conn, post_id, captions.hashtags(caption))
        return await get_visible_post(conn, post_id, author_id)  # type: ignore[return-value]


SET_HASHTAGS = """
WITH gone AS (
    DELETE FROM post_hashtags WHERE post_id = $1 AND tag <> ALL($2::text[])
)
INSERT INTO post_hashtags (post_id, tag, created_at)
SELECT p.id, t.tag, p.created_at FROM posts p, unnest($2::text[]) AS t(tag)
WHERE p.id = $1
ON CONFLICT DO NOTHING
"""


async def set_hashtags(conn: asyncpg.Connection, post_id: uuid.UUID, tags: list[str]) -> None:
    """The post's hashtags become exactly `tags` (drape/captions.py hashtags)."""
    await conn.execute(SET_HASHTAGS, post_id, tags)


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


# For many (viewer, post) pairs at once, what a socket subscribing to the post is told: by the
# rule of get_visible_post, one row per pair the viewer may see, keyed by the pair's position.
SELECT_SUBSCRIBE_CHECKS = f"""
SELECT q.n, p.author_id, p.like_count, p.comment_count
FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS q (viewer, post_id, n)
JOIN posts p ON p.id = q.post_id JOIN users u ON u.id = p.author_id
WHERE u.is_active AND {visible("q.viewer")}
"""


async def subscribable(
    conn: asyncpg.Connection | asyncpg.Pool, pairs: list[tuple[uuid.UUID, uuid.UUID]]
) -> list[asyncpg.Record | None]:
    """For each (viewer, post): the post's author_id, like_count and comment_count if the viewer
    may see it, else None; in one round trip."""
    rows = await conn.fetch(SELECT_SUBSCRIBE_CHECKS, [v for v, _ in pairs], [p for _, p in pairs])
    found = {r["n"]: r for r in rows}
    return [found.get(i) for i in range(1, len(pairs) + 1)]


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
      AND NOT {muted("$1", "a.id")}
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


# A removed post is gone for its author too; a hidden one already left the count. The image
# keys are read from the statement's snapshot, before the cascade takes their rows.
DELETE_POST = """
WITH d AS (
    DELETE FROM posts WHERE id = $1 AND author_id = $2 AND removed_at IS NULL
    RETURNING author_id, image_key, hidden_at IS NULL AS counted
), bump AS (
    UPDATE users SET post_count = greatest(post_count - 1, 0)
    WHERE id IN (SELECT author_id FROM d WHERE counted)
)
SELECT array(
    SELECT image_key FROM post_images WHERE post_id = $1
    UNION SELECT image_key FROM d WHERE image_key IS NOT NULL
) AS keys
FROM d
"""


async def delete_post(
    pool: asyncpg.Pool, post_id: uuid.UUID, author_id: uuid.UUID
) -> list[str] | None:
    """Delete the author's post; returns the keys of its stored images (to delete once this has
    committed), or None if there was no such post."""
    keys = await pool.fetchval(DELETE_POST, post_id, author_id)
    return None if keys is None else list(keys)


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
    WHERE author_id <> $1 AND EXISTS (SELECT 1 FROM liked) AND NOT {muted("author_id", "$1")}
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
c.id, c.post_id, c.parent_id, c.body, c.created_at, c.author_id, a.username AS author_username,
a.avatar_url AS author_avatar_url,
(SELECT count(*) FROM comments r
 WHERE r.parent_id = c.id AND r.removed_at IS NULL AND (r.hidden_at IS NULL OR r.author_id = $1)
) AS reply_count,
(SELECT count(*) FROM comment_likes cl JOIN users lu ON lu.id = cl.user_id
 WHERE cl.comment_id = c.id AND lu.is_active) AS like_count,
EXISTS (SELECT 1 FROM comment_likes cl WHERE cl.comment_id = c.id AND cl.user_id = $1)
  AS liked_by_me
"""

INSERT_COMMENT = """
INSERT INTO comments (post_id, author_id, body, parent_id) VALUES ($1, $2, $3, $4)
RETURNING id, post_id, parent_id, body, created_at, author_id
"""

# A reply's parent: a top-level comment of the same post that the replier sees.
SELECT_PARENT = f"""
SELECT c.id, c.author_id FROM comments c
WHERE c.id = $2 AND c.post_id = $3 AND c.parent_id IS NULL AND {COMMENT_VISIBLE}
"""


class NoSuchParent(ValueError):
    """The comment replied to is not a top-level comment of this post."""


BUMP_COMMENTS = """
UPDATE posts SET comment_count = comment_count + $2 WHERE id = $1 RETURNING comment_count
"""


async def add_comment(
    pool: asyncpg.Pool,
    post_id: uuid.UUID,
    actor: asyncpg.Record,
    body: str,
    parent_id: uuid.UUID | None = None,
) -> Change | None:
    """A comment, or a reply to a top-level comment (one level: NoSuchParent otherwise)."""
    async with pool.acquire() as conn, conn.transaction():
        post = await conn.fetchrow(LOCK_VISIBLE_POST, actor["id"], post_id)
        if post is None:
            return None
        if parent_id is not None:
            if await conn.fetchrow(SELECT_PARENT, actor["id"], parent_id, post_id) is None:
                raise NoSuchParent("parent_id")
        row = await conn.fetchrow(INSERT_COMMENT, post_id, actor["id"], body, parent_id)
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
        names = captions.mentions(body)
        change.extra["mentions"] = await mention(
            conn, post_id, actor, names, in_caption=False, comment_id=row["id"]
        )
        return change


SELECT_COMMENTS = f"""
SELECT {COMMENT_FIELDS}
FROM comments c JOIN users a ON a.id = c.author_id
WHERE c.post_id = $2 AND c.parent_id IS NULL AND a.is_active AND {COMMENT_VISIBLE}
  AND (c.created_at, c.id) > ($3, $4)
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
    """A page of the post's top-level comments that `viewer` may see (hidden ones only to their
    author), each with its reply and like counts."""
    created_at, comment_id = after or KEYSET_BOTTOM
    return await pool.fetch(SELECT_COMMENTS, viewer, post_id, created_at, comment_id, limit)


# The comment and its replies (which the foreign key would take anyway), counting those that
# were in the post's comment_count: shown, by an account that is active (not suspended).
DELETE_WITH_REPLIES = """
WITH gone AS (
    DELETE FROM comments c WHERE id = $1 OR parent_id = $1
    RETURNING hidden_at IS NULL AND removed_at IS NULL
              AND (SELECT is_active FROM users WHERE id = c.author_id) AS counted
)
SELECT count(*) FILTER (WHERE counted) FROM gone
"""

LOCK_COMMENT = f"""
SELECT c.id, c.post_id, c.author_id, p.author_id AS post_author_id,
       u.is_active AND {VISIBLE} AS post_visible,
       c.hidden_at IS NULL AND ca.is_active AS counted
FROM comments c JOIN posts p ON p.id = c.post_id JOIN users u ON u.id = p.author_id
JOIN users ca ON ca.id = c.author_id
WHERE c.id = $2 AND {COMMENT_SHOWN}
  AND (p.author_id = $1 OR NOT {apart("$1", "c.author_id")})  -- an owner: any under the post
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
        counted = await conn.fetchval(DELETE_WITH_REPLIES, comment_id)
        count = await conn.fetchval(BUMP_COMMENTS, row["post_id"], -counted)
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
           'name', g.name, 'category', g.category, 'colors', g.colors,
           'thumbnail_key', g.thumbnail_key) ORDER BY i.position)
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
    """The outfits shown with a page of posts, in one query: of each garment what a follower
    needs to draw it (name, category, colours, thumbnail key), nothing else of the wardrobe."""
    if not outfit_ids:
        return {}
    rows = await conn.fetch(OUTFIT_SUMMARIES, outfit_ids)
    return {r["id"]: {"id": str(r["id"]), "name": r["name"], "items": r["items"]} for r in rows}


LOCK_OWN_POST = "SELECT image_key FROM posts WHERE id = $1 AND author_id = $2 FOR UPDATE"

# posts.image_key is the first of the post's images (post_images position 0).
SET_POST_IMAGE = """
WITH first AS (
    DELETE FROM post_images WHERE post_id = $1 AND position = 0 AND $2::text IS NULL
), kept AS (
    INSERT INTO post_images (post_id, position, image_key)
    SELECT $1, 0, $2 WHERE $2::text IS NOT NULL
    ON CONFLICT (post_id, position) DO UPDATE SET image_key = excluded.image_key
)
UPDATE posts SET image_key = $2 WHERE id = $1
"""


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


SELECT_EXPLORE_POSTS = f"""
SELECT {POST_FIELDS}
FROM posts p JOIN users u ON u.id = p.author_id
WHERE p.id = ANY($2::uuid[]) AND u.is_active AND {VISIBLE} AND NOT {muted("$1", "u.id")}
"""


async def explore_posts(
    pool: asyncpg.Pool, viewer: uuid.UUID, post_ids: list[uuid.UUID]
) -> list[asyncpg.Record]:
    """As visible_posts, without the posts of accounts the viewer muted."""
    rows = {r["id"]: r for r in await pool.fetch(SELECT_EXPLORE_POSTS, viewer, post_ids)}
    return [rows[i] for i in post_ids if i in rows]


# Editing, mentions, likers, saved posts ---------------------------------------------------------

EDIT_CAPTION = """
UPDATE posts SET caption = $3, edited_at = now()
WHERE id = $1 AND author_id = $2 AND removed_at IS NULL
RETURNING id
"""


async def edit_caption(
    pool: asyncpg.Pool, post_id: uuid.UUID, author: asyncpg.Record, caption: str
) -> tuple[asyncpg.Record, list[tuple[uuid.UUID, dict[str, Any]]]] | None:
    """A new caption for the author's post, its hashtags parsed again; accounts it newly
    mentions are notified. Returns the post and the notifications to push, or None if the post
    is not the author's."""
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval(EDIT_CAPTION, post_id, author["id"], caption) is None:
            return None
        await set_hashtags(conn, post_id, captions.hashtags(caption))
        notes = await mention(conn, post_id, author, captions.mentions(caption), in_caption=True)
        post = await get_visible_post(conn, post_id, author["id"])
        assert post is not None
        return post, notes


MENTIONED = """
SELECT id FROM users WHERE lower(username) = ANY($1::text[]) AND is_active AND id <> $2
"""

REMEMBER_MENTION = """
INSERT INTO post_mentions (post_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1
"""


async def mention(
    conn: asyncpg.Connection,
    post_id: uuid.UUID,
    actor: asyncpg.Record,
    names: list[str],
    *,
    in_caption: bool,
    comment_id: uuid.UUID | None = None,
) -> list[tuple[uuid.UUID, dict[str, Any]]]:
    """Notify (type `mention`) the named accounts that may see the post, inside the caller's
    transaction. A caption's mentions are remembered, so editing it notifies only the new ones.
    Returns (recipient, notification) pairs to push after commit."""
    if not names:
        return []
    out = []
    for row in await conn.fetch(MENTIONED, names, actor["id"]):
        if await get_visible_post(conn, post_id, row["id"]) is None:
            continue  # one who may not see the post is not told about it
        if in_caption and await conn.fetchval(REMEMBER_MENTION, post_id, row["id"]) is None:
            continue
        note = await notifications.notify(
            conn,
            user_id=row["id"],
            type_="mention",
            actor=actor,
            post_id=post_id,
            comment_id=comment_id,
        )
        if note is not None:
            out.append((row["id"], note))
    return out


async def mention_in_caption(
    pool: asyncpg.Pool, post_id: uuid.UUID, actor: asyncpg.Record, caption: str
) -> list[tuple[uuid.UUID, dict[str, Any]]]:
    async with pool.acquire() as conn, conn.transaction():
        return await mention(conn, post_id, actor, captions.mentions(caption), in_caption=True)


# Newest likes first; only the accounts shown to the viewer $1 (ACCOUNT_SHOWN) are listed.
SELECT_LIKERS = f"""
SELECT u.id, u.username, u.display_name, u.avatar_url, u.is_verified, l.created_at,
       u.id = $1 AS is_me
FROM likes l JOIN users u ON u.id = l.user_id
WHERE l.post_id = $2 AND {ACCOUNT_SHOWN} AND (l.created_at, l.user_id) < ($3, $4)
ORDER BY l.created_at DESC, l.user_id DESC
LIMIT $5
"""


async def likers(
    pool: asyncpg.Pool,
    viewer: uuid.UUID,
    post_id: uuid.UUID,
    before: tuple[Any, Any] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Who liked the post (the caller checked the viewer may see it)."""
    created_at, user_id = before or KEYSET_TOP
    return await pool.fetch(SELECT_LIKERS, viewer, post_id, created_at, user_id, limit)


SAVE = "INSERT INTO saved_posts (user_id, post_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"


async def save(pool: asyncpg.Pool, viewer: uuid.UUID, post_id: uuid.UUID) -> bool:
    """Idempotent; False if the viewer may not see the post."""
    async with pool.acquire() as conn, conn.transaction():
        if await get_visible_post(conn, post_id, viewer) is None:
            return False
        await conn.execute(SAVE, viewer, post_id)
        return True


UNSAVE = "DELETE FROM saved_posts WHERE user_id = $1 AND post_id = $2"


async def unsave(pool: asyncpg.Pool, viewer: uuid.UUID, post_id: uuid.UUID) -> None:
    await pool.execute(UNSAVE, viewer, post_id)


# The viewer's collection, the latest saved first, of the posts still visible to them.
SELECT_SAVED = f"""
SELECT {POST_FIELDS}, s.created_at AS saved_at
FROM saved_posts s JOIN posts p ON p.id = s.post_id JOIN users u ON u.id = p.author_id
WHERE s.user_id = $1 AND (s.created_at, s.post_id) < ($2, $3) AND u.is_active AND {VISIBLE}
ORDER BY s.created_at DESC, s.post_id DESC
LIMIT $4
"""


async def saved(
    pool: asyncpg.Pool, viewer: uuid.UUID, before: tuple[Any, Any] | None, limit: int
) -> list[asyncpg.Record]:
    saved_at, post_id = before or KEYSET_TOP
    return await pool.fetch(SELECT_SAVED, viewer, saved_at, post_id, limit)


# Replies and likes of comments ---------------------------------------------------------------

# The comment ($2) if the viewer ($1) sees it and the post it is under.
SELECT_VISIBLE_COMMENT = f"""
SELECT c.id, c.post_id, c.author_id, c.parent_id
FROM comments c JOIN posts p ON p.id = c.post_id JOIN users u ON u.id = p.author_id
JOIN users a ON a.id = c.author_id
WHERE c.id = $2 AND a.is_active AND u.is_active AND {COMMENT_VISIBLE} AND {VISIBLE}
"""


async def visible_comment(
    conn: asyncpg.Connection | asyncpg.Pool, comment_id: uuid.UUID, viewer: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(SELECT_VISIBLE_COMMENT, viewer, comment_id)


SELECT_REPLIES = f"""
SELECT {COMMENT_FIELDS}
FROM comments c JOIN users a ON a.id = c.author_id
WHERE c.parent_id = $2 AND a.is_active AND {COMMENT_VISIBLE}
  AND (c.created_at, c.id) > ($3, $4)
ORDER BY c.created_at, c.id
LIMIT $5
"""


async def replies(
    pool: asyncpg.Pool,
    viewer: uuid.UUID,
    comment_id: uuid.UUID,
    after: tuple[Any, Any] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """A page of a comment's replies, oldest first (the caller checked the comment is seen)."""
    created_at, reply_id = after or KEYSET_BOTTOM
    return await pool.fetch(SELECT_REPLIES, viewer, comment_id, created_at, reply_id, limit)


LIKE_COMMENT = (
    "INSERT INTO comment_likes (comment_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
)
UNLIKE_COMMENT = "DELETE FROM comment_likes WHERE comment_id = $1 AND user_id = $2"

COMMENT_LIKES = """
SELECT count(*) FROM comment_likes cl JOIN users u ON u.id = cl.user_id
WHERE cl.comment_id = $1 AND u.is_active
"""


async def like_comment(
    pool: asyncpg.Pool, comment_id: uuid.UUID, viewer: uuid.UUID, *, liked: bool
) -> int | None:
    """Like or take back a like of a comment the viewer sees (idempotent); returns its like
    count, or None if the viewer does not see it."""
    async with pool.acquire() as conn, conn.transaction():
        if await visible_comment(conn, comment_id, viewer) is None:
            return None
        await conn.execute(LIKE_COMMENT if liked else UNLIKE_COMMENT, comment_id, viewer)
        return int(await conn.fetchval(COMMENT_LIKES, comment_id))


# Several images per post -----------------------------------------------------------------------

MAX_IMAGES: Final = 10

POST_IMAGES = """
SELECT post_id, position, image_key FROM post_images
WHERE post_id = ANY($1::uuid[]) ORDER BY post_id, position
"""


async def images_of(
    conn: asyncpg.Connection | asyncpg.Pool, post_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    """The image keys of a page of posts, in order, in one query."""
    out: dict[uuid.UUID, list[str]] = {}
    if not post_ids:
        return out
    for r in await conn.fetch(POST_IMAGES, post_ids):
        out.setdefault(r["post_id"], []).append(r["image_key"])
    return out


LOCK_IMAGES = """
SELECT position, image_key FROM post_images WHERE post_id = $1 ORDER BY position FOR UPDATE
"""

APPEND_IMAGE = "INSERT INTO post_images (post_id, position, image_key) VALUES ($1, $2, $3)"

SYNC_FIRST = """
UPDATE posts SET image_key = (SELECT image_key FROM post_images WHERE post_id = $1 AND position = 0)
WHERE id = $1
"""


class TooManyImages(ValueError):
    pass


async def add_image(
    pool: asyncpg.Pool, author_id: uuid.UUID, post_id: uuid.UUID, upload_key: str, image_key: str
) -> bool:
    """Append a checked image to the author's post (claiming its upload). False if the post is
    gone or the upload was claimed meanwhile; TooManyImages past MAX_IMAGES."""
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchrow(LOCK_OWN_POST, post_id, author_id) is None:
            return False
        have = await conn.fetch(LOCK_IMAGES, post_id)
        if len(have) >= MAX_IMAGES:
            raise TooManyImages(str(MAX_IMAGES))
        if not await uploads.accept_upload(conn, upload_key, author_id, "post_image", post_id):
            return False
        await conn.execute(APPEND_IMAGE, post_id, len(have), image_key)
        await conn.execute(SYNC_FIRST, post_id)
        return True


DROP_IMAGES = "DELETE FROM post_images WHERE post_id = $1"


async def remove_image(
    pool: asyncpg.Pool, author_id: uuid.UUID, post_id: uuid.UUID, position: int
) -> str | None:
    """Take one image out of the author's post, the later ones moving up; returns its key
    (to delete), or None if there is no such image."""
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchrow(LOCK_OWN_POST, post_id, author_id) is None:
            return None
        keys = [r["image_key"] for r in await conn.fetch(LOCK_IMAGES, post_id)]
        if not 0 <= position < len(keys):
            return None
        gone = keys.pop(position)
        await _rewrite_images(conn, post_id, keys)
        return gone


async def _rewrite_images(conn: asyncpg.Connection, post_id: uuid.UUID, keys: list[str]) -> None:
    """The post's images become `keys`, in order (its rows locked by LOCK_IMAGES)."""
    await conn.execute(DROP_IMAGES, post_id)
    await conn.executemany(APPEND_IMAGE, [(post_id, i, k) for i, k in enumerate(keys)])
    await conn.execute(SYNC_FIRST, post_id)


class ImagesChanged(ValueError):
    """The order sent is not one of the post's images as they are now."""


async def reorder_images(
    pool: asyncpg.Pool, author_id: uuid.UUID, post_id: uuid.UUID, positions: list[int]
) -> bool:
    """Put the author's post's images in a new order: `positions` lists the current positions
    in the order wanted, each once. False if there is no such post of theirs; ImagesChanged if
    `positions` does not name every image there is now exactly once."""
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchrow(LOCK_OWN_POST, post_id, author_id) is None:
            return False
        keys = [r["image_key"] for r in await conn.fetch(LOCK_IMAGES, post_id)]
        if sorted(positions) != list(range(len(keys))):
            raise ImagesChanged(f"the post has {len(keys)} images")
        await _rewrite_images(conn, post_id, [keys[p] for p in positions])
        return True


SELECT_POPULAR = f"""
SELECT {POST_FIELDS}
FROM posts p JOIN users u ON u.id = p.author_id
WHERE p.author_id <> $1 AND u.is_active AND p.created_at > now() - make_interval(days => $3)
  AND {VISIBLE} AND NOT {muted("$1", "u.id")}
ORDER BY p.like_count + 2 * p.comment_count DESC, p.created_at DESC, p.id DESC
LIMIT $2
"""


async def popular_posts(
    pool: asyncpg.Pool, viewer: uuid.UUID, limit: int, days: int = 14
) -> list[asyncpg.Record]:
    """Others' recent posts the viewer may see (by accounts they have not muted), most liked and
    discussed first: explore's cold start before the viewer's own picks are computed."""
    return await pool.fetch(SELECT_POPULAR, viewer, limit, days)
