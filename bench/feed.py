"""Home feed reads and the like write path, each beside the same SQL run directly.

    python -m bench.feed [--requests 2000] [--likes 5000] [--concurrency 32]

Data, loaded with SQL: 5,000 authors with 40 posts each (200,000 posts spread over 90 days),
3 likes per post from other authors plus 1 in 200 posts liked by each viewer (about 650,000
likes, posts.like_count set to match), 50 viewers each following 500 authors; then ANALYZE.

Reads: GET /v1/feed?limit=20 (first page, and a deep page: the cursor of the viewer's 1,000th
newest post) from a separate load process with 32 requests in flight, round-robin over the 50
viewers; the ceiling is db.posts.SELECT_FEED run through asyncpg from this process with the
same concurrency and a pool of the server's size (DB_POOL_MAX = 10).

Writes: PUT /v1/posts/{id}/like, each from one of 500 users on a post they have not liked
(5,000 distinct posts): the whole path (user lookup, lock, like row, counter, notification with
its seq, two Socket.IO emits through Redis). The baseline runs the statement db.posts.like runs
(db.posts.LIKE: lock, like row, counter and notification in one statement) through asyncpg, on
5,000 other posts.

Server and Postgres CPU per request come from /proc (the server process, and the Postgres
backends connected to the bench database). Nothing is pinned: server, Postgres and the load
process share both cores.
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
import asyncpg

from bench.common import (
    ROW_HEADERS,
    ROW_NOTE,
    Call,
    CpuMeter,
    LoadProcess,
    Row,
    bench_database,
    bench_folder,
    bench_redis,
    database_name,
    free_port,
    insert_users,
    measure_http,
    measure_local,
    mint_tokens,
    note_load,
    print_table,
    raise_fd_limit,
    run,
    server_env,
    start_report,
    start_server,
    token_settings,
)
from db.common import KEYSET_TOP, encode_cursor
from db.pool import create_pool
from db.posts import LIKE, SELECT_FEED

REDIS_DB = 15
AUTHORS = 5000
POSTS_PER_AUTHOR = 40
VIEWERS = 50
FOLLOWS_PER_VIEWER = 500
LIKERS = 500
PAGE = 20
DEEP = 1000  # the deep page starts after the viewer's 1,000th newest post
POOL_MAX = 10  # the server's DB_POOL_MAX, and the ceiling's pool

INSERT_POSTS = """
INSERT INTO posts (author_id, caption, created_at)
SELECT u.id, 'look ' || g, now() - random() * interval '90 days'
FROM users u CROSS JOIN generate_series(1, $2) g
WHERE u.username LIKE $1 || '%'
"""

# Three likes per post from three different authors: offsets 0, 4729 and 9458 (mod 5000).
INSERT_LIKES = """
WITH u AS (
    SELECT array_agg(id ORDER BY username) AS ids FROM users WHERE username LIKE $1 || '%'
), p AS (
    SELECT id, row_number() OVER (ORDER BY id) AS i FROM posts
)
INSERT INTO likes (post_id, user_id, created_at)
SELECT p.id, u.ids[1 + ((p.i * 7919 + k * 4729) % $2)], now() - random() * interval '90 days'
FROM p, u, generate_series(0, 2) k
"""

INSERT_VIEWER_LIKES = """
WITH v AS (
    SELECT id, row_number() OVER (ORDER BY username) AS n FROM users WHERE username LIKE $1 || '%'
), p AS (
    SELECT id, row_number() OVER (ORDER BY id) AS i FROM posts
)
INSERT INTO likes (post_id, user_id)
SELECT p.id, v.id FROM p JOIN v ON p.i % 200 = v.n % 200
"""

SET_LIKE_COUNTS = """
UPDATE posts p SET like_count = c.n
FROM (SELECT post_id, count(*) AS n FROM likes GROUP BY post_id) c
WHERE c.post_id = p.id
"""

# Viewer n follows authors 1 + (n * 97 + g * 10) mod 5000 for g = 1..500: 500 distinct ones.
INSERT_FOLLOWS = """
WITH u AS (
    SELECT array_agg(id ORDER BY username) AS ids FROM users WHERE username LIKE $1 || '%'
), v AS (
    SELECT id, row_number() OVER (ORDER BY username) AS n FROM users WHERE username LIKE $2 || '%'
)
INSERT INTO follows (follower_id, followee_id, status, accepted_at)
SELECT v.id, u.ids[1 + ((v.n * 97 + g * 10) % $3)], 'active', now()
FROM v, u, generate_series(1, $4) g
"""

NTH_FEED_POST = """
SELECT p.created_at, p.id FROM posts p
WHERE p.author_id = $1 OR p.author_id IN (
    SELECT followee_id FROM follows WHERE follower_id = $1 AND status = 'active')
ORDER BY p.created_at DESC, p.id DESC
OFFSET $2 LIMIT 1
"""


@dataclass
class Data:
    viewers: list[uuid.UUID]
    likers: list[uuid.UUID]
    sql_likers: list[uuid.UUID]
    posts: list[uuid.UUID]
    deep: dict[uuid.UUID, tuple[datetime, uuid.UUID]]  # viewer -> cursor position
    likes: int


async def load_data(database_url: str) -> Data:
    conn = await asyncpg.connect(database_url)
    try:
        started = time.monotonic()
        await insert_users(conn, "fa", AUTHORS)
        viewers = await insert_users(conn, "fv", VIEWERS)
        likers = await insert_users(conn, "fl", LIKERS)
        sql_likers = await insert_users(conn, "fs", LIKERS)
        await conn.execute(INSERT_POSTS, "fa", POSTS_PER_AUTHOR)
        await conn.execute(INSERT_LIKES, "fa", AUTHORS)
        await conn.execute(INSERT_VIEWER_LIKES, "fv")
        await conn.execute(SET_LIKE_COUNTS)
        await conn.execute(INSERT_FOLLOWS, "fa", "fv", AUTHORS, FOLLOWS_PER_VIEWER)
        await conn.execute("VACUUM ANALYZE")
        posts = [r["id"] for r in await conn.fetch("SELECT id FROM posts ORDER BY id")]
        likes = await conn.fetchval("SELECT count(*) FROM likes")
        deep = {}
        for v in viewers:
            row = await conn.fetchrow(NTH_FEED_POST, v, DEEP - 1)
            deep[v] = (row["created_at"], row["id"])
        print(
            f"loaded {len(posts):,} posts, {likes:,} likes, {VIEWERS} viewers x "
            f"{FOLLOWS_PER_VIEWER} follows in {time.monotonic() - started:.1f} s "
            "(VACUUM ANALYZE included)",
            flush=True,
        )
        return Data(viewers, likers, sql_likers, posts, deep, likes)
    finally:
        await conn.close()


async def explain(database_url: str, viewer: uuid.UUID, position: tuple[Any, Any]) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        raw = await conn.fetchval(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + SELECT_FEED, viewer, *position, PAGE
        )
    finally:
        await conn.close()
    [top] = json.loads(raw) if isinstance(raw, str) else raw
    plan = top["Plan"]
    return (
        f"planning {top['Planning Time']:.2f} ms, execution {top['Execution Time']:.2f} ms, "
        f"{plan['Actual Rows']} rows, shared buffers hit {plan.get('Shared Hit Blocks', 0)} "
        f"read {plan.get('Shared Read Blocks', 0)}"
    )


async def main_async(args: argparse.Namespace) -> int:
    start_report("Home feed and likes: API beside the same SQL", __doc__.split("\n\n")[1])
    raise_fd_limit()
    rng = random.Random(7)
    c = args.concurrency
    jwt_secret = "bench-" + uuid.uuid4().hex
    async with bench_database() as database_url, bench_redis(REDIS_DB) as redis_url:
        data = await load_data(database_url)
        settings = token_settings(jwt_secret)
        viewer_tokens = dict(zip(data.viewers, mint_tokens(settings, data.viewers), strict=True))
        liker_tokens = mint_tokens(settings, data.likers)
        first_calls = [
            Call("GET", f"/v1/feed?limit={PAGE}", viewer_tokens[data.viewers[i % VIEWERS]])
            for i in range(args.requests + args.warmup)
        ]
        deep_calls = []
        for i in range(args.requests + args.warmup):
            v = data.viewers[i % VIEWERS]
            cursor = encode_cursor(*data.deep[v])
            deep_calls.append(
                Call("GET", f"/v1/feed?limit={PAGE}&cursor={cursor}", viewer_tokens[v])
            )
        targets = rng.sample(data.posts, 2 * args.likes)
        like_calls = [
            Call("PUT", f"/v1/posts/{p}/like", liker_tokens[i % LIKERS])
            for i, p in enumerate(targets[: args.likes])
        ]
        sql_likes = [(p, data.sql_likers[i % LIKERS]) for i, p in enumerate(targets[args.likes :])]

        first = data.viewers[0]
        print("EXPLAIN (ANALYZE, BUFFERS) of db.posts.SELECT_FEED, viewer 1:")
        print(f"- first page: {await explain(database_url, first, KEYSET_TOP)}")
        print(f"- deep page:  {await explain(database_url, first, data.deep[first])}")
        print(flush=True)

        with bench_folder() as folder:
            env = server_env(
                port=free_port(),
                database_url=database_url,
                redis_url=redis_url,
                channel=f"drape-bench-{uuid.uuid4().hex[:8]}",
                jwt_secret=jwt_secret,
                folder=folder,
                pool_max=POOL_MAX,
            )
            server = await start_server(env, log=folder / "server.log")
            pool = await create_pool(database_url, min_size=POOL_MAX, max_size=POOL_MAX)
            try:
                await check_pages(server.base, viewer_tokens[data.viewers[0]], deep_calls[0])
                db_name = database_name(database_url)
                meter = CpuMeter(server.pid, db_name)
                with LoadProcess() as load:

                    async def api(what: str, calls: list[Call], warmup: int = 0) -> Row:
                        return await measure_http(
                            what, load, meter, server.base, calls, concurrency=c, warmup=warmup
                        )

                    async def sql(what: str, fn: Any, items: Sequence[Any]) -> Row:
                        return await measure_local(what, db_name, fn, items, concurrency=c)

                    each_viewer = [data.viewers[i % VIEWERS] for i in range(args.requests)]
                    reads = [
                        await api("GET /v1/feed first page", first_calls, args.warmup),
                        await sql(
                            "SELECT_FEED first page (asyncpg)",
                            lambda v: pool.fetch(SELECT_FEED, v, *KEYSET_TOP, PAGE),
                            each_viewer,
                        ),
                        await api(
                            f"GET /v1/feed deep page (after {DEEP:,})", deep_calls, args.warmup
                        ),
                        await sql(
                            "SELECT_FEED deep page (asyncpg)",
                            lambda v: pool.fetch(SELECT_FEED, v, *data.deep[v], PAGE),
                            each_viewer,
                        ),
                    ]
                    writes = [
                        await api("PUT /v1/posts/{id}/like (whole path)", like_calls),
                        await sql(
                            "same SQL, db.posts.LIKE (asyncpg)",
                            lambda pair: like_sql(pool, *pair),
                            sql_likes,
                        ),
                    ]
                async with pool.acquire() as conn:
                    likes_now = await conn.fetchval("SELECT count(*) FROM likes")
            finally:
                await pool.close()
                await server.stop()
    print_table(
        f"Home feed: GET /v1/feed?limit={PAGE}, {VIEWERS} viewers following "
        f"{FOLLOWS_PER_VIEWER} of {AUTHORS:,} authors, {len(data.posts):,} posts, "
        f"{data.likes:,} likes",
        ROW_HEADERS,
        [reads[0].cells(reads[1]), reads[1].cells(), reads[2].cells(reads[3]), reads[3].cells()],
        notes=[
            f"- {args.warmup} unmeasured warm-up requests before each API row; the SQL rows "
            "run after them on a warm cache.",
            "- vs ceiling: API req/s / SQL req/s.",
            ROW_NOTE,
        ],
    )
    added = likes_now - data.likes
    print_table(
        "Likes: whole write path beside its SQL",
        ROW_HEADERS,
        [writes[0].cells(writes[1]), writes[1].cells()],
        notes=[
            f"- {added:,} likes stored for {2 * args.likes:,} sent "
            f"({'as expected' if added == 2 * args.likes else 'MISMATCH'}); each like is new "
            "(a user and a post that had no like), so every one writes row, counter and "
            "notification.",
            ROW_NOTE,
        ],
    )
    note_load("at the end (this bench's own processes included)")
    return 0


async def like_sql(pool: asyncpg.Pool, post_id: uuid.UUID, user_id: uuid.UUID) -> None:
    row = await pool.fetchrow(LIKE, user_id, post_id)
    if row is None or not row["changed"]:
        raise RuntimeError("the post was not visible or the like already existed")


async def check_pages(base: str, token: str, deep: Call) -> None:
    """The API answers both pages with full pages before anything is timed."""
    async with aiohttp.ClientSession(base) as http:
        headers = {"Authorization": f"Bearer {token}"}
        for path in (f"/v1/feed?limit={PAGE}", deep.path):
            async with http.get(path, headers=headers) as r:
                body = await r.json()
                if r.status != 200 or len(body["items"]) != PAGE or not body["next_cursor"]:
                    raise RuntimeError(f"GET {path}: {r.status} {str(body)[:300]}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per feed row")
    parser.add_argument("--warmup", type=int, default=200, help="per API feed row")
    parser.add_argument("--likes", type=int, default=5000, help="per like row")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    return run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
