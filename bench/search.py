"""People search and hashtag pages at 100k users / 200k posts: the API beside the same SQL.

    python -m bench.search [--users 100000] [--posts 200000] [--requests 2000] [--concurrency 16]

Data, loaded with COPY: users named from two words of a 400-word list and a number
(`velvet_harbor4821`), display names of two capitalised words, 1 in 10 accounts private; posts
spread over 90 days by random authors, captions of 4-12 words with 0-3 hashtags drawn from 300
tags by a Zipf law (the most used tag is on about 1 in 7 posts), post_hashtags filled as
db.posts.create_post fills it; 50 viewers, each following 200 random accounts; VACUUM ANALYZE.

Queries, round-robin over the viewers: people search (db.search.SEARCH_PEOPLE) for the first
3-8 letters of a random username, and for a random username with one letter changed (a typo);
the first page of a hashtag (db.search.HASHTAG_POSTS) for the most used tag, and for tags of
middling use; a page 200 posts deep into the most used one. Each through GET on one web
process (`python -m server`, DB_POOL_MAX=10) from a separate load process, and the same SQL from
this process through asyncpg with a pool of the same size, same concurrency, after the same
unmeasured warm-up.
"""

from __future__ import annotations

import argparse
import random
import string
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

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
    measure_http,
    measure_local,
    mint_tokens,
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
from db.search import HASHTAG_POSTS, SEARCH_PEOPLE, like_prefix
from drape import captions

REDIS_DB = 8
POOL_MAX = 10
PAGE = 20
VIEWERS = 50
FOLLOWS_PER_VIEWER = 200
TAGS = 300
DEEP = 200

SYLLABLES = [a + b for a in "bcdfghklmnprstvz" for b in "aeiou"]


def _words(rng: random.Random, n: int) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        out.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))))
    return sorted(out)


async def load_data(url: str, users: int, posts: int, rng: random.Random) -> dict[str, Any]:
    words = _words(rng, 400)
    tags = [f"{rng.choice(words)}{rng.choice(words)}" for _ in range(TAGS)]
    weights = [1 / (i + 1) for i in range(TAGS)]
    conn = await asyncpg.connect(url)
    try:
        user_rows = []
        names = []
        for i in range(users):
            a, b = rng.choice(words), rng.choice(words)
            name = f"{a}_{b}{i}"[:30]
            names.append(name)
            user_rows.append(
                (
                    uuid.uuid4(),
                    name,
                    f"{name}@bench.example",
                    "!",
                    f"{a.title()} {b.title()}",
                    rng.random() < 0.1,
                    int(rng.paretovariate(1.2)) - 1,
                )
            )
        await conn.copy_records_to_table(
            "users",
            records=user_rows,
            columns=[
                "id",
                "username",
                "email",
                "password_hash",
                "display_name",
                "is_private",
                "follower_count",
            ],
        )
        ids = [r[0] for r in user_rows]
        now = datetime.now(UTC)
        post_rows, tag_rows = [], []
        for _ in range(posts):
            pid = uuid.uuid4()
            at = now - timedelta(seconds=rng.uniform(0, 90 * 86400))
            chosen = rng.choices(tags, weights, k=rng.choice((0, 1, 1, 2, 2, 3)))
            text = " ".join(rng.choice(words) for _ in range(rng.randint(4, 12)))
            caption = text + "".join(f" #{t}" for t in chosen)
            post_rows.append((pid, rng.choice(ids), caption, at, rng.randint(0, 40)))
            tag_rows += [(pid, t, at) for t in captions.hashtags(caption)]
        await conn.copy_records_to_table(
            "posts",
            records=post_rows,
            columns=["id", "author_id", "caption", "created_at", "like_count"],
        )
        await conn.copy_records_to_table(
            "post_hashtags", records=tag_rows, columns=["post_id", "tag", "created_at"]
        )
        viewers = rng.sample(ids, VIEWERS)
        follows = {(v, f) for v in viewers for f in rng.sample(ids, FOLLOWS_PER_VIEWER) if f != v}
        await conn.copy_records_to_table(
            "follows", records=list(follows), columns=["follower_id", "followee_id"]
        )
        await conn.execute("VACUUM ANALYZE")
        counts = await conn.fetch(
            "SELECT tag, count(*) AS n FROM post_hashtags GROUP BY tag ORDER BY n DESC"
        )
    finally:
        await conn.close()
    return {
        "viewers": viewers,
        "names": names,
        "top": counts[0]["tag"],
        "top_count": counts[0]["n"],
        "middling": [r["tag"] for r in counts[len(counts) // 3 : len(counts) // 3 + 20]],
        "middling_count": counts[len(counts) // 3]["n"],
        "tag_rows": len(tag_rows),
    }


def typo(rng: random.Random, name: str) -> str:
    i = rng.randrange(len(name))
    return name[:i] + rng.choice(string.ascii_lowercase) + name[i + 1 :]


async def deep_cursor(pool: asyncpg.Pool, viewer: uuid.UUID, tag: str) -> tuple[Any, Any]:
    rows = await pool.fetch(HASHTAG_POSTS, viewer, tag, *KEYSET_TOP, DEEP)
    return rows[-1]["created_at"], rows[-1]["id"]


async def explain(url: str, sql: str, *params: Any) -> str:
    conn = await asyncpg.connect(url)
    try:
        plan = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *params)
    finally:
        await conn.close()
    import json

    top = json.loads(plan)[0]
    return f"{top['Execution Time']:.2f} ms execution, {top['Planning Time']:.2f} ms planning"


async def main_async(args: argparse.Namespace) -> int:
    start_report(
        "People search and hashtag pages: API beside the same SQL", __doc__.split("\n\n")[1]
    )
    raise_fd_limit()
    rng = random.Random(11)
    c = args.concurrency
    jwt_secret = "bench-" + uuid.uuid4().hex
    async with bench_database() as url, bench_redis(REDIS_DB) as redis_url:
        data = await load_data(url, args.users, args.posts, rng)
        print(
            f"loaded {args.users:,} users, {args.posts:,} posts, {data['tag_rows']:,} hashtag rows;"
            f" most used tag on {data['top_count']:,} posts, middling tags on about"
            f" {data['middling_count']:,}",
            flush=True,
        )
        viewers: list[uuid.UUID] = data["viewers"]
        tokens = dict(zip(viewers, mint_tokens(token_settings(jwt_secret), viewers), strict=True))
        n = args.requests
        prefixes = [rng.choice(data["names"])[: rng.randint(3, 8)] for _ in range(n)]
        typos = [typo(rng, rng.choice(data["names"])) for _ in range(n)]
        middling = [rng.choice(data["middling"]) for _ in range(n)]
        pool = await create_pool(url, min_size=POOL_MAX, max_size=POOL_MAX)
        deep = {v: await deep_cursor(pool, v, data["top"]) for v in viewers}

        def viewer(i: int) -> uuid.UUID:
            return viewers[i % VIEWERS]

        def people_sql(i_q: tuple[int, str]) -> Any:
            q = i_q[1].lower()
            return pool.fetch(SEARCH_PEOPLE, viewer(i_q[0]), q, like_prefix(q), 0, PAGE)

        def tag_sql(i_t: tuple[int, str], before: tuple[Any, Any] | None = None) -> Any:
            v = viewer(i_t[0])
            return pool.fetch(HASHTAG_POSTS, v, i_t[1], *(before or KEYSET_TOP), PAGE)

        cases: list[tuple[str, list[Call], Any, list[Any]]] = [
            (
                "people search, username prefix",
                [
                    Call("GET", f"/v1/search/people?q={quote(q)}&limit={PAGE}", tokens[viewer(i)])
                    for i, q in enumerate(prefixes)
                ],
                people_sql,
                list(enumerate(prefixes)),
            ),
            (
                "people search, one letter wrong",
                [
                    Call("GET", f"/v1/search/people?q={quote(q)}&limit={PAGE}", tokens[viewer(i)])
                    for i, q in enumerate(typos)
                ],
                people_sql,
                list(enumerate(typos)),
            ),
            (
                f"hashtag page, most used tag ({data['top_count']:,} posts)",
                [
                    Call("GET", f"/v1/hashtags/{data['top']}/posts?limit={PAGE}", tokens[viewer(i)])
                    for i in range(n)
                ],
                tag_sql,
                [(i, data["top"]) for i in range(n)],
            ),
            (
                f"hashtag page, middling tags (~{data['middling_count']:,} posts)",
                [
                    Call("GET", f"/v1/hashtags/{t}/posts?limit={PAGE}", tokens[viewer(i)])
                    for i, t in enumerate(middling)
                ],
                tag_sql,
                list(enumerate(middling)),
            ),
            (
                f"hashtag page {DEEP} posts deep, most used tag",
                [
                    Call(
                        "GET",
                        f"/v1/hashtags/{data['top']}/posts?limit={PAGE}"
                        f"&cursor={encode_cursor(*deep[viewer(i)])}",
                        tokens[viewer(i)],
                    )
                    for i in range(n)
                ],
                lambda i_t: tag_sql(i_t, deep[viewer(i_t[0])]),
                [(i, data["top"]) for i in range(n)],
            ),
        ]
        v0, q0 = viewers[0], prefixes[0].lower()
        print("EXPLAIN ANALYZE, viewer 1:")
        people_plan = await explain(url, SEARCH_PEOPLE, v0, q0, like_prefix(q0), 0, PAGE)
        print(f"- people search {q0!r}: {people_plan}")
        t0 = typos[0].lower()
        typo_plan = await explain(url, SEARCH_PEOPLE, v0, t0, like_prefix(t0), 0, PAGE)
        print(f"- people search {t0!r}: {typo_plan}")
        tag_plan = await explain(url, HASHTAG_POSTS, v0, data["top"], *KEYSET_TOP, PAGE)
        print(f"- hashtag page #{data['top']}: {tag_plan}")
        print(flush=True)

        rows: list[list[str]] = []
        with bench_folder() as folder:
            env = server_env(
                port=free_port(),
                database_url=url,
                redis_url=redis_url,
                channel=f"drape-bench-{uuid.uuid4().hex[:8]}",
                jwt_secret=jwt_secret,
                folder=folder,
                pool_max=POOL_MAX,
            )
            server = await start_server(env, log=folder / "server.log")
            db_name = database_name(url)
            try:
                with LoadProcess() as load:
                    for what, calls, fn, items in cases:
                        meter = CpuMeter(server.pid, db_name)
                        api: Row = await measure_http(
                            f"GET: {what}",
                            load,
                            meter,
                            server.base,
                            calls,
                            concurrency=c,
                            warmup=args.warmup,
                        )
                        sql = await measure_local(
                            f"same SQL: {what}",
                            db_name,
                            fn,
                            items[args.warmup :],
                            concurrency=c,
                            warmup=items[: args.warmup],
                        )
                        rows += [api.cells(sql), sql.cells()]
            finally:
                await server.stop()
                await pool.close()
    print_table(
        f"Search at {args.users:,} users / {args.posts:,} posts",
        ROW_HEADERS,
        rows,
        [ROW_NOTE, "- vs ceiling: the API row's req/s over the same SQL's, run just after it."],
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--posts", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=2000, help="per row, warm-up included")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    return run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
