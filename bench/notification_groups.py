"""The grouped notifications page against the plain one, for recipients with many notifications.

    python -m bench.notification_groups [--sizes 1000 10000 50000] [--calls 40]

Each recipient has N notifications over 30 days: likes and comments on 200 posts by 500
accounts, and follows (about N / 30 a day). The grouped page (20 groups, one per type, post
and day) aggregates only the newest days it needs (db/notification_groups.py); the plain page
(`GET /v1/notifications`, the baseline) reads 20 rows by primary key. Both are timed as the
handlers call them, on one connection.
"""

from __future__ import annotations

import argparse
import time
import uuid

import asyncpg

from bench.common import bench_database, insert_users, percentile, run, start_report
from db import notification_groups as db_groups
from db import notifications as db_notifications

INSERT_POSTS = """
INSERT INTO posts (author_id, caption) SELECT $1, 'bench ' || g FROM generate_series(1, $2) g
RETURNING id
"""

INSERT_NOTIFICATIONS = """
INSERT INTO notifications (user_id, seq, type, actor_id, post_id, created_at)
SELECT $1, g,
       CASE WHEN g % 10 = 0 THEN 'follow' WHEN g % 4 = 0 THEN 'comment' ELSE 'like' END,
       ($2::uuid[])[1 + (g::bigint * 7919) % array_length($2, 1)],
       CASE WHEN g % 10 = 0 THEN NULL
            ELSE ($3::uuid[])[1 + (g::bigint * 104729) % array_length($3, 1)] END,
       now() - make_interval(secs => 30 * 86400.0 * ($4 - g) / $4)
FROM generate_series(1, $4) g
"""


async def timed(calls: int, step: object) -> tuple[float, float]:
    seconds = []
    for _ in range(calls):
        t = time.perf_counter()
        await step()  # type: ignore[operator]
        seconds.append(time.perf_counter() - t)
    return percentile(seconds, 50) * 1000, percentile(seconds, 99) * 1000


async def main(sizes: list[int], calls: int) -> None:
    start_report("Grouped notifications against the plain page", __doc__ or "")
    async with bench_database() as url:
        conn = await asyncpg.connect(url)
        try:
            actors = await insert_users(conn, "actor", 500)
            print(
                "| N notifications | groups | grouped page p50 / p99 ms | plain page p50 / p99 ms |"
            )
            print("| --- | --- | --- | --- |")
            for n in sizes:
                (me,) = await insert_users(conn, f"r{n}_", 1)
                posts = [r["id"] for r in await conn.fetch(INSERT_POSTS, me, 200)]
                await conn.execute(INSERT_NOTIFICATIONS, me, actors, posts, n)
                await conn.execute(
                    "INSERT INTO notification_counters (user_id, last_seq) VALUES ($1, $2)", me, n
                )
                await conn.execute("ANALYZE notifications")
                total = await _groups(conn, me)

                async def grouped(me: uuid.UUID = me) -> None:
                    await db_groups.groups(conn, me, before_seq=None, limit=20)

                async def plain(me: uuid.UUID = me, n: int = n) -> None:
                    await db_notifications.page_after(conn, me, n - 20, 20)

                await grouped()
                g50, g99 = await timed(calls, grouped)
                p50, p99 = await timed(calls, plain)
                print(f"| {n:,} | {total:,} | {g50:.1f} / {g99:.1f} | {p50:.2f} / {p99:.2f} |")
        finally:
            await conn.close()


async def _groups(conn: asyncpg.Connection, me: uuid.UUID) -> int:
    page = await db_groups.groups(conn, me, before_seq=None, limit=100_000)
    return len(page["items"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()
    run(main(args.sizes, args.calls))
