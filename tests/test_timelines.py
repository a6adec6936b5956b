"""Home timelines in Redis (drape/timelines.py) through the real API and burst workers: what
fan-out, deletes, follows, unfollows, blocks and mutes leave in them, and that every feed page
is the one the Postgres query gives, also after Redis forgot everything."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
import pytest
from redis.asyncio import Redis

from db import posts as db_posts
from drape import timelines
from drape.settings import Settings
from server.context import ARQ, POOL, STORE
from server.routes.posts import posts_json
from tests.conftest import Api, RunningApp, User
from tests.test_social import _post, _quick_users

RunJobs = Callable[[], Awaitable[int]]
SIZE = 6  # timelines this short make every test meet the horizon too


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_(timeline_size=SIZE)


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    r = Redis.from_url(settings.redis_url)
    yield r
    await r.aclose()


async def held(redis: Redis, user: User) -> list[str] | None:
    """The post ids in the user's timeline, newest first; None if it has none."""
    key = timelines.key(user.id)
    if await redis.zscore(key, timelines.SENTINEL) is None:
        return None
    return [str(uuid.UUID(bytes=m[:16])) for m in await redis.zrevrange(key, 0, -1) if m]


async def feed_pages(api: Api, user: User, limit: int) -> list[dict]:  # type: ignore[type-arg]
    """Every item of the user's home feed, page after page."""
    items, cursor = [], None
    while True:
        path = f"/v1/feed?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        r = await api.get(path, token=user.token)
        assert r.status == 200, await r.text()
        body = await r.json()
        items += body["items"]
        assert len(body["items"]) == limit or body["next_cursor"] is None
        cursor = body["next_cursor"]
        if cursor is None:
            return items


async def truth(server: RunningApp, user: User) -> list[dict]:  # type: ignore[type-arg]
    """The whole feed as db.posts.feed (the merge of followees' posts at read time) gives it."""
    pool = server.app[POOL]
    rows = await db_posts.feed(pool, uuid.UUID(user.id), None, 1000)
    return orjson.loads(orjson.dumps(await posts_json(pool, server.app[STORE], rows)))


async def read_once(api: Api, *users: User) -> None:
    """A read of the feed: a reader without a timeline gets one built by the next jobs."""
    for u in users:
        assert (await api.get("/v1/feed", token=u.token)).status == 200


async def test_a_post_reaches_the_timelines_of_followers_who_read(
    server: RunningApp, api: Api, redis: Redis, run_jobs: RunJobs
) -> None:
    alice, bob, carol, eve = [await api.register(n) for n in ("alice", "bob", "carol", "eve")]
    for reader in (bob, carol):
        await api.put("/v1/users/alice/follow", token=reader.token)
    await read_once(api, alice, bob, eve)
    assert await held(redis, bob) is None, "built by a worker, not by the request"
    await run_jobs()
    assert await held(redis, bob) == [] and await held(redis, eve) == []

    posts = [await _post(api, alice, f"look {i}") for i in range(3)]
    newest_first = [p["id"] for p in reversed(posts)]
    assert await held(redis, alice) == newest_first, "the author's own, at once"
    assert await held(redis, bob) == []
    await run_jobs()
    assert await held(redis, bob) == newest_first
    assert await held(redis, eve) == []
    assert await held(redis, carol) is None, "carol never read her feed: nothing written"
    assert await feed_pages(api, bob, 2) == await truth(server, bob)

    # Carol comes back: answered from Postgres at once, her timeline built meanwhile.
    assert [p["id"] for p in await feed_pages(api, carol, 100)] == newest_first
    await run_jobs()
    assert await held(redis, carol) == newest_first
    assert await feed_pages(api, carol, 100) == await truth(server, carol)


async def test_pages_stay_put_while_posts_arrive(
    server: RunningApp, api: Api, redis: Redis, run_jobs: RunJobs
) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    await api.put("/v1/users/alice/follow", token=bob.token)
    await read_once(api, bob)
    await run_jobs()
    posts = [await _post(api, alice, f"look {i}") for i in range(4)]
    await run_jobs()
    first = await (await api.get("/v1/feed?limit=2", token=bob.token)).json()
    assert [p["id"] for p in first["items"]] == [posts[3]["id"], posts[2]["id"]]
    newer = await _post(api, alice, "newer")
    await run_jobs()
    assert (await held(redis, bob) or [])[0] == newer["id"]
    rest = await api.get(f"/v1/feed?limit=2&cursor={first['next_cursor']}", token=bob.token)
    assert [p["id"] for p in (await rest.json())["items"]] == [posts[1]["id"], posts[0]["id"]]


async def test_delete_and_unfollow_leave_the_timelines_right(
    server: RunningApp, api: Api, redis: Redis, run_jobs: RunJobs
) -> None:
    alice, dave, bob = [await api.register(n) for n in ("alice", "dave", "bob")]
    for author in ("alice", "dave"):
        await api.put(f"/v1/users/{author}/follow", token=bob.token)
    await read_once(api, bob)
    await run_jobs()
    a1, d1, a2 = await _post(api, alice), await _post(api, dave), await _post(api, alice)
    await run_jobs()
    assert await held(redis, bob) == [a2["id"], d1["id"], a1["id"]]

    assert (await api.delete(f"/v1/posts/{a2['id']}", token=alice.token)).status == 204
    # Gone from the page before any worker ran: the page query checks every id.
    assert [p["id"] for p in await feed_pages(api, bob, 10)] == [d1["id"], a1["id"]]
    await run_jobs()
    assert await held(redis, bob) == [d1["id"], a1["id"]]
    assert await held(redis, alice) is None  # alice never read hers

    assert (await api.delete("/v1/users/dave/follow", token=bob.token)).status == 200
    assert await held(redis, bob) == [a1["id"]], "dropped by the unfollow itself"
    assert await feed_pages(api, bob, 10) == await truth(server, bob)

    # Following again brings dave's posts back (a merge job).
    await api.put("/v1/users/dave/follow", token=bob.token)
    assert await held(redis, bob) == [a1["id"]]
    await run_jobs()
    assert await held(redis, bob) == [d1["id"], a1["id"]]
    assert await feed_pages(api, bob, 1) == await truth(server, bob)


async def test_block_and_mute_hooks_drop_the_authors_posts(
    server: RunningApp, api: Api, redis: Redis, run_jobs: RunJobs
) -> None:
    alice, bob, mia = [await api.register(n) for n in ("alice", "bob", "mia")]
    for follower, author in ((bob, "alice"), (alice, "bob"), (bob, "mia")):
        await api.put(f"/v1/users/{author}/follow", token=follower.token)
    await read_once(api, alice, bob)
    await run_jobs()
    a, b, m = await _post(api, alice), await _post(api, bob), await _post(api, mia)
    await run_jobs()
    assert await held(redis, bob) == [m["id"], b["id"], a["id"]]
    assert await held(redis, alice) == [b["id"], a["id"]]

    await timelines.on_block(redis, uuid.UUID(bob.id), uuid.UUID(alice.id))
    assert await held(redis, bob) == [m["id"], b["id"]]
    assert await held(redis, alice) == [a["id"]]
    await timelines.on_mute(redis, uuid.UUID(bob.id), uuid.UUID(mia.id))
    assert await held(redis, bob) == [b["id"]]

    # Undone: the posts come back as after a follow.
    await timelines.on_unhide(server.app[ARQ], uuid.UUID(bob.id), uuid.UUID(mia.id))
    await run_jobs()
    assert await held(redis, bob) == [m["id"], b["id"]]


async def test_flushed_redis_feeds_are_rebuilt_and_match_postgres(
    server: RunningApp, api: Api, pool: asyncpg.Pool, redis: Redis, run_jobs: RunJobs
) -> None:
    authors = await _quick_users(pool, api, 4, "author")
    readers = await _quick_users(pool, api, 3, "reader")
    for i, reader in enumerate(readers):
        for author in authors[: i + 2]:
            r = await api.put(f"/v1/users/{author.username}/follow", token=reader.token)
            assert r.status == 200, await r.text()
    await read_once(api, *readers)
    await run_jobs()
    posts = []
    for round_ in range(3):
        for author in [*authors, readers[0]]:
            posts.append(await _post(api, author, f"{author.username} {round_}"))
    for post in posts[::3]:
        await api.put(f"/v1/posts/{post['id']}/like", token=readers[1].token)
    await run_jobs()
    before = {r.id: await truth(server, r) for r in readers}
    for reader in readers:
        assert len(before[reader.id]) > SIZE, "pages reach past the timeline's horizon"
        assert await held(redis, reader) is not None
        for limit in (1, 4, 100):
            assert await feed_pages(api, reader, limit) == before[reader.id]

    await redis.flushdb()
    for reader in readers:  # answered by Postgres while the rebuilds wait
        assert await feed_pages(api, reader, 4) == before[reader.id]
    assert await run_jobs() == len(readers), "one rebuild per reader, however often they read"
    for reader in readers:
        kept = await held(redis, reader)
        assert kept == [p["id"] for p in before[reader.id][:SIZE]]
        for limit in (1, 5, 100):
            assert await feed_pages(api, reader, limit) == before[reader.id]


async def test_private_posts_never_reach_strangers_timelines(
    server: RunningApp, api: Api, redis: Redis, run_jobs: RunJobs
) -> None:
    alice, bob, carol, eve = [await api.register(n) for n in ("alice", "bob", "carol", "eve")]
    await api.put("/v1/users/alice/follow", token=carol.token)  # before alice goes private
    await api.patch("/v1/me", token=alice.token, json={"is_private": True})
    r = await api.put("/v1/users/alice/follow", token=bob.token)
    assert (await r.json())["status"] == "pending"
    await read_once(api, bob, carol, eve)
    await run_jobs()
    secret = await _post(api, alice, "secret fit")
    await run_jobs()
    assert await held(redis, carol) == [secret["id"]]
    assert await held(redis, bob) == [] and await held(redis, eve) == []
    assert await feed_pages(api, bob, 10) == [] and await feed_pages(api, eve, 10) == []

    # An accepted request merges the posts in; the stranger still has none.
    req = (await (await api.get("/v1/me/follow-requests", token=alice.token)).json())["items"][0]
    await api.post(f"/v1/me/follow-requests/{req['id']}/accept", token=alice.token)
    await run_jobs()
    assert await held(redis, bob) == [secret["id"]]
    assert await held(redis, eve) == []
    for reader in (bob, carol, eve):
        assert await feed_pages(api, reader, 10) == await truth(server, reader)


async def test_a_large_account_is_merged_at_read_time(
    server: RunningApp, api: Api, pool: asyncpg.Pool, redis: Redis, run_jobs: RunJobs
) -> None:
    star, friend, bob = [await api.register(n) for n in ("star", "friend", "bob")]
    for author in ("star", "friend"):
        await api.put(f"/v1/users/{author}/follow", token=bob.token)
    await read_once(api, star, bob)
    await run_jobs()
    early = await _post(api, star, "before the crowd")
    await run_jobs()
    assert await held(redis, bob) == [early["id"]]
    # A crowd arrives: far more followers than the fan-out threshold.
    await pool.execute(
        "UPDATE users SET follower_count = 1000000 WHERE id = $1", uuid.UUID(star.id)
    )
    posts = []
    for i in range(4):
        posts.append(await _post(api, star, f"star {i}"))
        posts.append(await _post(api, friend, f"friend {i}"))
    await run_jobs()
    pulled = await pool.fetchval("SELECT array_agg(author_id) FROM feed_pull_authors")
    assert [str(a) for a in pulled] == [star.id]
    friends = [p["id"] for p in reversed(posts[1::2])]
    assert await held(redis, bob) == [*friends, early["id"]], "no write per follower"
    assert await held(redis, star) == [p["id"] for p in reversed([early, *posts[0::2]])][:SIZE]
    expected = await truth(server, bob)
    assert [p["id"] for p in expected] == [p["id"] for p in reversed([early, *posts])]
    for limit in (1, 3, 100):
        assert await feed_pages(api, bob, limit) == expected

    # Deleting and unfollowing act on the merged posts too.
    await api.delete(f"/v1/posts/{posts[-2]['id']}", token=star.token)
    await run_jobs()
    assert await feed_pages(api, bob, 3) == await truth(server, bob)
    await api.delete("/v1/users/star/follow", token=bob.token)
    assert [p["id"] for p in await feed_pages(api, bob, 100)] == friends


async def test_equal_timestamps_page_in_postgres_order(
    server: RunningApp, api: Api, pool: asyncpg.Pool, redis: Redis, run_jobs: RunJobs
) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    await api.put("/v1/users/alice/follow", token=bob.token)
    at = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)
    await pool.execute(
        "INSERT INTO posts (author_id, caption, created_at)"
        " SELECT $1, 'same instant ' || g, $2 FROM generate_series(1, 4) g",
        uuid.UUID(alice.id),
        at,
    )
    await pool.execute(
        "INSERT INTO posts (author_id, caption, created_at) VALUES ($1, 'later', $2)",
        uuid.UUID(alice.id),
        at + timedelta(microseconds=1),
    )
    await read_once(api, bob)
    await run_jobs()
    expected = await truth(server, bob)
    assert await held(redis, bob) == [p["id"] for p in expected]
    for limit in (1, 2, 3):
        assert await feed_pages(api, bob, limit) == expected


async def test_fan_out_during_a_rebuild_is_kept(redis: Redis, settings: Settings) -> None:
    """A post committed after a rebuild read Postgres, and fanned out before it wrote."""
    viewer, author = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    old = [(uuid.uuid4(), author, now - timedelta(minutes=m)) for m in (1, 2)]
    new = (uuid.uuid4(), author, now)
    assert await timelines.add(redis, settings, [viewer], new) == 0, "no timeline, no rebuild"
    await timelines.begin_rebuild(redis, viewer)
    assert await timelines.add(redis, settings, [viewer], new) == 1
    assert await timelines.page(redis, settings, viewer, None, 10) is None, "not complete yet"
    assert await timelines.fill(redis, settings, viewer, old, older=None) == 3
    got = await timelines.page(redis, settings, viewer, None, 10)
    assert got is not None and got.post_ids == [new[0], old[0][0], old[1][0]]
    assert got.exhausted and got.horizon == 0
    assert not await redis.exists(timelines.building_key(viewer))


async def test_trimmed_timelines_send_deep_pages_to_postgres(
    redis: Redis, settings: Settings
) -> None:
    viewer, author = uuid.uuid4(), uuid.uuid4()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    posts = [(uuid.uuid4(), author, start + timedelta(seconds=i)) for i in range(SIZE + 3)]
    await timelines.fill(redis, settings, viewer, [], older=None)
    for post in posts:
        await timelines.add(redis, settings, [viewer], post)
    got = await timelines.page(redis, settings, viewer, None, 100)
    assert got is not None and got.post_ids == [p[0] for p in reversed(posts)][:SIZE]
    assert got.horizon == timelines.score(posts[2][2]), "the newest post cut"
    rows = [(p[2], p[0]) for p in reversed(posts[3:])]
    assert got.covers(rows[:4], 4), "a full page above the horizon"
    assert not got.covers(rows, 100), "a short page that may go on below the horizon"
    # A post older than the horizon (a new follow's) is not written: Postgres has it.
    assert await timelines.add(redis, settings, [viewer], posts[0]) == 0


async def test_ids_that_fail_the_check_never_show(
    server: RunningApp, api: Api, pool: asyncpg.Pool, redis: Redis, run_jobs: RunJobs
) -> None:
    """Whatever a timeline holds that it should not (a write that raced an unfollow, a post of
    an account since disabled), the page leaves out, and a page it left short comes from
    Postgres."""
    friend, stranger, gone, bob = [
        await api.register(n) for n in ("friend", "stranger", "gone", "bob")
    ]
    for author in ("friend", "gone"):
        await api.put(f"/v1/users/{author}/follow", token=bob.token)
    await read_once(api, bob)
    await run_jobs()
    mine = [await _post(api, friend, f"friend {i}") for i in range(2)]
    await _post(api, gone, "soon hidden")
    await run_jobs()
    await pool.execute("UPDATE users SET is_active = false WHERE id = $1", uuid.UUID(gone.id))
    expected = await truth(server, bob)
    assert [p["id"] for p in expected] == [p["id"] for p in reversed(mine)]
    assert await feed_pages(api, bob, 1) == expected

    # More strangers' posts than the page's spare ids, filling the whole timeline.
    strangers = [await _post(api, stranger, f"not followed {i}") for i in range(SIZE)]
    viewer = uuid.UUID(bob.id)
    for p in strangers:
        entry = (
            uuid.UUID(p["id"]),
            uuid.UUID(stranger.id),
            datetime.fromisoformat(p["created_at"]),
        )
        assert await timelines.add(redis, server.settings, [viewer], entry) == 1
    assert await held(redis, bob) == [p["id"] for p in reversed(strangers)]
    for limit in (1, 2, 100):
        assert await feed_pages(api, bob, limit) == expected


async def test_a_timeline_lives_on_while_it_is_read(redis: Redis, settings: Settings) -> None:
    viewer = uuid.uuid4()
    await timelines.fill(redis, settings, viewer, [], older=None)
    assert abs(await redis.ttl(timelines.key(viewer)) - settings.timeline_ttl) <= 1
    await redis.expire(timelines.key(viewer), 3600)
    assert await timelines.page(redis, settings, viewer, None, 5) is not None
    assert abs(await redis.ttl(timelines.key(viewer)) - settings.timeline_ttl) <= 1
    # Read again soon after: no renewal, the read writes nothing.
    await redis.expire(timelines.key(viewer), settings.timeline_ttl - 60)
    await timelines.page(redis, settings, viewer, None, 5)
    assert await redis.ttl(timelines.key(viewer)) <= settings.timeline_ttl - 60
