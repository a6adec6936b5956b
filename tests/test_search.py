"""Search over real Postgres (pg_trgm, full text): people, posts, hashtags and a hashtag's page,
each respecting who may see what."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from db import search as db_search
from db.accounts import close_account
from drape.captions import hashtags, mentions, normalize_tag
from tests.conftest import Api, User
from tests.social_helpers import new_post
from tests.wardrobe_helpers import quick_users


async def _ok(r: Any, status: int = 200) -> Any:
    assert r.status == status, await r.text()
    return await r.json()


async def _names(api: Api, user: User, q: str, **params: Any) -> list[str]:
    page = await _ok(
        await api.get("/v1/search/people", token=user.token, params={"q": q, **params})
    )
    return [p["username"] for p in page["items"]]


def test_captions_name_hashtags_and_mentions() -> None:
    text = "New in #StreetStyle with @Anna_K. and @bob #ootd #streetstyle mail me at x@y.com"
    assert hashtags(text) == ["streetstyle", "ootd"]
    assert mentions(text) == ["anna_k", "bob"]
    assert normalize_tag("#OOTD") == "ootd" and normalize_tag("no spaces") is None


async def test_people_by_prefix_display_name_and_typo_best_first(
    api: Api, pool: asyncpg.Pool
) -> None:
    me, anna, _annabel, other, gone = await quick_users(
        api, pool, "viewer", "anna", "annabel_k", "street_queen", "anna_gone"
    )
    await pool.execute(
        "UPDATE users SET display_name = 'Anna Karenina', follower_count = 50 WHERE username = $1",
        "annabel_k",
    )
    await pool.execute("UPDATE users SET display_name = 'Queen of Streets' WHERE id = $1", other.id)
    await pool.execute("UPDATE users SET is_active = false WHERE id = $1", gone.id)

    # The exact username first, then other prefixes; a closed account never.
    assert await _names(api, me, "Anna") == ["anna", "annabel_k"]
    assert await _names(api, me, "karen") == ["annabel_k"]  # a word of the display name
    assert await _names(api, me, "karenian") == ["annabel_k"]  # a typo of it
    assert await _names(api, me, "streeet_queen") == ["street_queen"]  # a typo of a username
    assert await _names(api, me, "zzzz") == []

    # Following lifts an account above a better-known one.
    await pool.execute(
        "INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)", me.id, anna.id
    )
    r = await api.get("/v1/search/people", token=me.token, params={"q": "ann"})
    hits = (await _ok(r))["items"]
    assert [h["username"] for h in hits] == ["anna", "annabel_k"]
    assert hits[0]["follow_status"] == "active" and hits[1]["follow_status"] is None
    assert set(hits[1]) >= {"display_name", "avatar_url", "is_private", "follower_count"}
    assert "email" not in hits[1]


async def test_people_follow_renames_suspensions_and_deletions(
    api: Api, pool: asyncpg.Pool
) -> None:
    me, renamed, later = await quick_users(api, pool, "watcher", "old_handle", "later")
    r = await api.patch(
        "/v1/me",
        token=renamed.token,
        json={"username": "new_handle", "display_name": "Mary  Anne Smith"},
    )
    await _ok(r)
    assert await _names(api, me, "old_") == []  # short: no typo matching either
    assert await _names(api, me, "new_hand") == ["new_handle"]
    # Any word-start of the display name, several words too, spaces as typed.
    for q in ("mary", "anne", "anne smi", "Mary   Anne", "smith"):
        assert await _names(api, me, q) == ["new_handle"], q
    assert await _names(api, me, "nne") == []  # not the middle of a word

    # A suspended account leaves search and comes back when the suspension is lifted; a
    # deleted one leaves it; a hard delete takes its terms along.
    await pool.execute("UPDATE users SET is_active = false WHERE id = $1", renamed.id)
    assert await _names(api, me, "new_hand") == [] and await _names(api, me, "mary") == []
    await pool.execute("UPDATE users SET is_active = true WHERE id = $1", renamed.id)
    assert await _names(api, me, "mary") == ["new_handle"]
    async with pool.acquire() as conn, conn.transaction():
        await close_account(conn, uuid.UUID(later.id))  # what DELETE /v1/me does
    assert await _names(api, me, "later") == []
    await pool.execute("DELETE FROM users WHERE id = $1", renamed.id)
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM people_terms WHERE user_id = ANY($1::uuid[])",
            [renamed.id, later.id],
        )
        == 0
    )


async def test_a_followed_account_is_found_among_many_with_the_same_start(
    api: Api, pool: asyncpg.Pool
) -> None:
    crowd = [f"zoe_{i:03d}" for i in range(db_search.CANDIDATES * 2)]
    me, *others = await quick_users(api, pool, "fan", *crowd, "zoe_zz_friend")
    friend = others[-1]
    await pool.execute(
        "INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)", me.id, friend.id
    )
    # It sorts after every other match: only the followed accounts' branch finds it.
    assert (await _names(api, me, "zoe"))[0] == "zoe_zz_friend"
    assert "zoe_zz_friend" not in await _names(api, others[0], "zoe", limit=50)


async def test_people_pages_and_bad_input(api: Api, pool: asyncpg.Pool) -> None:
    users = await quick_users(api, pool, "pager", *(f"mia{i:02d}" for i in range(7)))
    me = users[0]
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"q": "mia", "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = await _ok(await api.get("/v1/search/people", token=me.token, params=params))
        seen += [p["username"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"mia{i:02d}" for i in range(7)] and len(set(seen)) == 7

    for params in (
        {},
        {"q": "  "},
        {"q": "x" * 51},
        {"q": "a", "limit": 0},
        {"q": "a", "cursor": "!"},
    ):
        r = await api.get("/v1/search/people", token=me.token, params=params)
        assert r.status == 422, (params, await r.text())
        assert r.content_type == "application/problem+json"
    assert (await api.get("/v1/search/people", params={"q": "mia"})).status == 401
    # LIKE wildcards are taken literally.
    assert await _names(api, me, "%") == []


async def test_posts_by_caption_respect_privacy_and_moderation(
    api: Api, pool: asyncpg.Pool
) -> None:
    me, public, private, friend = await quick_users(api, pool, "seeker", "pub", "priv", "friend")
    await pool.execute("UPDATE users SET is_private = true WHERE id = $1", private.id)
    await pool.execute(
        "INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)", friend.id, private.id
    )
    linen = await new_post(api, public, "Summer linen shirt, very breezy")
    secret = await new_post(api, private, "My linen trousers")
    hidden = await new_post(api, public, "linen again")
    await new_post(api, public, "wool coat")
    await pool.execute("UPDATE posts SET hidden_at = now() WHERE id = $1", hidden)

    async def found(user: User, q: str) -> set[str]:
        r = await api.get("/v1/search/posts", token=user.token, params={"q": q})
        return {p["id"] for p in (await _ok(r))["items"]}

    assert await found(me, "linen") == {linen}
    assert await found(friend, "LINEN") == {linen, secret}
    assert await found(public, "linen") == {linen, hidden}  # its author still sees it
    assert await found(me, "linen shirt") == {linen}
    assert await found(me, "linen -shirt") == set()
    assert await found(me, '"shirt linen"') == set()


async def test_hashtags_are_parsed_listed_and_paged(api: Api, pool: asyncpg.Pool) -> None:
    me, author, private = await quick_users(api, pool, "browser", "author", "closed")
    await pool.execute("UPDATE users SET is_private = true WHERE id = $1", private.id)
    posts = [await new_post(api, author, f"look {i} #StreetStyle #ootd") for i in range(5)]
    await new_post(api, author, "#streetwear only")
    await new_post(api, private, "mine #streetstyle")

    r = await api.get("/v1/search/hashtags", token=me.token, params={"q": "#street"})
    tags = (await _ok(r))["items"]
    assert tags == [{"tag": "streetstyle", "post_count": 6}, {"tag": "streetwear", "post_count": 1}]
    r = await api.get("/v1/search/hashtags", token=me.token, params={"q": "not a tag"})
    assert (await _ok(r))["items"] == []

    assert await _ok(await api.get("/v1/hashtags/StreetStyle", token=me.token)) == {
        "tag": "streetstyle",
        "post_count": 6,
    }
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = await api.get("/v1/hashtags/streetstyle/posts", token=me.token, params=params)
        page = await _ok(r)
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == posts[::-1]  # newest first, the private account's post left out

    r = await api.get("/v1/hashtags/streetstyle/posts", token=private.token)
    assert len((await _ok(r))["items"]) == 6

    r = await api.delete(f"/v1/posts/{posts[0]}", token=author.token)
    assert r.status == 204
    assert (await _ok(await api.get("/v1/hashtags/streetstyle", token=me.token)))["post_count"] == 5

    assert (await api.get("/v1/hashtags/not-a-tag/posts", token=me.token)).status == 404
    r = await api.get("/v1/hashtags/ootd/posts", token=me.token, params={"cursor": "zz"})
    assert r.status == 422
    assert (await api.get("/v1/hashtags/ootd/posts")).status == 401


async def test_a_muted_account_is_found_but_its_posts_are_not(api: Api, pool: asyncpg.Pool) -> None:
    me, loud, quiet = await quick_users(api, pool, "muter", "loud_one", "quiet_one")
    loud_post = await new_post(api, loud, "neon jacket #neonnights")
    quiet_post = await new_post(api, quiet, "neon scarf #neonnights")
    r = await api.put(f"/v1/users/{loud.username}/mute", token=me.token)
    assert r.status in (200, 204), await r.text()

    async def post_ids(path: str, **params: str) -> list[str]:
        page = await _ok(await api.get(path, token=me.token, params=params))
        return [p["id"] for p in page["items"]]

    # Muting hides what they post, not who they are: they stay findable, to be unmuted.
    assert await post_ids("/v1/search/posts", q="neon") == [quiet_post]
    assert await post_ids("/v1/hashtags/neonnights/posts") == [quiet_post]
    assert await _names(api, me, "loud") == ["loud_one"]
    r = await api.get("/v1/search/posts", token=quiet.token, params={"q": "neon"})
    assert {p["id"] for p in (await _ok(r))["items"]} == {loud_post, quiet_post}
