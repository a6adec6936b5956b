"""Posts: editing a caption (hashtags parsed again), mentions that notify, who liked a post, and
saved posts as a private collection; each under the posts' visibility rules."""

from __future__ import annotations

from typing import Any

import asyncpg

from server.context import STORE
from tests.conftest import Api, RunningApp, User
from tests.social_helpers import new_comment, new_post
from tests.wardrobe_helpers import quick_users


async def _ok(r: Any, status: int = 200) -> Any:
    assert r.status == status, await r.text()
    return await r.json() if status != 204 else None


async def _notes(api: Api, user: User, type_: str = "mention") -> list[dict[str, Any]]:
    page = await _ok(await api.get("/v1/notifications", token=user.token))
    return [n for n in page["items"] if n["type"] == type_]


async def test_editing_a_caption_reparses_hashtags_and_notifies_new_mentions(
    api: Api, pool: asyncpg.Pool
) -> None:
    author, anna, bob, other = await quick_users(api, pool, "author", "anna", "bob", "other")
    post = await new_post(api, author, "First try #Denim with @anna")
    assert len(await _notes(api, anna)) == 1
    tagged = await _ok(await api.get("/v1/hashtags/denim/posts", token=other.token))
    assert [p["id"] for p in tagged["items"]] == [post]

    r = await api.patch(
        f"/v1/posts/{post}", token=author.token, json={"caption": "Now #linen, @anna and @Bob"}
    )
    edited = await _ok(r)
    assert edited["caption"] == "Now #linen, @anna and @Bob"
    assert (await _ok(await api.get("/v1/hashtags/denim/posts", token=other.token)))["items"] == []
    linen = await _ok(await api.get("/v1/hashtags/linen/posts", token=other.token))
    assert [p["id"] for p in linen["items"]] == [post]
    assert len(await _notes(api, anna)) == 1  # already mentioned: not again
    [note] = await _notes(api, bob)
    assert note["post_id"] == post and note["actor"]["username"] == "author"

    # Only the author edits; bad input changes nothing.
    r = await api.patch(f"/v1/posts/{post}", token=other.token, json={"caption": "mine now"})
    assert r.status == 404
    for body in ({"caption": "x" * 2201}, {}, {"caption": "ok", "outfit_id": None}, {"caption": 5}):
        r = await api.patch(f"/v1/posts/{post}", token=author.token, json=body)
        assert r.status == 422, (body, await r.text())
    got = await _ok(await api.get(f"/v1/posts/{post}", token=other.token))
    assert got["caption"] == "Now #linen, @anna and @Bob"
    assert (await api.patch(f"/v1/posts/{post}", json={"caption": "x"})).status == 401


async def test_mentions_in_comments_notify_only_who_may_see_the_post(
    api: Api, pool: asyncpg.Pool
) -> None:
    author, fan, outsider, friend = await quick_users(api, pool, "closed", "fan", "outsider", "pal")
    await pool.execute("UPDATE users SET is_private = true WHERE id = $1", author.id)
    for follower in (fan, friend):
        await pool.execute(
            "INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)",
            follower.id,
            author.id,
        )
    post = await new_post(api, author, "private look @outsider")
    assert await _notes(api, outsider) == []  # may not see it: not told
    comment = await new_comment(api, fan, post, "@pal look! and @outsider, and me @fan")
    [note] = await _notes(api, friend)
    assert note["post_id"] == post and note["comment_id"] == comment
    assert await _notes(api, outsider) == [] and await _notes(api, fan) == []


async def test_who_liked_a_post(api: Api, pool: asyncpg.Pool) -> None:
    author, *likers = await quick_users(api, pool, "liked", "liker1", "liker2", "liker3", "gone")
    post = await new_post(api, author)
    for u in likers:
        await _ok(await api.put(f"/v1/posts/{post}/like", token=u.token))
    await pool.execute("UPDATE users SET is_active = false WHERE id = $1", likers[-1].id)

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await _ok(
            await api.get(f"/v1/posts/{post}/likes", token=author.token, params=params)
        )
        seen += [u["username"] for u in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == ["liker3", "liker2", "liker1"]
    assert set(page["items"][0]) == {
        "id", "username", "display_name", "avatar_url", "is_verified", "liked_at"
    }  # fmt: skip

    await pool.execute("UPDATE users SET is_private = true WHERE id = $1", author.id)
    assert (await api.get(f"/v1/posts/{post}/likes", token=likers[0].token)).status == 404
    r = await api.get(f"/v1/posts/{post}/likes", token=author.token, params={"limit": 500})
    assert r.status == 422


async def test_saved_posts_are_a_private_collection(api: Api, pool: asyncpg.Pool) -> None:
    me, author, nosy = await quick_users(api, pool, "saver", "maker", "nosy")
    first, second = await new_post(api, author, "one"), await new_post(api, author, "two")
    for p in (first, second, first):  # saving twice changes nothing
        await _ok(await api.put(f"/v1/posts/{p}/save", token=me.token), 204)
    page = await _ok(await api.get("/v1/me/saved", token=me.token, params={"limit": 1}))
    assert [p["id"] for p in page["items"]] == [second]
    rest = await _ok(
        await api.get("/v1/me/saved", token=me.token, params={"cursor": page["next_cursor"]})
    )
    assert [p["id"] for p in rest["items"]] == [first] and rest["next_cursor"] is None
    assert (await _ok(await api.get("/v1/me/saved", token=nosy.token)))["items"] == []

    await _ok(await api.delete(f"/v1/posts/{second}/save", token=me.token), 204)
    await _ok(await api.delete(f"/v1/posts/{second}/save", token=me.token), 204)
    saved = await _ok(await api.get("/v1/me/saved", token=me.token))
    assert [p["id"] for p in saved["items"]] == [first]

    # A post I may no longer see leaves the collection; one I may not see cannot be saved.
    await pool.execute("UPDATE users SET is_private = true WHERE id = $1", author.id)
    assert (await _ok(await api.get("/v1/me/saved", token=me.token)))["items"] == []
    assert (await api.put(f"/v1/posts/{second}/save", token=nosy.token)).status == 404
    assert (await api.put("/v1/posts/not-a-post/save", token=me.token)).status == 404
    assert (await api.put(f"/v1/posts/{first}/save")).status == 401


async def test_replies_one_level_deep_and_likes_on_comments(api: Api, pool: asyncpg.Pool) -> None:
    author, fan, other, stranger = await quick_users(api, pool, "poster", "fan1", "fan2", "alien")
    post = await new_post(api, author)
    top = await new_comment(api, fan, post, "love it")
    path = f"/v1/posts/{post}/comments"

    async def reply(user: User, parent: str, body: str = "same") -> Any:
        return await api.post(path, token=user.token, json={"body": body, "parent_id": parent})

    first = (await _ok(await reply(other, top), 201))["id"]
    await _ok(await reply(author, top, "thanks"), 201)
    r = await reply(fan, first)  # a reply to a reply: one level only
    assert r.status == 422, await r.text()
    other_post = await new_post(api, other)
    r = await api.post(
        f"/v1/posts/{other_post}/comments", token=fan.token, json={"body": "x", "parent_id": top}
    )
    assert r.status == 422

    listed = await _ok(await api.get(path, token=stranger.token))
    assert [c["id"] for c in listed["items"]] == [top]
    assert listed["items"][0]["reply_count"] == 2 and listed["items"][0]["parent_id"] is None
    replies = await _ok(await api.get(f"/v1/comments/{top}/replies", token=stranger.token))
    assert [c["body"] for c in replies["items"]] == ["same", "thanks"]
    assert replies["items"][0]["parent_id"] == top
    got = await _ok(await api.get(f"/v1/posts/{post}", token=stranger.token))
    assert got["comment_count"] == 3

    for u in (author, other, other):
        liked = await _ok(await api.put(f"/v1/comments/{top}/like", token=u.token))
    assert liked == {"comment_id": top, "liked": True, "like_count": 2}
    unliked = await _ok(await api.delete(f"/v1/comments/{top}/like", token=author.token))
    assert unliked["like_count"] == 1
    mine = (await _ok(await api.get(path, token=other.token)))["items"][0]
    assert mine["like_count"] == 1 and mine["liked_by_me"] is True

    # Deleting the comment takes its replies and their share of the count.
    assert (await api.delete(f"/v1/comments/{top}", token=fan.token)).status == 204
    got = await _ok(await api.get(f"/v1/posts/{post}", token=stranger.token))
    assert got["comment_count"] == 0
    assert (await api.get(f"/v1/comments/{top}/replies", token=fan.token)).status == 404

    # A private account's comments are out of reach for strangers.
    secret = await new_post(api, author, "secret")
    hidden = await new_comment(api, author, secret)
    await pool.execute("UPDATE users SET is_private = true WHERE id = $1", author.id)
    assert (await api.get(f"/v1/comments/{hidden}/replies", token=stranger.token)).status == 404
    assert (await api.put(f"/v1/comments/{hidden}/like", token=stranger.token)).status == 404
    r = await api.post(
        f"/v1/posts/{secret}/comments",
        token=stranger.token,
        json={"body": "hi", "parent_id": hidden},
    )
    assert r.status == 404
    assert (await api.put(f"/v1/comments/{hidden}/like")).status == 401


async def test_several_images_per_post_in_order(api: Api, pool: asyncpg.Pool) -> None:
    from tests.wardrobe_helpers import fetch, image_bytes, post_form

    author, other = await quick_users(api, pool, "shooter", "looker")
    post = await new_post(api, author)

    async def add(token: str, color: str) -> Any:
        r = await api.post(
            f"/v1/posts/{post}/image", token=author.token, json={"content_type": "image/png"}
        )
        form = await _ok(r, 201)
        png = image_bytes("PNG", (300, 200), (color,))
        assert await post_form(form, png, "image/png") in (200, 201, 204)
        return await api.post(f"/v1/posts/{post}/images", token=token, json={"key": form["key"]})

    r = await add(other.token, "#000000")  # not the author's post
    assert r.status == 404
    for color in ("#ff0000", "#00ff00", "#0000ff"):
        body = await _ok(await add(author.token, color), 201)
    assert [i["position"] for i in body["images"]] == [0, 1, 2]
    assert body["image_url"] == body["images"][0]["url"]
    seen = await _ok(await api.get(f"/v1/posts/{post}", token=other.token))
    assert len(seen["images"]) == 3
    status, data = await fetch(seen["images"][2]["url"])
    assert status == 200 and data

    body = await _ok(await api.delete(f"/v1/posts/{post}/images/0", token=author.token))
    assert [i["position"] for i in body["images"]] == [0, 1]
    assert body["image_url"] == body["images"][0]["url"] == seen["images"][1]["url"]
    assert (await api.delete(f"/v1/posts/{post}/images/5", token=author.token)).status == 404
    assert (await api.delete(f"/v1/posts/{post}/images/0", token=other.token)).status == 404

    await pool.execute(
        "INSERT INTO post_images (post_id, position, image_key)"
        " SELECT $1, g, 'posts/x/' || g FROM generate_series(2, 9) g",
        post,
    )
    r = await add(author.token, "#ffffff")
    assert r.status == 409, await r.text()


async def _post_with_images(api: Api, author: User, colors: tuple[str, ...]) -> tuple[str, Any]:
    from tests.wardrobe_helpers import image_bytes, post_form

    post = await new_post(api, author)
    body: Any = None
    for color in colors:
        r = await api.post(
            f"/v1/posts/{post}/image", token=author.token, json={"content_type": "image/png"}
        )
        form = await _ok(r, 201)
        assert await post_form(form, image_bytes("PNG", (120, 90), (color,)), "image/png") in (
            200,
            201,
            204,
        )
        r = await api.post(
            f"/v1/posts/{post}/images", token=author.token, json={"key": form["key"]}
        )
        body = await _ok(r, 201)
    return post, body


async def test_reordering_a_posts_images(api: Api, pool: asyncpg.Pool) -> None:
    author, other = await quick_users(api, pool, "arranger", "onlooker")
    post, body = await _post_with_images(api, author, ("#ff0000", "#00ff00", "#0000ff"))
    red, green, blue = (i["url"] for i in body["images"])

    def path(u: str) -> str:  # signed URLs differ per call; the object's path does not
        return u.split("?")[0]

    order = f"/v1/posts/{post}/images/order"
    body = await _ok(await api.put(order, token=author.token, json={"positions": [2, 0, 1]}))
    assert [path(i["url"]) for i in body["images"]] == [path(blue), path(red), path(green)]
    assert [i["position"] for i in body["images"]] == [0, 1, 2]
    assert path(body["image_url"]) == path(blue)  # the first image is the cover
    seen = await _ok(await api.get(f"/v1/posts/{post}", token=other.token))
    assert [path(i["url"]) for i in seen["images"]] == [path(blue), path(red), path(green)]

    # Not the author's post, not a permutation of the images there are: refused, nothing moves.
    assert (await api.put(order, token=other.token, json={"positions": [0, 1, 2]})).status == 404
    for bad in ([0, 1], [0, 1, 1], [0, 1, 3], [0, 1, 2, 3], [], "012", [0, 1, "x"]):
        r = await api.put(order, token=author.token, json={"positions": bad})
        assert r.status in (409, 422), (bad, r.status)
        assert r.content_type == "application/problem+json"
    assert (await api.put(order, token=author.token, json={})).status == 422
    again = await _ok(await api.get(f"/v1/posts/{post}", token=author.token))
    assert [path(i["url"]) for i in again["images"]] == [path(blue), path(red), path(green)]
    assert (await api.put(order, json={"positions": [0, 1, 2]})).status == 401


async def test_deleting_a_post_removes_its_stored_images(
    api: Api, pool: asyncpg.Pool, server: RunningApp
) -> None:
    [author] = await quick_users(api, pool, "tidy")
    post, _ = await _post_with_images(api, author, ("#ff0000", "#00ff00"))
    kept, _ = await _post_with_images(api, author, ("#0000ff",))
    store = server.app[STORE]

    async def keys(p: str) -> list[str]:
        return [k async for k in store.keys(f"posts/{author.id}/{p}/")]

    assert len(await keys(post)) == 2
    await _ok(await api.delete(f"/v1/posts/{post}", token=author.token), 204)
    assert await keys(post) == []
    assert len(await keys(kept)) == 1
