"""Home feed reads, from Postgres and from Redis timelines, a post's fan-out, and the like write
path, each beside a baseline.

    python -m bench.feed [--requests 2000] [--likes 5000] [--concurrency 32]
                         [--fan-followers 10000] [--celebrity-followers 1000000] [--fan-posts 20]

Data, loaded with SQL: 5,000 authors with 40 posts each (200,000 posts spread over 90 days),
3 likes per post from other authors plus 1 in 200 posts liked by each viewer (about 650,000
likes, posts.like_count set to match), 50 viewers each following 500 authors; 50 more viewers
following the same 500 and a celebrity with 1,000,000 followers (1,000,000 users with one follow
row each, and 40 posts over the last day; recorded in feed_pull_authors, as its first fan-out
above TIMELINE_FANOUT_MAX_FOLLOWERS would); an author whom the first 10,000 of those users
follow, each of them with an (empty) timeline in Redis; then VACUUM ANALYZE.

Reads: GET /v1/feed?limit=20 from a separate load process with 32 requests in flight,
round-robin over the viewers, on two web processes of the same code: TIMELINES=false (each page
merges the followees' posts in Postgres, db.posts.SELECT_FEED) and TIMELINES=true (the page from
the viewer's Redis timeline and one statement of primary-key lookups, db.timelines.SELECT_PAGE;
one worker, `python -m workers`, built each timeline after the viewer's first read). Pages: the
first; one inside the timeline (after the viewer's 400th newest post); one past the 800 posts a
timeline keeps (after the 1,000th: Postgres answers). GET /v1/me (bearer check and one
primary-key query) on the timelines server is the small read they are held against. Ceilings:
the same SQL (for timelines db.timelines.feed, its Redis script included) run from this process
through asyncpg, same concurrency, a pool of the server's size (DB_POOL_MAX: 10, or
BENCH_POOL_MAX).

Fan-out: POST /v1/posts by the author with 10,000 followers, one post at a time, timed from the
request until the worker's fan-out job has left the queue; then every follower's timeline is
checked for the post. The same for the celebrity, whose posts are merged at read time instead.

Writes: PUT /v1/posts/{id}/like, each from one of 500 users on a post they have not liked
(5,000 distinct posts): the whole path (user lookup, lock, like row, counter, notification with
its seq, two Socket.IO emits through Redis). The baseline runs the statement db.posts.like runs
(db.posts.LIKE: lock, like row, counter and notification in one statement) through asyncpg, on
5,000 other posts.

Server, worker, Redis and Postgres CPU come from /proc (the process, and the Postgres backends
connected to the bench database). Nothing is pinned: servers, worker, Redis, Postgres and the
load process share both cores. Redis db 15 (BENCH_REDIS_DB to choose another) is flushed before
and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from redis.asyncio import Redis

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
    cpu_seconds,
    database_name,
    free_port,
    insert_users,
    measure_http,
    measure_local,
    mint_tokens,
    note_load,
    p50_p99_ms,
    percentile,
    print_table,
    raise_fd_limit,
    ratio,
    run,
    server_env,
    start_report,
    start_server,
    token_settings,
)
from db import timelines as db_timelines
from db.common import KEYSET_TOP, encode_cursor
from db.notifications import REPEAT_WINDOW
from db.pool import create_pool
from db.posts import LIKE, SELECT_FEED
from db.timelines import SELECT_PAGE, fetch_count
from drape import timelines
from drape.queue import create_queue
from drape.settings import Settings
from tests.harness import start_python

REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "15"))  # flushed before and after
AUTHORS = 5000
POSTS_PER_AUTHOR = 40
VIEWERS = 50
FOLLOWS_PER_VIEWER = 500
LIKERS = 500
PAGE = 20
INSIDE = 400  # a page inside the timeline starts after the viewer's 400th newest post
DEEP = 1000  # the deep page starts after the viewer's 1,000th newest post, past the 800 kept
# The server's DB_POOL_MAX and the ceiling's pool (BENCH_POOL_MAX to try another size).
POOL_MAX = int(os.environ.get("BENCH_POOL_MAX", "10"))
CELEBRITY_POSTS = 40

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

# The crowd: users named <prefix>0000001..., no email, a hash that matches no password.
INSERT_CROWD = """
INSERT INTO users (username, password_hash)
SELECT $1 || lpad(g::text, 7, '0'), '!' FROM generate_series(1, $2) g
"""

# Every user of the crowd follows $2; with $3, only the first $3 of them.
INSERT_CROWD_FOLLOWS = """
INSERT INTO follows (follower_id, followee_id, status, accepted_at)
SELECT u.id, $2, 'active', now() FROM users u
WHERE u.username LIKE $1 || '%' AND ($3::int IS NULL OR u.username <= $1 || lpad($3::text, 7, '0'))
"""

FOLLOW_ONE = """
INSERT INTO follows (follower_id, followee_id, status, accepted_at)
SELECT id, $2, 'active', now() FROM users WHERE username LIKE $1 || '%'
"""

INSERT_RECENT_POSTS = """
INSERT INTO posts (author_id, caption, created_at)
SELECT $1, 'celebrity ' || g, now() - random() * interval '1 day' FROM generate_series(1, $2) g
"""

SET_FOLLOWER_COUNTS = """
UPDATE users u SET follower_count = (
    SELECT count(*) FROM follows f WHERE f.followee_id = u.id AND f.status = 'active')
WHERE u.id = ANY($1::uuid[])
"""

PULL_AUTHOR = "INSERT INTO feed_pull_authors (author_id) VALUES ($1)"

CROWD_IDS = """
SELECT id FROM users WHERE username LIKE $1 || '%' ORDER BY username LIMIT $2
"""

Position = tuple[datetime, uuid.UUID]


@dataclass
class Data:
    viewers: list[uuid.UUID]
    fans_of_star: list[uuid.UUID]  # viewers who also follow the celebrity
    likers: list[uuid.UUID]
    sql_likers: list[uuid.UUID]
    posts: list[uuid.UUID]
    author: uuid.UUID  # followed by `fans`
    celebrity: uuid.UUID
    fans: list[uuid.UUID]
    crowd: int
    likes: int
    inside: dict[uuid.UUID, Position] = field(default_factory=dict)  # viewer -> cursor position
    deep: dict[uuid.UUID, Position] = field(default_factory=dict)


async def load_data(database_url: str, fans: int, crowd: int) -> Data:
    conn = await asyncpg.connect(database_url)
    try:
        started = time.monotonic()
        await insert_users(conn, "fa", AUTHORS)
        viewers = await insert_users(conn, "fv", VIEWERS)
        fans_of_star = await insert_users(conn, "fc", VIEWERS)
        likers = await insert_users(conn, "fl", LIKERS)
        sql_likers = await insert_users(conn, "fs", LIKERS)
        [author] = await insert_users(conn, "fo", 1)
        [celebrity] = await insert_users(conn, "fx", 1)
        await conn.execute(INSERT_POSTS, "fa", POSTS_PER_AUTHOR)
        await conn.execute(INSERT_LIKES, "fa", AUTHORS)
        await conn.execute(INSERT_VIEWER_LIKES, "fv")
        await conn.execute(SET_LIKE_COUNTS)
        for group in ("fv", "fc"):
            await conn.execute(INSERT_FOLLOWS, "fa", group, AUTHORS, FOLLOWS_PER_VIEWER)
        await conn.execute(INSERT_CROWD, "fm", crowd)
        await conn.execute(INSERT_CROWD_FOLLOWS, "fm", celebrity, None)
        await conn.execute(INSERT_CROWD_FOLLOWS, "fm", author, fans)
        await conn.execute(FOLLOW_ONE, "fc", celebrity)
        await conn.execute(INSERT_RECENT_POSTS, celebrity, CELEBRITY_POSTS)
        await conn.execute(SET_FOLLOWER_COUNTS, [author, celebrity])
        await conn.execute(PULL_AUTHOR, celebrity)
        await conn.execute("VACUUM ANALYZE")
        posts = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM posts WHERE author_id <> $1 ORDER BY id", celebrity
            )
        ]
        likes = await conn.fetchval("SELECT count(*) FROM likes")
        fan_ids = [r["id"] for r in await conn.fetch(CROWD_IDS, "fm", fans)]
        data = Data(
            viewers,
            fans_of_star,
            likers,
            sql_likers,
            posts,
            author,
            celebrity,
            fan_ids,
            crowd,
            likes,
        )
        for v in viewers + fans_of_star:
            for offset, into in ((INSIDE, data.inside), (DEEP, data.deep)):
                row = await conn.fetchrow(NTH_FEED_POST, v, offset - 1)
                into[v] = (row["created_at"], row["id"])
        print(
            f"loaded {len(posts) + CELEBRITY_POSTS:,} posts, {likes:,} likes, {2 * VIEWERS} "
            f"viewers x {FOLLOWS_PER_VIEWER} follows, a celebrity with {crowd:,} followers "
            f"(and {VIEWERS} of the viewers), an author with {fans:,} in "
            f"{time.monotonic() - started:.1f} s (VACUUM ANALYZE included)",
            flush=True,
        )
        return data
    finally:
        await conn.close()


async def explain(database_url: str, sql: str, *params: Any) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        raw = await conn.fetchval("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, *params)
    finally:
        await conn.close()
    [top] = json.loads(raw) if isinstance(raw, str) else raw
    plan = top["Plan"]
    return (
        f"planning {top['Planning Time']:.2f} ms, execution {top['Execution Time']:.2f} ms, "
        f"{plan['Actual Rows']} rows, shared buffers hit {plan.get('Shared Hit Blocks', 0)} "
        f"read {plan.get('Shared Read Blocks', 0)}"
    )


class RedisCpu:
    """CPU of the Redis server (its pid from INFO), which timelines, queue and emits share."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def read(self) -> float:
        return cpu_seconds(self.pid)


@dataclass
class Measured:
    row: Row
    redis_cpu: float

    def cells(self, ceiling: Measured | None = None) -> list[str]:
        n = len(self.row.latencies) or 1
        redis = f"{self.redis_cpu / n * 1e6:,.0f}"
        return [*self.row.cells(ceiling.row if ceiling else None), redis]


@dataclass
class FanOut:
    what: str
    followers: int
    holders: int  # followers with a timeline
    latencies: list[float] = field(default_factory=list)  # post sent -> fan-out job done
    answered: list[float] = field(default_factory=list)  # post sent -> HTTP answer
    held: list[int] = field(default_factory=list)  # of the holders, timelines with the post
    own: list[bool] = field(default_factory=list)  # in the author's own timeline
    worker_cpu: float = 0.0
    pg_cpu: float = 0.0
    redis_cpu: float = 0.0

    def cells(self) -> list[str]:
        n = len(self.latencies) or 1
        ms = [x * 1000 for x in self.latencies]
        return [
            self.what,
            f"{self.followers:,}",
            f"{self.holders:,}",
            str(len(self.latencies)),
            f"{percentile(ms, 50):.0f} / {percentile(ms, 95):.0f} / {max(ms):.0f}",
            f"{percentile(self.answered, 50) * 1000:.1f}",
            f"{min(self.held):,}-{max(self.held):,} + own {sum(self.own)}/{n}",
            f"{self.worker_cpu / n * 1000:.1f}",
            f"{self.pg_cpu / n * 1000:.1f}",
            f"{self.redis_cpu / n * 1000:.1f}",
        ]


FAN_OUT_HEADERS = [
    "what",
    "followers",
    "with a timeline",
    "posts",
    "post sent -> fan-out done p50 / p95 / max ms",
    "POST answered p50 ms",
    "timelines holding the post",
    "worker CPU ms/post",
    "Postgres CPU ms/post",
    "Redis CPU ms/post",
]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def start_worker(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("wb") as out:
        return await start_python("-m", "workers", env=env, stdout=out, stderr=subprocess.STDOUT)


async def build_timelines(
    base: str, tokens: dict[uuid.UUID, str], redis: Redis, timeout: float = 600
) -> float:
    """One read of the feed each (answered by Postgres, a rebuild queued), then wait for the
    worker to have built every timeline; returns the seconds it took."""
    started = time.monotonic()
    async with aiohttp.ClientSession(base) as http:
        for token in tokens.values():
            async with http.get(f"/v1/feed?limit={PAGE}", headers=auth(token)) as r:
                if r.status != 200:
                    raise RuntimeError(f"GET /v1/feed: {r.status} {(await r.text())[:300]}")
    missing = list(tokens)
    while missing:
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"{len(missing)} timelines not built in {timeout:.0f} s")
        await asyncio.sleep(0.1)
        missing = [v for v in missing if not await timelines.exists(redis, v)]
    return time.monotonic() - started


async def fill_empty(redis: Redis, settings: Settings, users: Sequence[uuid.UUID]) -> None:
    """Timelines (empty, complete) for users who follow no one with posts yet."""
    for i in range(0, len(users), 200):
        await asyncio.gather(
            *(timelines.fill(redis, settings, u, [], older=None) for u in users[i : i + 200])
        )


async def holding(redis: Redis, users: Sequence[uuid.UUID], member: bytes) -> int:
    held = 0
    for i in range(0, len(users), 1000):
        async with redis.pipeline(transaction=False) as pipe:
            for u in users[i : i + 1000]:
                pipe.zscore(timelines.key(u), member)
            held += sum(s is not None for s in await pipe.execute())
    return held


async def fan_out(
    result: FanOut,
    http: aiohttp.ClientSession,
    redis: Redis,
    *,
    author: uuid.UUID,
    token: str,
    holders: Sequence[uuid.UUID],
    posts: int,
    worker_pid: int,
    meter: CpuMeter,
    redis_cpu: RedisCpu,
) -> FanOut:
    """Posts one at a time: each timed until its fan-out job has left the queue (arq deletes a
    job's key when it ends, and these keep no result), then the holders' timelines checked."""
    for i in range(posts):
        pg0, worker0, redis0 = await meter.read(), cpu_seconds(worker_pid), redis_cpu.read()
        sent = time.perf_counter()
        async with http.post(
            "/v1/posts", json={"caption": f"fan-out {i}"}, headers=auth(token)
        ) as r:
            body = await r.json()
            if r.status != 201:
                raise RuntimeError(f"POST /v1/posts: {r.status} {str(body)[:300]}")
        result.answered.append(time.perf_counter() - sent)
        job = f"arq:job:timeline:fanout:{body['id']}"
        while True:  # poll, as tight as the loop allows: this is the figure measured
            if not await redis.exists(job):
                break
            await asyncio.sleep(0.001)
        result.latencies.append(time.perf_counter() - sent)
        result.worker_cpu += cpu_seconds(worker_pid) - worker0
        result.redis_cpu += redis_cpu.read() - redis0
        result.pg_cpu += CpuMeter.used(pg0, await meter.read())[1]
        member = timelines.member(uuid.UUID(body["id"]), author)
        result.held.append(await holding(redis, holders, member))
        result.own.append(await redis.zscore(timelines.key(author), member) is not None)
    return result


async def main_async(args: argparse.Namespace) -> int:
    start_report(
        "Home feed from Postgres and from timelines, fan-out, likes: API beside the same SQL",
        __doc__.split("\n\n")[1],
    )
    raise_fd_limit()
    rng = random.Random(7)
    c = args.concurrency
    jwt_secret = "bench-" + uuid.uuid4().hex
    async with bench_database() as database_url, bench_redis(REDIS_DB) as redis_url:
        data = await load_data(database_url, args.fan_followers, args.celebrity_followers)
        settings = token_settings(jwt_secret)
        readers = data.viewers + data.fans_of_star
        tokens = dict(zip(readers, mint_tokens(settings, readers), strict=True))
        author_token, star_token = mint_tokens(settings, [data.author, data.celebrity])
        liker_tokens = mint_tokens(settings, data.likers)
        n = args.requests + args.warmup

        def feed_calls(group: list[uuid.UUID], at: dict[uuid.UUID, Position] | None) -> list[Call]:
            calls = []
            for i in range(n):
                v = group[i % len(group)]
                cursor = f"&cursor={encode_cursor(*at[v])}" if at else ""
                calls.append(Call("GET", f"/v1/feed?limit={PAGE}{cursor}", tokens[v]))
            return calls

        first_calls = feed_calls(data.viewers, None)
        inside_calls = feed_calls(data.viewers, data.inside)
        deep_calls = feed_calls(data.viewers, data.deep)
        star_calls = feed_calls(data.fans_of_star, None)
        me_calls = [Call("GET", "/v1/me", tokens[data.viewers[i % VIEWERS]]) for i in range(n)]
        targets = rng.sample(data.posts, 2 * args.likes)
        like_calls = [
            Call("PUT", f"/v1/posts/{p}/like", liker_tokens[i % LIKERS])
            for i, p in enumerate(targets[: args.likes])
        ]
        sql_likes = [(p, data.sql_likers[i % LIKERS]) for i, p in enumerate(targets[args.likes :])]

        first, star_fan = data.viewers[0], data.fans_of_star[0]
        print("EXPLAIN (ANALYZE, BUFFERS) of db.posts.SELECT_FEED, viewer 1:")
        print(f"- first page: {await explain(database_url, SELECT_FEED, first, *KEYSET_TOP, PAGE)}")
        deep = await explain(database_url, SELECT_FEED, first, *data.deep[first], PAGE)
        print(f"- deep page:  {deep}")
        print(flush=True)

        with bench_folder() as folder:
            common: dict[str, Any] = {
                "database_url": database_url,
                "redis_url": redis_url,
                "channel": f"drape-bench-{uuid.uuid4().hex[:8]}",
                "jwt_secret": jwt_secret,
                "folder": folder,
                "pool_max": POOL_MAX,
            }
            env_merge = {**server_env(port=free_port(), **common), "TIMELINES": "false"}
            env_timelines = server_env(port=free_port(), **common)
            merge = await start_server(env_merge, log=folder / "merge.log")
            timeline = await start_server(env_timelines, log=folder / "timelines.log")
            worker = await start_worker(env_timelines, folder / "worker.log")
            pool = await create_pool(database_url, min_size=POOL_MAX, max_size=POOL_MAX)
            own = Settings(redis_url=redis_url)  # the servers' timeline settings (the defaults)
            queue = await create_queue(own)
            redis = Redis.from_url(redis_url)
            try:
                built = await build_timelines(
                    timeline.base,
                    {**tokens, data.celebrity: star_token, data.author: author_token},
                    redis,
                )
                await fill_empty(redis, own, data.fans)
                print(
                    f"timelines: {len(tokens) + 2} built by the worker after one read each in "
                    f"{built:.1f} s; {len(data.fans):,} empty ones written for the author's "
                    "followers",
                )
                print("EXPLAIN (ANALYZE, BUFFERS) of db.timelines.SELECT_PAGE:")
                for label, v in (
                    ("viewer 1", first),
                    ("a viewer following the celebrity", star_fan),
                ):
                    got = await timelines.page(redis, own, v, None, fetch_count(PAGE))
                    assert got is not None
                    plan = await explain(
                        database_url, SELECT_PAGE, v, got.post_ids, *KEYSET_TOP, PAGE
                    )
                    print(f"- first page, {label}: {plan}")
                print(flush=True)
                await check_pages(
                    [merge.base, timeline.base],
                    tokens[first],
                    [c.path for c in (first_calls[0], inside_calls[0], deep_calls[0])],
                )
                await check_pages(
                    [merge.base, timeline.base], tokens[star_fan], [star_calls[0].path]
                )
                db_name = database_name(database_url)
                redis_cpu = RedisCpu(int((await redis.info("server"))["process_id"]))
                with LoadProcess() as load:

                    async def api(what: str, server: Any, calls: list[Call]) -> Measured:
                        meter = CpuMeter(server.pid, db_name)
                        await load.run(server.base, calls[: args.warmup], concurrency=c)
                        before = redis_cpu.read()
                        row = await measure_http(
                            what, load, meter, server.base, calls[args.warmup :], concurrency=c
                        )
                        return Measured(row, redis_cpu.read() - before)

                    async def sql(what: str, fn: Any, items: Sequence[Any]) -> Measured:
                        before = redis_cpu.read()
                        row = await measure_local(what, db_name, fn, items, concurrency=c)
                        return Measured(row, redis_cpu.read() - before)

                    each_viewer = [data.viewers[i % VIEWERS] for i in range(args.requests)]
                    me = await api("GET /v1/me", timeline, me_calls)
                    reads = [
                        await api("GET /v1/feed first page, Postgres merge", merge, first_calls),
                        await sql(
                            "SELECT_FEED first page (asyncpg)",
                            lambda v: pool.fetch(SELECT_FEED, v, *KEYSET_TOP, PAGE),
                            each_viewer,
                        ),
                        await api("GET /v1/feed first page, timeline", timeline, first_calls),
                        await sql(
                            "db.timelines.feed first page (Redis + asyncpg)",
                            lambda v: db_timelines.feed(pool, queue, own, v, None, PAGE),
                            each_viewer,
                        ),
                        await api(f"GET /v1/feed after {INSIDE}, timeline", timeline, inside_calls),
                        await api(
                            f"GET /v1/feed after {DEEP:,}, Postgres merge", merge, deep_calls
                        ),
                        await api(
                            f"GET /v1/feed after {DEEP:,}, timeline server (Postgres: past 800)",
                            timeline,
                            deep_calls,
                        ),
                        await api(
                            "GET /v1/feed first page, timeline + the 1M-follower account",
                            timeline,
                            star_calls,
                        ),
                    ]
                    writes = [
                        await api("PUT /v1/posts/{id}/like (whole path)", timeline, like_calls),
                        await sql(
                            "same SQL, db.posts.LIKE (asyncpg)",
                            lambda pair: like_sql(pool, *pair),
                            sql_likes,
                        ),
                    ]
                meter = CpuMeter(None, db_name)
                async with aiohttp.ClientSession(timeline.base) as http:
                    fans = await fan_out(
                        FanOut(
                            f"author with {len(data.fans):,} followers",
                            len(data.fans),
                            len(data.fans),
                        ),
                        http,
                        redis,
                        author=data.author,
                        token=author_token,
                        holders=data.fans,
                        posts=args.fan_posts,
                        worker_pid=worker.pid,
                        meter=meter,
                        redis_cpu=redis_cpu,
                    )
                    crowd = data.crowd + VIEWERS
                    star = await fan_out(
                        FanOut(
                            f"celebrity, {crowd:,} followers (merged at read)",
                            crowd,
                            len(data.fans) + VIEWERS,
                        ),
                        http,
                        redis,
                        author=data.celebrity,
                        token=star_token,
                        holders=data.fans + data.fans_of_star,
                        posts=args.fan_posts,
                        worker_pid=worker.pid,
                        meter=meter,
                        redis_cpu=redis_cpu,
                    )
                async with pool.acquire() as conn:
                    likes_now = await conn.fetchval("SELECT count(*) FROM likes")
            finally:
                await redis.aclose()
                await queue.aclose()
                await pool.close()
                worker.terminate()
                await worker.wait()
                await merge.stop()
                await timeline.stop()
    headers = [*ROW_HEADERS, "Redis CPU µs/req"]
    print_table(
        f"Home feed: GET /v1/feed?limit={PAGE}, {VIEWERS} viewers following "
        f"{FOLLOWS_PER_VIEWER} of {AUTHORS:,} authors, {len(data.posts):,} posts, "
        f"{data.likes:,} likes",
        headers,
        [
            me.cells(),
            reads[0].cells(reads[1]),
            reads[1].cells(),
            reads[2].cells(reads[3]),
            reads[3].cells(),
            *(r.cells() for r in reads[4:]),
        ],
        notes=[
            f"- {args.warmup} unmeasured warm-up requests before each API row; the SQL rows "
            "run after them on a warm cache.",
            "- Postgres merge: a web process with TIMELINES=false; timeline: one with "
            "TIMELINES=true (the default) and its worker. Both run the same code on the same "
            "data; their pages were checked equal before measuring.",
            f"- after {DEEP:,}: past the {own.timeline_size} posts a timeline keeps, so the "
            "timeline server answers it with the Postgres merge too.",
            f"- the 1M-follower account: {VIEWERS} other viewers with the same "
            f"{FOLLOWS_PER_VIEWER} follows, and the celebrity ({data.crowd + VIEWERS:,} followers, "
            f"{CELEBRITY_POSTS} posts over the last day), whose posts SELECT_PAGE merges in.",
            "- vs ceiling: API req/s / SQL req/s. Redis CPU: the redis-server process, which the "
            "revocation check of every request (GET /v1/me too) also uses.",
            ROW_NOTE,
        ],
    )
    rows = [("first page, Postgres merge", reads[0]), ("first page, timeline", reads[2])]
    rows += [
        (f"after {INSIDE}, timeline", reads[4]),
        ("first page, + 1M-follower account", reads[7]),
    ]
    print_table(
        "Against GET /v1/me in the same run",
        ["GET /v1/feed", "req/s", "vs /v1/me req/s", "p99 ms", "vs /v1/me p99"],
        [
            [
                what,
                f"{m.row.per_second:,.0f}",
                ratio(m.row.per_second, me.row.per_second),
                f"{percentile(m.row.latencies, 99) * 1000:.1f}",
                ratio(percentile(m.row.latencies, 99), percentile(me.row.latencies, 99)),
            ]
            for what, m in rows
        ],
        notes=[
            f"- GET /v1/me: {me.row.per_second:,.0f} req/s, p50 / p99 "
            f"{p50_p99_ms(me.row.latencies)} ms."
        ],
    )
    print_table(
        "Fan-out of one post through one worker (python -m workers)",
        FAN_OUT_HEADERS,
        [fans.cells(), star.cells()],
        notes=[
            "- posts sent one at a time; fan-out done: the job's key left Redis (arq deletes it "
            "when the job ends); timelines holding the post: checked after each post, of the "
            "followers with a timeline (for the celebrity: the author's 10,000 followers, who "
            f"follow it too, and the {VIEWERS} viewers), plus the author's own.",
            "- POST answered: the request alone (the post, its author's own timeline, the job "
            "queued, and for the author the live feed:post to its followers).",
            "- CPU per post over the timed part only: the worker process, the Postgres backends, "
            "the redis-server process.",
        ],
    )
    added = likes_now - data.likes
    print_table(
        "Likes: whole write path beside its SQL",
        headers,
        [writes[0].cells(writes[1]), writes[1].cells()],
        notes=[
            f"- {added:,} likes stored for {2 * args.likes:,} sent "
            f"({'as expected' if added == 2 * args.likes else 'MISMATCH'}); each like is new "
            "(a user and a post that had no like), so every one writes row, counter and "
            "notification.",
            ROW_NOTE,
        ],
    )
    tl, me_p99 = reads[2].row, percentile(me.row.latencies, 99)
    p95 = percentile(fans.latencies, 95)
    checks = [
        (
            f"first page from the timeline: {tl.per_second:,.0f} req/s vs GET /v1/me "
            f"{me.row.per_second:,.0f} ({ratio(tl.per_second, me.row.per_second)}; "
            "target >= 0.50x)",
            tl.per_second >= 0.5 * me.row.per_second,
        ),
        (
            f"its p99 {percentile(tl.latencies, 99) * 1000:.1f} ms vs GET /v1/me's "
            f"{me_p99 * 1000:.1f} ({ratio(percentile(tl.latencies, 99), me_p99)}; "
            "target <= 2.00x)",
            percentile(tl.latencies, 99) <= 2 * me_p99,
        ),
        (
            f"a post in all {len(data.fans):,} followers' timelines: p95 {p95 * 1000:.0f} ms "
            "(target <= 2,000 ms)",
            p95 <= 2.0 and min(fans.held) == len(data.fans),
        ),
        (
            f"the {crowd:,}-follower account: {max(star.held)} follower timelines written "
            "per post (target 0)",
            max(star.held) == 0,
        ),
    ]
    print("## Targets")
    print()
    for what, met in checks:
        print(f"- {what}: {'met' if met else 'NOT MET'}")
    print()
    note_load("at the end (this bench's own processes included)")
    return 0


async def like_sql(pool: asyncpg.Pool, post_id: uuid.UUID, user_id: uuid.UUID) -> None:
    row = await pool.fetchrow(LIKE, user_id, post_id, REPEAT_WINDOW)
    if row is None or not row["changed"]:
        raise RuntimeError("the post was not visible or the like already existed")


async def check_pages(bases: list[str], token: str, paths: list[str]) -> None:
    """Every server answers each page in full, and with the same JSON, before anything is
    timed."""
    async with aiohttp.ClientSession() as http:
        for path in paths:
            seen = []
            for base in bases:
                async with http.get(base + path, headers=auth(token)) as r:
                    body = await r.json()
                    if r.status != 200 or len(body["items"]) != PAGE or not body["next_cursor"]:
                        raise RuntimeError(f"GET {base}{path}: {r.status} {str(body)[:300]}")
                    seen.append(body)
            if any(body != seen[0] for body in seen[1:]):
                raise RuntimeError(f"GET {path}: the servers' pages differ")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per feed row")
    parser.add_argument("--warmup", type=int, default=200, help="per API feed row")
    parser.add_argument("--likes", type=int, default=5000, help="per like row")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--fan-followers", type=int, default=10_000)
    parser.add_argument("--celebrity-followers", type=int, default=1_000_000)
    parser.add_argument("--fan-posts", type=int, default=20, help="per fan-out row")
    args = parser.parse_args(argv)
    if args.celebrity_followers <= Settings.timeline_fanout_max_followers:
        parser.error(
            "--celebrity-followers must be above TIMELINE_FANOUT_MAX_FOLLOWERS "
            f"({Settings.timeline_fanout_max_followers:,})"
        )
    if args.fan_followers > min(args.celebrity_followers, Settings.timeline_fanout_max_followers):
        parser.error("--fan-followers: at most the celebrity's and the fan-out threshold")
    return run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
