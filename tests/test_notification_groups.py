"""GET /v1/notifications/grouped: a group per type and post within a window, counted in SQL, with
the same group_key the live `notification` event carries."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import socketio

from db import notification_groups as db_groups
from drape.notification_groups import GROUP_WINDOW, bucket_of, key_of
from tests.conftest import Api, EventLog, User
from tests.social_helpers import new_comment, new_post

Connect = Callable[..., Awaitable[socketio.AsyncClient]]


async def grouped(api: Api, user: User, **params: Any) -> dict[str, Any]:
    r = await api.get("/v1/notifications/grouped", token=user.token, params=params)
    assert r.status == 200, await r.text()
    return dict(await r.json())


async def test_fifteen_likes_make_one_group_whose_key_the_live_events_carry(
    api: Api, sio_connect: Connect
) -> None:
    alice = await api.register("alice")
    likers = [await api.register(f"liker{i:02d}") for i in range(15)]
    post = await new_post(api, alice)
    other = await new_post(api, alice, "another")
    sock = await sio_connect(alice.token)
    live = EventLog(sock, "notification")

    for u in likers:
        assert (await api.put(f"/v1/posts/{post}/like", token=u.token)).status == 200
    # like, unlike, like inside the repeat window notifies once: still one actor
    assert (await api.delete(f"/v1/posts/{post}/like", token=likers[0].token)).status == 200
    assert (await api.put(f"/v1/posts/{post}/like", token=likers[0].token)).status == 200
    await new_comment(api, likers[1], post)
    await new_comment(api, likers[2], post)
    await new_comment(api, likers[1], post)
    assert (await api.put(f"/v1/posts/{other}/like", token=likers[3].token)).status == 200
    for u in likers[:3]:
        assert (await api.put("/v1/users/alice/follow", token=u.token)).status == 200

    page = await grouped(api, alice)
    assert page["next_cursor"] is None
    summary = [(g["type"], g.get("post_id"), g["count"]) for g in page["items"]]
    assert summary == [
        ("follow", None, 3),
        ("like", other, 1),
        ("comment", post, 2),
        ("like", post, 15),
    ]
    likes = page["items"][3]
    newest_first = [u.username for u in reversed(likers)][:8]
    assert [a["username"] for a in likes["actors"]] == newest_first
    assert likes["actors"][0]["id"] == likers[-1].id
    assert set(likes["actors"][0]) == {"id", "username", "display_name", "avatar_url"}
    # liker01's second comment came within the repeat window: not notified, not newer
    assert [a["username"] for a in page["items"][2]["actors"]] == ["liker02", "liker01"]
    assert all(g["read"] is False for g in page["items"])
    seqs = [g["latest_seq"] for g in page["items"]]
    assert seqs == sorted(seqs, reverse=True) and seqs[0] == 15 + 2 + 1 + 3

    # Every live event names the group the grouped endpoint puts it in; so does the stored list.
    notes = await live.wait_for(21)
    keys = {g["group_key"]: g for g in page["items"]}
    assert {n["group_key"] for n in notes} == set(keys)
    for n in notes:
        assert keys[n["group_key"]]["type"] == n["type"]
        assert keys[n["group_key"]].get("post_id") == n.get("post_id")
    r = await api.get("/v1/notifications", token=alice.token)
    stored = (await r.json())["items"]
    assert [n["group_key"] for n in stored] == [n["group_key"] for n in notes]

    # The read marker (POST /v1/notifications/read) marks the groups it covers as read.
    middle = page["items"][1]["latest_seq"]
    r = await api.post("/v1/notifications/read", token=alice.token, json={"up_to_seq": middle})
    assert r.status == 200, await r.text()
    page = await grouped(api, alice)
    assert [g["read"] for g in page["items"]] == [False, True, True, True]


async def test_a_window_apart_is_another_group_and_a_repeat_after_the_window_counts_once(
    api: Api, pool: asyncpg.Pool
) -> None:
    alice = await api.register("alice")
    likers = [await api.register(f"liker{i}") for i in range(6)]
    post = await new_post(api, alice)
    for u in likers:
        assert (await api.put(f"/v1/posts/{post}/like", token=u.token)).status == 200
    # The first two likes were made two windows ago.
    await pool.execute(
        "UPDATE notifications SET created_at = created_at - make_interval(secs => $2)"
        " WHERE user_id = $1 AND seq <= 2",
        uuid.UUID(alice.id),
        2 * GROUP_WINDOW,
    )
    # liker5 likes again once the repeat window has passed: a second notification, one actor.
    await pool.execute("UPDATE notification_marks SET at = at - interval '1 hour'")
    assert (await api.delete(f"/v1/posts/{post}/like", token=likers[5].token)).status == 200
    assert (await api.put(f"/v1/posts/{post}/like", token=likers[5].token)).status == 200
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM notifications WHERE user_id = $1", uuid.UUID(alice.id)
        )
        == 7
    )

    page = await grouped(api, alice)
    assert [(g["count"], g["latest_seq"]) for g in page["items"]] == [(4, 7), (2, 2)]
    new, old = page["items"]
    assert [a["username"] for a in new["actors"]] == ["liker5", "liker4", "liker3", "liker2"]
    assert [a["username"] for a in old["actors"]] == ["liker1", "liker0"]
    assert new["group_key"] != old["group_key"]
    at = await pool.fetchval(
        "SELECT created_at FROM notifications WHERE user_id = $1 AND seq = 1",
        uuid.UUID(alice.id),
    )
    assert old["group_key"] == key_of("like", post, at) == f"like:{post}:{bucket_of(at)}"
    r = await api.get("/v1/notifications", token=alice.token)
    assert [n["group_key"] for n in (await r.json())["items"]][:2] == [old["group_key"]] * 2


async def test_pages_walk_every_group_once_and_a_bad_cursor_is_422(api: Api) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    posts = [await new_post(api, alice, f"look {i}") for i in range(5)]
    for p in posts:
        assert (await api.put(f"/v1/posts/{p}/like", token=bob.token)).status == 200
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await grouped(api, alice, **params)
        seen += [g["post_id"] for g in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(posts))
    r = await api.get("/v1/notifications/grouped?cursor=nope", token=alice.token)
    assert r.status == 422 and r.content_type == "application/problem+json", await r.text()
    r = await api.get("/v1/notifications/grouped?limit=0", token=alice.token)
    assert r.status == 422, await r.text()
    assert (await api.get("/v1/notifications/grouped", token="")).status == 401
    # Bob sees only his own (none), never Alice's.
    assert (await grouped(api, bob))["items"] == []


async def test_read_follows_the_marker_and_a_deleted_post_takes_its_groups(
    api: Api, pool: asyncpg.Pool
) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    kept, gone = await new_post(api, alice), await new_post(api, alice)
    for p in (kept, gone):
        assert (await api.put(f"/v1/posts/{p}/like", token=bob.token)).status == 200
    me = uuid.UUID(alice.id)
    page = await db_groups.groups(pool, me, before_seq=None, limit=10, read_up_to=1)
    assert [(g["post_id"], g["read"]) for g in page["items"]] == [(gone, False), (kept, True)]
    page = await db_groups.groups(pool, me, before_seq=None, limit=10, read_up_to=2)
    assert [g["read"] for g in page["items"]] == [True, True]

    assert (await api.delete(f"/v1/posts/{gone}", token=alice.token)).status == 204
    assert [g["post_id"] for g in (await grouped(api, alice))["items"]] == [kept]


async def test_a_page_reads_only_new_windows_yet_ranks_an_old_window_by_its_latest_seq(
    api: Api, pool: asyncpg.Pool
) -> None:
    alice = await api.register("alice")
    likers = [await api.register(f"liker{i}") for i in range(5)]
    posts = [await new_post(api, alice, f"look {i}") for i in range(5)]
    for i, p in enumerate(posts):
        assert (await api.put(f"/v1/posts/{p}/like", token=likers[i].token)).status == 200
    me = uuid.UUID(alice.id)
    # Notification seq s was made 3 * (5 - s) windows ago, except seq 4, whose clock lagged by
    # 40 windows: its group still ranks by its seq, second, though its window is the oldest.
    await pool.execute(
        "UPDATE notifications SET created_at = created_at - make_interval(secs => $2 * CASE"
        " WHEN seq = 5 THEN 40 ELSE 3 * (5 - seq) END) WHERE user_id = $1",
        me,
        GROUP_WINDOW,
    )
    whole = await db_groups.groups(pool, me, before_seq=None, limit=100)
    assert [g["latest_seq"] for g in whole["items"]] == [5, 4, 3, 2, 1]
    seen: list[int] = []
    before: int | None = None
    while True:
        page = await db_groups.groups(pool, me, before_seq=before, limit=2)
        seen += [g["latest_seq"] for g in page["items"]]
        if page["next_seq"] is None:
            break
        before = page["next_seq"]
    assert seen == [5, 4, 3, 2, 1]
    assert [g["post_id"] for g in (await grouped(api, alice))["items"]] == posts[::-1]
