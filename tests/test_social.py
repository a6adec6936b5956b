"""Posts, likes, comments, follows, the feed and notifications over REST."""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import asyncpg
import pytest

from tests.conftest import Api, User


async def _post(api: Api, user: User, caption: str = "look") -> dict:  # type: ignore[type-arg]
    r = await api.post("/v1/posts", token=user.token, json={"caption": caption})
    assert r.status == 201, await r.text()
    return await r.json()


async def _quick_users(pool: asyncpg.Pool, api: Api, n: int, prefix: str) -> list[User]:
    """Many accounts without paying for n password hashes."""
    rows = await pool.fetch(
        "INSERT INTO users (email, username, password_hash)"
        " SELECT $1 || g || '@example.com', $1 || g, 'unused' FROM generate_series(1, $2) g"
        " RETURNING id, username",
        prefix,
        n,
    )
    return [
        User(
            id=str(r["id"]), username=r["username"], token=api.token_for(r["id"]), refresh_token=""
        )
        for r in rows
    ]


async def test_post_lifecycle(api: Api) -> None:
    alice = await api.register("alice")
    post = await _post(api, alice, "first fit")
    assert post["author"] == {
        "id": alice.id,
        "username": "alice",
        "display_name": "alice",
        "avatar_url": None,
    }
    assert post["like_count"] == 0 and post["liked_by_me"] is False and post["outfit"] is None
    r = await api.get(f"/v1/posts/{post['id']}", token=alice.token)
    assert r.status == 200 and (await r.json())["caption"] == "first fit"
    me = await (await api.get("/v1/me", token=alice.token)).json()
    assert me["post_count"] == 1
    bob = await api.register("bob")
    assert (await api.delete(f"/v1/posts/{post['id']}", token=bob.token)).status == 404
    assert (await api.delete(f"/v1/posts/{post['id']}", token=alice.token)).status == 204
    assert (await api.get(f"/v1/posts/{post['id']}", token=alice.token)).status == 404
    me = await (await api.get("/v1/me", token=alice.token)).json()
    assert me["post_count"] == 0


async def test_bad_post_input_changes_nothing(api: Api, pool: asyncpg.Pool) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    bobs_outfit = await pool.fetchval(
        "INSERT INTO outfits (owner_id, name) VALUES ($1, 'b') RETURNING id", uuid.UUID(bob.id)
    )
    for body, field in [
        ({"caption": "x" * 2201}, "caption"),
        ({"outfit_id": "nope"}, "outfit_id"),
        ({"outfit_id": str(bobs_outfit)}, "outfit_id"),
        ({"author_id": bob.id}, "author_id"),
    ]:
        r = await api.post("/v1/posts", token=alice.token, json=body)
        assert r.status == 422, (body, await r.text())
        assert field in [e["field"] for e in (await r.json())["errors"]]
    assert await pool.fetchval("SELECT count(*) FROM posts") == 0


async def test_likes_are_idempotent(api: Api) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    post = await _post(api, alice)
    for _ in range(2):
        r = await api.put(f"/v1/posts/{post['id']}/like", token=bob.token)
        assert r.status == 200 and (await r.json())["like_count"] == 1
    seen = await (await api.get(f"/v1/posts/{post['id']}", token=bob.token)).json()
    assert seen["liked_by_me"] is True and seen["like_count"] == 1
    for _ in range(2):
        r = await api.delete(f"/v1/posts/{post['id']}/like", token=bob.token)
        assert r.status == 200 and (await r.json())["like_count"] == 0


async def test_counters_stay_exact_under_100_concurrent_likes(api: Api, pool: asyncpg.Pool) -> None:
    alice = await api.register("alice")
    post = await _post(api, alice)
    fans = await _quick_users(pool, api, 100, "fan")
    path = f"/v1/posts/{post['id']}/like"
    results = await asyncio.gather(*(api.put(path, token=f.token) for f in fans))
    assert all(r.status == 200 for r in results)
    assert (
        await pool.fetchval("SELECT like_count FROM posts WHERE id = $1", uuid.UUID(post["id"]))
        == 100
    )
    # Likes and unlikes interleaved: half take theirs back while the same half like again.
    half = fans[:50]
    results = await asyncio.gather(
        *(api.delete(path, token=f.token) for f in half),
        *(api.put(path, token=f.token) for f in fans[50:]),
    )
    assert all(r.status == 200 for r in results)
    row = await pool.fetchrow(
        "SELECT like_count, (SELECT count(*) FROM likes WHERE post_id = $1) AS real"
        " FROM posts WHERE id = $1",
        uuid.UUID(post["id"]),
    )
    assert row["like_count"] == row["real"] == 50
    # One gap-free notification seq per like, 1..100, for the author.
    seqs = [
        r["seq"]
        for r in await pool.fetch(
            "SELECT seq FROM notifications WHERE user_id = $1 ORDER BY seq", uuid.UUID(alice.id)
        )
    ]
    assert seqs == list(range(1, 101))


async def test_comments(api: Api) -> None:
    alice, bob, carol = [await api.register(n) for n in ("alice", "bob", "carol")]
    post = await _post(api, alice)
    base = f"/v1/posts/{post['id']}/comments"
    ids = []
    for i in range(3):
        r = await api.post(base, token=bob.token, json={"body": f"nice {i}"})
        assert r.status == 201, await r.text()
        ids.append((await r.json())["id"])
    page1 = await (await api.get(base + "?limit=2", token=carol.token)).json()
    assert [c["body"] for c in page1["items"]] == ["nice 0", "nice 1"]
    page2 = await (
        await api.get(f"{base}?limit=2&cursor={page1['next_cursor']}", token=carol.token)
    ).json()
    assert [c["body"] for c in page2["items"]] == ["nice 2"] and page2["next_cursor"] is None
    for body in ({"body": ""}, {"body": "   "}, {"body": "x" * 1001}, {}):
        r = await api.post(base, token=bob.token, json=body)
        assert r.status == 422, await r.text()
    assert (await api.delete(f"/v1/comments/{ids[0]}", token=carol.token)).status == 403
    assert (await api.delete(f"/v1/comments/{ids[0]}", token=bob.token)).status == 204
    assert (await api.delete(f"/v1/comments/{ids[1]}", token=alice.token)).status == 204
    assert (await api.delete(f"/v1/comments/{ids[1]}", token=alice.token)).status == 404
    seen = await (await api.get(f"/v1/posts/{post['id']}", token=alice.token)).json()
    assert seen["comment_count"] == 1


async def test_follow_public_and_private(api: Api) -> None:
    alice, bob, carol = [await api.register(n) for n in ("alice", "bob", "carol")]
    r = await api.put("/v1/users/alice/follow", token=bob.token)
    assert r.status == 200 and (await r.json())["status"] == "active"
    again = await api.put("/v1/users/alice/follow", token=bob.token)
    assert (await again.json())["status"] == "active"
    assert (await (await api.get("/v1/me", token=alice.token)).json())["follower_count"] == 1

    await api.patch("/v1/me", token=carol.token, json={"is_private": True})
    r = await api.put("/v1/users/carol/follow", token=bob.token)
    assert (await r.json())["status"] == "pending"
    assert (await api.get("/v1/users/carol/followers", token=bob.token)).status == 403
    reqs = await (await api.get("/v1/me/follow-requests", token=carol.token)).json()
    assert [q["user"]["username"] for q in reqs["items"]] == ["bob"]
    r = await api.post(f"/v1/me/follow-requests/{reqs['items'][0]['id']}/accept", token=bob.token)
    assert r.status == 404, "only the followee answers a request"
    r = await api.post(f"/v1/me/follow-requests/{reqs['items'][0]['id']}/accept", token=carol.token)
    assert r.status == 204
    followers = await (await api.get("/v1/users/carol/followers", token=bob.token)).json()
    assert [u["username"] for u in followers["items"]] == ["bob"]
    following = await (await api.get("/v1/users/bob/following", token=alice.token)).json()
    assert {u["username"] for u in following["items"]} == {"alice", "carol"}

    r = await api.put("/v1/users/carol/follow", token=alice.token)
    req = (await (await api.get("/v1/me/follow-requests", token=carol.token)).json())["items"][0]
    assert (
        await api.post(f"/v1/me/follow-requests/{req['id']}/reject", token=carol.token)
    ).status == 204
    assert (await api.get("/v1/users/carol/followers", token=alice.token)).status == 403

    assert (await api.delete("/v1/users/alice/follow", token=bob.token)).status == 200
    assert (await (await api.get("/v1/me", token=alice.token)).json())["follower_count"] == 0
    r = await api.put("/v1/users/bob/follow", token=bob.token)
    assert r.status == 422
    assert (await api.put("/v1/users/nobody/follow", token=bob.token)).status == 404


async def test_going_public_accepts_waiting_requests(api: Api) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    await api.patch("/v1/me", token=alice.token, json={"is_private": True})
    await api.put("/v1/users/alice/follow", token=bob.token)
    await api.patch("/v1/me", token=alice.token, json={"is_private": False})
    me = await (await api.get("/v1/me", token=alice.token)).json()
    assert me["follower_count"] == 1
    followers = await (await api.get("/v1/users/alice/followers", token=bob.token)).json()
    assert [u["username"] for u in followers["items"]] == ["bob"]


async def test_private_posts_are_for_followers(api: Api) -> None:
    alice, bob, eve = [await api.register(n) for n in ("alice", "bob", "eve")]
    await api.patch("/v1/me", token=alice.token, json={"is_private": True})
    post = await _post(api, alice, "secret fit")
    await api.put("/v1/users/alice/follow", token=bob.token)
    req = (await (await api.get("/v1/me/follow-requests", token=alice.token)).json())["items"][0]
    await api.post(f"/v1/me/follow-requests/{req['id']}/accept", token=alice.token)

    assert (await api.get(f"/v1/posts/{post['id']}", token=bob.token)).status == 200
    assert (await api.get(f"/v1/posts/{post['id']}", token=eve.token)).status == 404
    assert (await api.get("/v1/posts?author=alice", token=eve.token)).status == 403
    assert (await api.get("/v1/users/alice/following", token=eve.token)).status == 403
    assert (await api.put(f"/v1/posts/{post['id']}/like", token=eve.token)).status == 404
    r = await api.post(f"/v1/posts/{post['id']}/comments", token=eve.token, json={"body": "hi"})
    assert r.status == 404
    assert (await api.get(f"/v1/posts/{post['id']}/comments", token=eve.token)).status == 404
    feed = await (await api.get("/v1/feed", token=bob.token)).json()
    assert [p["id"] for p in feed["items"]] == [post["id"]]


async def test_feed_newest_first_stable_pages_with_counts(api: Api, pool: asyncpg.Pool) -> None:
    me, friend, stranger = [await api.register(n) for n in ("myself", "friend", "stranger")]
    await api.put("/v1/users/friend/follow", token=me.token)
    mine = [await _post(api, me, f"me {i}") for i in range(3)]
    theirs = [await _post(api, friend, f"friend {i}") for i in range(3)]
    await _post(api, stranger, "not in my feed")
    await api.put(f"/v1/posts/{theirs[0]['id']}/like", token=me.token)
    await api.post(f"/v1/posts/{theirs[0]['id']}/comments", token=friend.token, json={"body": "y"})

    page = await (await api.get("/v1/feed?limit=4", token=me.token)).json()
    expected = [p["id"] for p in reversed(mine + theirs)]
    assert [p["id"] for p in page["items"]] == expected[:4]
    # Rows added between pages do not shift the next page.
    await _post(api, friend, "newer")
    rest = await (
        await api.get(f"/v1/feed?limit=4&cursor={page['next_cursor']}", token=me.token)
    ).json()
    assert [p["id"] for p in rest["items"]] == expected[4:]
    liked = next(p for p in page["items"] + rest["items"] if p["id"] == theirs[0]["id"])
    assert liked["liked_by_me"] is True and liked["like_count"] == 1
    assert liked["comment_count"] == 1
    bad = await api.get("/v1/feed?cursor=garbage", token=me.token)
    assert bad.status == 422
    assert (await api.get("/v1/feed?limit=1000", token=me.token)).status == 422


async def test_notifications_after_seq(api: Api) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    post = await _post(api, alice)
    await api.put("/v1/users/alice/follow", token=bob.token)
    await api.put(f"/v1/posts/{post['id']}/like", token=bob.token)
    await api.post(f"/v1/posts/{post['id']}/comments", token=bob.token, json={"body": "wow"})
    await api.put(f"/v1/posts/{post['id']}/like", token=alice.token)  # own like: no notification
    page = await (await api.get("/v1/notifications", token=alice.token)).json()
    assert [(n["seq"], n["type"]) for n in page["items"]] == [
        (1, "follow"),
        (2, "like"),
        (3, "comment"),
    ]
    assert page["items"][1]["actor"] == {"id": bob.id, "username": "bob"}
    assert page["items"][2]["comment_id"] and page["items"][1]["post_id"] == post["id"]
    later = await (await api.get("/v1/notifications?after_seq=2", token=alice.token)).json()
    assert [n["seq"] for n in later["items"]] == [3] and later["last_seq"] == 3
    paged = await (await api.get("/v1/notifications?limit=2", token=alice.token)).json()
    assert paged["next_cursor"] == "2"
    assert (await api.get("/v1/notifications?after_seq=-1", token=alice.token)).status == 422


SOCIAL_ROUTES = [
    ("GET", "/v1/posts"),
    ("POST", "/v1/posts"),
    ("GET", "/v1/posts/{post}"),
    ("DELETE", "/v1/posts/{post}"),
    ("PUT", "/v1/posts/{post}/like"),
    ("DELETE", "/v1/posts/{post}/like"),
    ("GET", "/v1/posts/{post}/comments"),
    ("POST", "/v1/posts/{post}/comments"),
    ("DELETE", "/v1/comments/{comment}"),
    ("GET", "/v1/feed"),
    ("PUT", "/v1/users/owner/follow"),
    ("DELETE", "/v1/users/owner/follow"),
    ("GET", "/v1/users/owner/followers"),
    ("GET", "/v1/users/owner/following"),
    ("GET", "/v1/me/follow-requests"),
    ("POST", "/v1/me/follow-requests/{request}/accept"),
    ("POST", "/v1/me/follow-requests/{request}/reject"),
    ("GET", "/v1/notifications"),
]


@pytest.mark.parametrize(("method", "path"), SOCIAL_ROUTES)
async def test_social_authorization_matrix(api: Api, method: str, path: str) -> None:
    """Anonymous: 401. Another user: never changes or reads what is the owner's alone."""
    owner, other, asker = [await api.register(n) for n in ("owner", "other", "asker")]
    await api.patch("/v1/me", token=owner.token, json={"is_private": True})
    post = await _post(api, owner)
    r = await api.post(f"/v1/posts/{post['id']}/comments", token=owner.token, json={"body": "c"})
    comment = await r.json()
    await api.put("/v1/users/owner/follow", token=asker.token)
    req = (await (await api.get("/v1/me/follow-requests", token=owner.token)).json())["items"][0]
    url = path.format(post=post["id"], comment=comment["id"], request=req["id"])
    body = {"caption": "x"} if url == "/v1/posts" else {"body": "x"} if method == "POST" else None

    anon = await api.request(method, url, json=body, token="")
    assert anon.status == 401, await anon.text()

    as_other = await api.request(method, url, json=body, token=other.token)
    owner_only = {
        ("DELETE", "/v1/posts/{post}"),
        ("DELETE", "/v1/comments/{comment}"),
        ("POST", "/v1/me/follow-requests/{request}/accept"),
        ("POST", "/v1/me/follow-requests/{request}/reject"),
    }
    private = {
        "/v1/posts/{post}",
        "/v1/posts/{post}/like",
        "/v1/posts/{post}/comments",
        "/v1/users/owner/followers",
        "/v1/users/owner/following",
    }
    if (method, path) in owner_only or path in private:
        assert as_other.status in (403, 404), (method, url, as_other.status)
    else:
        assert as_other.status < 400, (method, url, await as_other.text())

    as_owner = await api.request(method, url, json=body, token=owner.token)
    if path.startswith("/v1/users/owner/follow") and method != "GET":
        assert as_owner.status == (422 if method == "PUT" else 200)
    else:
        assert as_owner.status < 400, (method, url, await as_owner.text())


async def test_post_image_through_the_object_store(api: Api, store_kind: str) -> None:
    from tests.wardrobe_helpers import image_bytes, post_form

    alice, bob = await api.register("alice"), await api.register("bob")
    post = await _post(api, alice, "with a picture")
    r = await api.post(
        f"/v1/posts/{post['id']}/image", token=bob.token, json={"content_type": "image/png"}
    )
    assert r.status == 404
    r = await api.post(
        f"/v1/posts/{post['id']}/image", token=alice.token, json={"content_type": "image/png"}
    )
    assert r.status == 201, await r.text()
    form = await r.json()
    assert await post_form(form, image_bytes("PNG", (640, 480)), "image/png") in (200, 201, 204)
    done = await api.post(
        f"/v1/posts/{post['id']}/image/complete", token=alice.token, json={"key": form["key"]}
    )
    assert done.status == 200, await done.text()
    image_url = (await done.json())["image_url"]
    assert image_url
    async with aiohttp.ClientSession() as http, http.get(image_url) as got:
        assert got.status == 200 and (await got.read())[:4] == b"RIFF"  # a WebP copy
    seen = await (await api.get(f"/v1/posts/{post['id']}", token=bob.token)).json()
    assert seen["image_url"]

    # A text file posing as a PNG is refused and changes nothing.
    r = await api.post(
        f"/v1/posts/{post['id']}/image", token=alice.token, json={"content_type": "image/png"}
    )
    bad = await r.json()
    await post_form(bad, b"just some text, not an image", "image/png")
    r = await api.post(
        f"/v1/posts/{post['id']}/image/complete", token=alice.token, json={"key": bad["key"]}
    )
    assert r.status == 422, await r.text()
    again = await (await api.get(f"/v1/posts/{post['id']}", token=alice.token)).json()
    assert again["image_url"] is not None
