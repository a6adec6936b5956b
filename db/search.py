"""Search: people by username or display name, posts by the words of their caption, hashtags
and a hashtag's page of posts. Who and what shows to the viewer are the rules of everywhere
else: db/posts.py ACCOUNT_SHOWN for people (active, not apart by a block: people search weighs
its candidates against db/blocks.py apart_from, the same rule as a set), VISIBLE for posts,
leaving out those of accounts the viewer muted (who stay findable, to be unmuted).

Ranked results page by position (an offset in the cursor, at most MAX_RESULTS deep): a score
that mixes text match and popularity has no stable keyset, and nobody pages that far into a
search. The hashtag page is newest first and pages by keyset.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

import asyncpg

from db.blocks import apart_from, muted
from db.common import KEYSET_TOP
from db.posts import POST_FIELDS, VISIBLE

MAX_RESULTS: Final = 500
# Candidates of people search by prefix, followed accounts found besides: what is ranked.
# Ranking costs two trigram similarities per candidate, so this bounds the statement's CPU
# (bench/search.py).
CANDIDATES: Final = 50
# Terms of the prefix matched against the viewer's followed accounts (a hash join): a followed
# account is found unless a query of a letter or two matches more terms before its own.
FOLLOWED_SCAN: Final = 5000
# Typo candidates per trigram index, when no name starts with the query.
TYPOS: Final = 50


def like_prefix(text: str) -> str:
    """`text` as the start of a LIKE pattern, its wildcards taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def normalized(query: str) -> str:
    """A people query as people_terms holds names: lowercased, words one space apart."""
    return " ".join(query.lower().split())


# $2 the normalized query, $3 it as a LIKE prefix. Candidates: accounts with a term starting
# with it (people_terms, migration 0015: usernames and every word-start of display names, of
# active accounts only), the first CANDIDATES in byte order and the followed accounts among the
# first FOLLOWED_SCAN; if there are none and the query has five letters or more, accounts with a
# username or display-name word close to it by trigrams (a typo). Ranked: the exact username,
# then prefixes, then closeness, with a lift for accounts the viewer follows and a little for
# popularity.
#
# The query reaches the candidate conditions as (SELECT q FROM q), which the planner cannot look
# into: a plan made for the query's own value then costs no less than the generic one, so the
# prepared statement keeps its generic plan instead of being planned again on every call
# (estimating a trigram match from a value reads the column's statistics: 0.6-0.9 ms of
# planning, more than the search itself). The generic plan is the right one for every query: a
# range of people_terms_term_idx, a hash of the followed accounts, the trigram indexes for typos.
SEARCH_PEOPLE = f"""
WITH q AS (SELECT $2::text AS q), apart AS MATERIALIZED (
    {apart_from("$1")}
), followed AS MATERIALIZED (
    SELECT followee_id FROM follows WHERE follower_id = $1 AND status = 'active'
), matching AS (
    SELECT t.user_id FROM people_terms t
    WHERE t.term >= (SELECT q FROM q) AND t.term < (SELECT q FROM q) || chr(1114111)
    LIMIT {FOLLOWED_SCAN}
), prefixed AS MATERIALIZED (
    (SELECT user_id AS id FROM matching LIMIT {CANDIDATES})
    UNION
    (SELECT user_id FROM matching
     WHERE user_id IN (SELECT followee_id FROM followed)
     LIMIT {CANDIDATES})
), typo AS (
    -- Typos only when no name starts with the query: a name being typed needs none, and the
    -- trigram indexes cost more than the rest of the search (1-2 ms for a 7-letter query).
    SELECT q FROM q WHERE NOT EXISTS (SELECT FROM prefixed) AND char_length(q) >= 5
), typos AS MATERIALIZED (
    -- Each branch on its own index: an OR of the two costs more than both.
    (SELECT u.id FROM users u
     WHERE EXISTS (SELECT FROM typo) AND (SELECT q FROM typo) <% lower(u.username)
     LIMIT {TYPOS})
    UNION
    (SELECT u.id FROM users u
     WHERE EXISTS (SELECT FROM typo) AND (SELECT q FROM typo) <% lower(u.display_name)
     LIMIT {TYPOS})
), found AS (
    SELECT id FROM prefixed UNION SELECT id FROM typos
)
SELECT u.id, u.username, u.display_name, u.avatar_url, u.is_verified, u.is_private,
       u.follower_count, f.status AS follow_status
FROM found JOIN users u ON u.id = found.id
LEFT JOIN follows f ON f.follower_id = $1 AND f.followee_id = u.id
WHERE u.is_active AND NOT EXISTS (SELECT FROM apart WHERE apart.id = u.id)
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
    q = normalized(query)
    return await pool.fetch(SEARCH_PEOPLE, viewer, q, like_prefix(q), offset, limit)


# Posts whose caption holds every word of the query (websearch syntax: "quoted phrases", -not),
# by accounts the viewer has not muted, ranked by how well the caption matches, lifted by likes
# and fading with age (a week halves the lift of likes).
SEARCH_POSTS = f"""
SELECT {POST_FIELDS}
FROM posts p JOIN users u ON u.id = p.author_id,
     websearch_to_tsquery('simple', $2) AS q
WHERE to_tsvector('simple', p.caption) @@ q AND u.is_active AND {VISIBLE}
  AND NOT {muted("$1", "u.id")}
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


# One walk of post_hashtags_page_idx, newest first, keeping the posts the viewer may see by
# accounts they have not muted.
HASHTAG_POSTS = f"""
SELECT {POST_FIELDS}
FROM post_hashtags h JOIN posts p ON p.id = h.post_id JOIN users u ON u.id = p.author_id
WHERE h.tag = $2 AND (h.created_at, h.post_id) < ($3, $4) AND u.is_active AND {VISIBLE}
  AND NOT {muted("$1", "u.id")}
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
