"""Latency of the wardrobe list, GET /v1/garments, with filters, on a 2,000-garment wardrobe.

    python -m bench.wardrobe [--requests 300] [--others 50] [--per-other 500]

Data: a fresh database holding one user with 2,000 garments and `--others` users with
`--per-other` garments each (25,000 by default), so every index is shared with other wardrobes
as in production. Garments are drawn like a real wardrobe: categories weighted towards tops,
one to three colours from the family anchors (neutrals most often), one to four seasons, zero to
four tags from 30, a brand from 40, a name of brand + colour + material + subcategory, 80% with an
image (so the response signs two URLs per garment), 5% archived, created over three years.

What is measured, per filter combination: `--requests` sequential GET /v1/garments?limit=20
(after 30 unmeasured) from a separate client process against the real `python -m server` (its
own process, local object store), p50/p95/p99 of the client-side latency; beside it, the same
SQL and parameters run directly with asyncpg from this process (the ceiling: no HTTP, no JSON,
no URL signing). Then EXPLAIN ANALYZE of each query names the plan Postgres chose.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
import asyncpg

from bench.common import (
    Call,
    LoadProcess,
    bench_database,
    bench_folder,
    bench_redis,
    free_port,
    insert_users,
    mint_tokens,
    note_load,
    percentile,
    print_table,
    run,
    server_env,
    start_report,
    start_server,
    token_settings,
)
from db import garments as db_garments
from db.common import decode_cursor
from db.pool import create_pool
from drape import taxonomy, vocab

PAGE = 20
WARMUP = 30
REDIS_DB = 11

CATEGORY_WEIGHTS = {
    "tops": 30, "bottoms": 18, "dresses": 8, "outerwear": 10, "shoes": 12, "bags": 5,
    "accessories": 10, "activewear": 5, "swimwear": 2,
}  # fmt: skip
FAMILY_WEIGHTS = {
    "black": 14, "white": 11, "gray": 9, "navy": 9, "beige": 7, "blue": 9, "brown": 5,
    "green": 5, "olive": 3, "red": 5, "pink": 4, "burgundy": 3, "purple": 2, "yellow": 3,
    "orange": 2, "teal": 2,
}  # fmt: skip
TAGS = (
    "work", "casual", "basic", "favourite", "gym", "date night", "vintage", "summer", "travel",
    "office", "weekend", "party", "comfy", "formal", "layering", "staple", "gift", "thrifted",
    "wedding", "holiday", "beach", "hiking", "minimal", "statement", "cozy", "rainy day",
    "capsule", "designer", "second hand", "to repair",
)  # fmt: skip
BRANDS = (
    "Uniqlo", "Zara", "H&M", "COS", "Arket", "Levi's", "Nike", "Adidas", "Patagonia", "Mango",
    "Everlane", "J.Crew", "Gap", "Muji", "Sézane", "A.P.C.", "Acne Studios", "Ganni", "Toteme",
    "Massimo Dutti", "& Other Stories", "Weekday", "Carhartt", "Dr. Martens", "Vans", "Converse",
    "New Balance", "Birkenstock", "Longchamp", "Barbour", "Woolrich", "Lululemon", "Reformation",
    "Madewell", "Ralph Lauren", "Lacoste", "Fjällräven", "Columbia", "Veja", "Other",
)  # fmt: skip
COLUMNS = (
    "owner_id", "name", "category", "subcategory", "colors", "pattern", "material", "formality",
    "warmth", "seasons", "brand", "price", "tags", "image_key", "thumbnail_key", "is_archived",
    "created_at",
)  # fmt: skip
INSERT = f"""
INSERT INTO garments ({", ".join(COLUMNS)})
VALUES ({", ".join(f"${i}" for i in range(1, len(COLUMNS) + 1))})
"""


def _garment(rng: random.Random, owner: uuid.UUID, now: datetime) -> tuple[Any, ...]:
    category = rng.choices(list(CATEGORY_WEIGHTS), list(CATEGORY_WEIGHTS.values()))[0]
    sub = rng.choice(list(taxonomy.CATEGORIES[category]))
    families = rng.choices(list(FAMILY_WEIGHTS), list(FAMILY_WEIGHTS.values()), k=rng.randint(1, 3))
    colors = [
        {"hex": rng.choice(taxonomy.FAMILY_ANCHORS[f]), "family": f}
        for f in dict.fromkeys(families)
    ]
    material = rng.choice(taxonomy.MATERIALS)
    brand = rng.choice(BRANDS)
    seasons = sorted(rng.sample(vocab.SEASONS, rng.randint(1, 4)))
    tags = rng.sample(TAGS, rng.choices([0, 1, 2, 3, 4], [15, 30, 30, 15, 10])[0])
    token = secrets.token_hex(12)
    has_image = rng.random() < 0.8
    prefix = f"garments/{owner}/{token}"
    return (
        owner,
        f"{brand} {families[0]} {material} {sub.replace('_', ' ')}",
        category,
        sub,
        colors,
        rng.choices(taxonomy.PATTERNS, [60] + [4] * 11)[0],
        material,
        rng.randint(1, 5),
        rng.randint(1, 5),
        seasons,
        brand,
        round(rng.uniform(5, 400), 2),
        tags,
        f"{prefix}.1600.webp" if has_image else None,
        f"{prefix}.320.webp" if has_image else None,
        rng.random() < 0.05,
        now - timedelta(seconds=rng.uniform(0, 3 * 365 * 86400)),
    )


async def fill(
    pool: asyncpg.Pool, me: uuid.UUID, others: list[uuid.UUID], *, mine: int, per: int
) -> int:
    rng = random.Random(20240601)
    now = datetime.now(UTC)
    rows = [_garment(rng, me, now) for _ in range(mine)]
    rows += [_garment(rng, o, now) for o in others for _ in range(per)]
    rng.shuffle(rows)  # interleave owners on disk, as years of use would
    async with pool.acquire() as conn:
        await conn.executemany(INSERT, rows)
        await conn.execute("VACUUM ANALYZE garments")
    return len(rows)


@dataclass(frozen=True, slots=True)
class Case:
    label: str
    query: dict[str, Any]
    where: db_garments.GarmentFilter
    pages: int = 1  # measure the page this deep


CASES = [
    Case("no filter", {}, db_garments.GarmentFilter()),
    Case("category=shoes", {"category": "shoes"}, db_garments.GarmentFilter(categories=["shoes"])),
    Case("color=navy", {"color": "navy"}, db_garments.GarmentFilter(color_family="navy")),
    Case(
        "season=winter & tag=work",
        {"season": "winter", "tag": "work"},
        db_garments.GarmentFilter(seasons=["winter"], tags=["work"]),
    ),
    Case("q=linen (name/brand)", {"q": "linen"}, db_garments.GarmentFilter(text="linen")),
    Case("q=zebra (no match: worst case)", {"q": "zebra"}, db_garments.GarmentFilter(text="zebra")),
    Case(
        "category=swimwear & color=pink (rare)",
        {"category": "swimwear", "color": "pink"},
        db_garments.GarmentFilter(categories=["swimwear"], color_family="pink"),
    ),
    Case("page 5 (cursor), no filter", {}, db_garments.GarmentFilter(), pages=5),
]


async def _cursor(base: str, token: str, case: Case) -> str | None:
    """The cursor of page `case.pages`, walked through the API like a client."""
    cursor = None
    async with aiohttp.ClientSession() as http:
        for _ in range(case.pages - 1):
            query = {**case.query, "limit": PAGE, **({"cursor": cursor} if cursor else {})}
            async with http.get(
                f"{base}/v1/garments?{urlencode(query)}",
                headers={"Authorization": f"Bearer {token}"},
            ) as r:
                assert r.status == 200, await r.text()
                cursor = (await r.json())["next_cursor"]
    return cursor


async def _direct(
    pool: asyncpg.Pool, sql: str, params: Sequence[Any], n: int
) -> tuple[list[float], int]:
    rows = 0
    for _ in range(WARMUP):
        rows = len(await pool.fetch(sql, *params))
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await pool.fetch(sql, *params)
        out.append(time.perf_counter() - t)
    return out, rows


def _plan_summary(plan: dict[str, Any]) -> str:
    """The scan nodes of a plan (and the indexes they use), innermost last."""
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        kind = node["Node Type"]
        if "Scan" in kind:
            index = node.get("Index Name")
            found.append(
                f"{kind}{' on ' + index if index else ''} ({node.get('Actual Rows', 0)} rows)"
            )
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    return "; ".join(found)


def _ms(values: Sequence[float]) -> str:
    return " / ".join(f"{percentile(values, q) * 1000:.2f}" for q in (50, 95, 99))


async def main(args: argparse.Namespace) -> None:
    start_report(
        "Wardrobe list latency",
        "GET /v1/garments?limit=20 on a 2,000-garment wardrobe among "
        f"{args.others * args.per_other:,} garments of {args.others} other users.",
    )
    secret = "bench-" + secrets.token_hex(16)
    async with bench_database() as db_url, bench_redis(REDIS_DB) as redis_url:
        pool = await create_pool(db_url, min_size=1, max_size=2)
        try:
            users = await insert_users(pool, "wardrobe", args.others + 1)
            me, others = users[0], users[1:]
            started = time.perf_counter()
            total = await fill(pool, me, others, mine=2000, per=args.per_other)
            print(f"inserted {total:,} garments in {time.perf_counter() - started:.1f} s\n")
            with bench_folder() as folder:
                env = server_env(
                    port=free_port(),
                    database_url=db_url,
                    redis_url=redis_url,
                    channel=f"bench-{secrets.token_hex(4)}",
                    jwt_secret=secret,
                    folder=folder,
                )
                server = await start_server(env, log=folder / "server.log")
                try:
                    rows = await _measure(args, pool, server.base, me, secret)
                finally:
                    await server.stop()
        finally:
            await pool.close()
    note_load("at the end")
    print_table(
        "GET /v1/garments?limit=20, sequential requests (ms: p50 / p95 / p99)",
        ["filter", "rows", "HTTP", "SQL alone", "plan (EXPLAIN ANALYZE)"],
        rows,
        notes=[
            f"{args.requests} measured requests per row after {WARMUP} unmeasured; HTTP from a "
            "separate client process, one request in flight; 'SQL alone' is the same statement "
            "and parameters through asyncpg from the bench process.",
            "",
            "No index was added for this list. The plans show why: garments_owner_list_idx "
            "(owner_id, created_at DESC, id DESC) returns one owner's rows already in page order, "
            "so a filter only reads rows until the page is full, and a keyset cursor starts "
            "where the last page ended (page 5 reads 21 rows, like page 1). Rare combinations "
            "switch to bitmap scans of the category and gin indexes. The worst case is a search "
            "nothing matches (q=zebra): every one of the owner's 2,000 rows is read and matched "
            "with ILIKE, a few milliseconds (about 1 ms of it is reading the rows, the rest the "
            "matching; lower()/strpos() variants measured no faster). A pg_trgm index would "
            "serve that case, but the embedded Postgres of `make run` (pgserver) does not ship "
            "the extension, and a few ms at the scale of one wardrobe does not call for it.",
        ],
    )


async def _measure(
    args: argparse.Namespace, pool: asyncpg.Pool, base: str, me: uuid.UUID, secret: str
) -> list[list[Any]]:
    (token,) = mint_tokens(token_settings(secret), [me])
    out = []
    with LoadProcess() as client:
        for case in CASES:
            cursor = await _cursor(base, token, case) if case.pages > 1 else None
            query = {**case.query, "limit": PAGE, **({"cursor": cursor} if cursor else {})}
            path = f"/v1/garments?{urlencode(query)}"
            calls = [Call("GET", path, token)] * (WARMUP + args.requests)
            await client.run(base, calls[:WARMUP], concurrency=1)  # warm-up, not measured
            http = await client.run(base, calls[WARMUP:], concurrency=1)
            assert http.failures() == 0, http.statuses
            after = decode_cursor(cursor, datetime, uuid.UUID) if cursor else None
            sql, params = db_garments.list_query(me, case.where, limit=PAGE + 1, after=after)
            direct, n_rows = await _direct(pool, sql, params, args.requests)
            plan = await pool.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *params)
            plan = json.loads(plan) if isinstance(plan, str) else plan
            summary = f"{_plan_summary(plan[0])}, {plan[0]['Execution Time']:.2f} ms"
            out.append([case.label, min(n_rows, PAGE), _ms(http.latencies), _ms(direct), summary])
    return out


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--others", type=int, default=50)
    parser.add_argument("--per-other", type=int, default=500)
    run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
