"""Search: people by username or display name, posts by the words of their caption, hashtags
and a hashtag's page of posts. Who and what shows to the viewer comes from db/posts.py
(ACCOUNT_SHOWN for people, VISIBLE for posts), the same rules as everywhere else.

Ranked results page by position (an offset in the cursor, at most MAX_RESULTS deep): a score
that mixes text match and popularity has no stable keyset, and nobody pages that far into a
search. The hashtag page is newest first and pages by keyset.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

import asyncpg

from db.common import KEYSET_TOP
from db.posts import ACCOUNT_SHOWN, POST_FIELDS, VISIBLE

MAX_RESULTS: Final = 500
FEW: Final = 5
# Candidates per branch of people search: what is ranked. Ranking costs two trigram similarities
# per candidate, so this bounds the statement's CPU (bench/search.py).
BRANCH: Final = 50


def like_prefix(text: str) -> str:
    """`text` as the start of a LIKE pattern, its wildcards taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# $2 the query lowercased, $3 it as a LIKE prefix. Candidates, each branch on its own index and
# bounded: usernames starting with it (users_username_prefix_idx, a range that stays usable in a
# prepared statement's generic plan), display names with a word starting with it (trigrams), for
# followed accounts that match (each followee looked up by its key: matching the names of the
# whole table by trigrams and then joining cost twice as much); then, if those are fewer than
# FEW and the query has five letters or more, usernames or display-name words close to it by
# trigrams (a typo). Ranked: the exact username, then prefixes, then closeness, with a lift for
# accounts the viewer follows and a little for popularity.
SEARCH_PEOPLE = f"""
WITH followed AS MATERIALIZED (
    SELECT followee_id FROM follows WHERE follower_id = $1 AND status = 'active'
), prefixed AS MATERIALIZED (
    (SELECT u.id FROM users u
     WHERE lower(u.username) ~>=~ $2 AND lower(u.username) ~<~ ($2 || chr(1114111))
       AND {ACCOUNT_SHOWN}
     LIMIT {BRANCH})
    UNION
    (SELECT u.id FROM users u
     WHERE (lower(u.display_name) LIKE $3 OR lower(u.display_name) LIKE '% ' || $3)
       AND {ACCOUNT_SHOWN}
     LIMIT {BRANCH})
    UNION
    (SELECT u.id FROM followed
     CROSS JOIN LATERAL (
         SELECT u.id FROM users u
         WHERE u.id = followed.followee_id AND {ACCOUNT_SHOWN}
           AND (lower(u.username) LIKE $3 OR lower(u.display_name) LIKE $3
                OR lower(u.display_name) LIKE '% ' || $3)) u)
), typos AS MATERIALIZED (
    -- Typos only when the prefixes found little: a name being typed needs none. Without a
    -- LIMIT here, and fenced: with one, a plan made for the query's own values expects ~2% of
    -- the table to match and reads it sequentially to stop early, which a rare name turns
    -- into a scan of every user (700 ms at 100k users, where the trigram index takes 5 ms).
    SELECT u.id FROM users u
    WHERE (SELECT count(*) FROM prefixed) < {FEW}
      AND char_length($2) >= 5 AND (lower(u.username) % $2 OR $2 <% lower(u.display_name))
      AND {ACCOUNT_SHOWN}
), found AS (
    SELECT id FROM prefixed
    UNION
    (SELECT id FROM typos LIMIT {BRANCH})
)
SELECT u.id, u.username, u.display_name, u.avatar_url, u.is_verified, u.is_private,
       u.follower_count, f.status AS follow_status
FROM found JOIN users u ON u.id = found.id
LEFT JOIN follows f ON f.follower_id = $1 AND f.followee_id = u.id
ORDER BY
    (lower(u.username) = $2)::int * 8
    + (lower(u.username) LIKE $3)::int * 4
    + (lower(u.display_name) LIKE $3 OR lower(u.display_name) LIKE '% ' || $3)::int * 2
    + greatest(similarity(lower(u.username), $2), word_similarity($2, lower(u.display_name)))
    + (f.status IS NOT DISTINCT FROM 'active')::int * 3
    + ln(1 + u.follower_count) / 10 DESC,
    u.id
OFFSET $4 LIMIT $5
"""


async def people(
    pool: asyncpg.Pool, viewer: uuid.UUID, query: str, offset: int, limit: int
) -> list[asyncpg.Record]:
    q = query.lower()
    return await pool.fetch(SEARCH_PEOPLE, viewer, q, like_prefix(q), offset, limit)


# Posts whose caption holds every word of the query (websearch syntax: "quoted phrases", -not),
# ranked by how well the caption matches, lifted by likes and fading with age (a week halves
# the lift of likes).
SEARCH_POSTS = f"""
SELECT {POST_FIELDS}
FROM posts p JOIN users u ON u.id = p.author_id,
     websearch_to_tsquery('simple', $2) AS q
WHERE to_tsvector('simple', p.caption) @@ q AND u.is_active AND {VISIBLE}
ORDER BY ts_rank_cd(to_tsvector('simple', p.caption), q)
         * (1 + ln(1 + p.like_count)
                / (1 + extract(epoch FROM now() - p.created_at) / 604800)) DESC,
         p.created_at DESC, p.id DESC
OFFSET $3 LIMIT $4
"""


async def posts(
    pool: asyncpg.Pool, viewer: uuid.UUID, query: str, offset: int, limit: int
) -> list[asyncpg.Record]:
    return await pool.fetch(SEARCH_POSTS, viewer, query, offset, limit)


# Hashtags starting with $1 (the exact one first), the most used first.
SEARCH_HASHTAGS = """
SELECT tag, count(*) AS post_count FROM post_hashtags
WHERE tag LIKE $2
GROUP BY tag
ORDER BY (tag = $1) DESC, count(*) DESC, tag
OFFSET $3 LIMIT $4
"""


async def hashtags(
    pool: asyncpg.Pool, prefix: str, offset: int, limit: int
) -> list[asyncpg.Record]:
    return await pool.fetch(SEARCH_HASHTAGS, prefix, like_prefix(prefix), offset, limit)


COUNT_HASHTAG = "SELECT count(*) FROM post_hashtags WHERE tag = $1"


async def hashtag_count(pool: asyncpg.Pool, tag: str) -> int:
    return int(await pool.fetchval(COUNT_HASHTAG, tag))


# One walk of post_hashtags_page_idx, newest first, keeping the posts the viewer may see.
HASHTAG_POSTS = f"""
SELECT {POST_FIELDS}
FROM post_hashtags h JOIN posts p ON p.id = h.post_id JOIN users u ON u.id = p.author_id
WHERE h.tag = $2 AND (h.created_at, h.post_id) < ($3, $4) AND u.is_active AND {VISIBLE}
ORDER BY h.created_at DESC, h.post_id DESC
LIMIT $5
"""


async def hashtag_posts(
    pool: asyncpg.Pool,
    viewer: uuid.UUID,
    tag: str,
    before: tuple[Any, Any] | None,
    limit: int,
) -> list[asyncpg.Record]:
    created_at, post_id = before or KEYSET_TOP
    return await pool.fetch(HASHTAG_POSTS, viewer, tag, created_at, post_id, limit)
