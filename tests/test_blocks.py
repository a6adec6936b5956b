"""Blocks and mutes (../shared/CONTRACT.md "Safety").

After A blocks B, to each other they are as if absent. The walk below covers every named REST
route and every client socket event: a route is either checked both ways (A toward B and B
toward A) or says why it shows nothing of another account. A new route or event that is in
neither table fails the walk, so it cannot be added without deciding.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import socketio

from db import ai as db_ai
from realtime.events import Events
from tests.conftest import Api, EventLog, RunningApp, User
from tests.social_helpers import new_comment, new_post


@dataclass
class World:
    """A and B, who follow each other and a third account C (who follows them back), each with
    a post (tagged #blockwalk) that the other liked, commented on and saved; both did the same
    to C's post."""

    a: User
    b: User
    c: User
    post: dict[str, str] = field(default_factory=dict)  # author's name -> post id
    comment: dict[tuple[str, str], str] = field(default_factory=dict)  # (by, on) -> comment id

    def user(self, name: str) -> User:
        return {"a": self.a, "b": self.b, "c": self.c}[name]


async def ok(r: Any, status: int = 200) -> Any:
    assert r.status == status, await r.text()
    return await r.json() if r.content_type.endswith("json") else None


async def make_world(api: Api) -> World:
    w = World(await api.register("alba"), await api.register("bruno"), await api.register("cleo"))
    for me, other in (("a", "b"), ("b", "a"), ("a", "c"), ("b", "c"), ("c", "a"), ("c", "b")):
        path = f"/v1/users/{w.user(other).username}/follow"
        await ok(await api.put(path, token=w.user(me).token))
    for name in "abc":
        w.post[name] = await new_post(api, w.user(name), f"look by {name} #blockwalk")
    for me, on in (("a", "b"), ("b", "a"), ("a", "c"), ("b", "c")):
        user = w.user(me)
        await ok(await api.put(f"/v1/posts/{w.post[on]}/like", token=user.token))
        w.comment[me, on] = await new_comment(api, user, w.post[on], f"{me} on {on}")
        await ok(await api.put(f"/v1/posts/{w.post[on]}/save", token=user.token), 204)
    return w


async def block(api: Api, me: User, other: User) -> None:
    body = await ok(await api.put(f"/v1/users/{other.username}/block", token=me.token))
    assert body == {"username": other.username, "blocked": True}


def ids(items: list[dict[str, Any]], key: str = "id") -> set[str]:
    return {str(i[key]) for i in items}


# Checks, each run as `me` toward `other` (both ways), after the block -------------------------

Check = Callable[[Api, World, str, str, asyncpg.Pool], Awaitable[None]]


async def profile_absent(api: Api, w: World, me: str, other: str, pool: asyncpg.Pool) -> None:
    r = await api.get(f"/v1/users/{w.user(other).username}", token=w.user(me).token)
    assert r.status == 404, await r.text()


async def follow_refused(api: Api, w: World, me: str, other: str, pool: asyncpg.Pool) -> None:
    path = f"/v1/users/{w.user(other).username}/follow"
    assert (await api.put(path, token=w.user(me).token)).status == 404
    assert (await api.delete(path, token=w.user(me).token)).status == 404
    n = await pool.fetchval(
        "SELECT count(*) FROM follows WHERE (follower_id, followee_id) IN (($1, $2), ($2, $1))",
        uuid.UUID(w.user(me).id),
        uuid.UUID(w.user(other).id),
    )
    assert n == 0


async def people_lists(api: Api, w: World, me: str, other: str, pool: asyncpg.Pool) -> None:
    token = w.user(me).token
    for which in ("followers", "following"):
        r = await api.get(f"/v1/users/{w.user(other).username}/{which}", token=token)
        assert r.status == 404, await r.text()
    # C's followers are A and B: each sees only the other one left out.
    body = await ok(await api.get(f"/v1/users/{w.c.username}/followers", token=token))
    assert ids(body["items"]) == {w.user(me).id}
    body = await ok(await api.get(f"/v1/users/{w.user(me).username}/following", token=token))
    assert ids(body["items"]) == {w.c.id}


async def posts_absent(api: Api, w: World, me: str, other: str, pool: asyncpg.Pool) -> None:
    token, theirs = w.user(me).token, w.post[other]
    r = await api.get(f"/v1/posts?author={w.user(other).username}", token=token)
    assert r.status == 404, await r.text()
    assert (await api.get(f"/v1/posts/{theirs}", token=token)).status == 404


async def post_delete_refused(api: Api, w: World, me: str, other: str, pool: asyncpg.Pool) -> None:
    assert (await api.delete(f"/v1/posts/{w.post[other]}", token=w.user(me).token)).status == 404
    assert (await api.get(f"/v1/posts/{w.post[other]}", token=w.user(other).token)).status == 200


async def post_image_refused(api: Api, w: World, me: str, other: str, pool: asyncpg.Pool) -> None:
    body = {"content_type": "image/jpeg"}
    path = f"/v1/posts/{w.post[other]}/image"
    r = await api.post(path, token=w.user(me).token, json=body)
    assert r.status == 404, await r.text()


async def likes_refused(api: Api, w: World, me: str, other: str, pool: asyncpg.Pool) -> None:
    theirs = w.post[other]
    before = await pool.fetchval("SELECT like_count FROM posts WHERE id = $1", uuid.UUID(theirs))
    for method in ("PUT", "DELETE"):
        r = await api.request(method, f"/v1/posts/{theirs}/like", token=w.user(me).token)
        assert r.status == 404, await r.text()
    after = await pool.fetchval("SELECT like_count FROM posts WHERE id = $1", uuid.UUID(theirs))
    assert after == before


async def comments_absent(api: Api, w: World, me: str, other: str, pool: asyncpg.Pool) -> None:
    token, theirs = w.user(me).token, w.post[other]
    assert (await api.get(f"/v1/posts/{theirs}/comments", token=token)).status == 404
    r = await api.post(f"/v1/posts/{theirs}/comments", token=token, json={"body": "hey"})
    assert r.status == 404, await r.text()
    body = await ok(await api.get(f"/v1/posts/{w.post['c']}/comments", token=token))
    assert ids(body["items"]) == {w.comment[me, "c"]}


async def comment_delete_refused(
    api: Api, w: World, me: str, other: str, pool: asyncpg.Pool
) -> None:
    # The other's comment under C's post is absent to me: deleting it is "not found".
    r = await api.delete(f"/v1/comments/{w.comment[other, 'c']}", token=w.user(me).token)
    assert r.status == 404, await r.text()
    # My own comment under the other's post stays mine to delete; that shows nothing of them.
    r = await api.delete(f"/v1/comments/{w.comment[me, other]}", token=w.user(me).token)
    assert r.status == 204, await r.text()


async def feed_absent(api: Api, w: World, me: str, other: str, pool: asyncpg.Pool) -> None:
    body = await ok(await api.get("/v1/feed", token=w.user(me).token))
    assert {p["author"]["id"] for p in body["items"]} == {w.user(me).id, w.c.id}


async def notifications_absent(api: Api, w: World, me: str, other: str, pool: asyncpg.Pool) -> None:
    body = await ok(await api.get("/v1/notifications", token=w.user(me).token))
    actors = {n["actor"]["id"] for n in body["items"] if n["actor"]}
    assert w.user(other).id not in actors
    body = await ok(await api.get("/v1/notifications/grouped", token=w.user(me).token))
    actors = {a["id"] for g in body["items"] for a in g["actors"]}
    assert w.c.id in actors and w.user(other).id not in actors
    stored = await pool.fetchval(
        "SELECT count(*) FROM notifications WHERE user_id = $1 AND actor_id = $2",
        uuid.UUID(w.user(me).id),
        uuid.UUID(w.user(other).id),
    )
    assert stored > 0  # they were there before the block: left out at read, not lost


async def follow_requests_absent(
    api: Api, w: World, me: str, other: str, pool: asyncpg.Pool
) -> None:
    body = await ok(await api.get("/v1/me/follow-requests", token=w.user(me).token))
    assert w.user(other).id not in {i["user"]["id"] for i in body["items"]}


async def _saved_batch(api: Api, pool: asyncpg.Pool, me: User, kind: str, target: str) -> None:
    """A recommendation batch computed before the block that names the other account."""
    job = await ok(await api.post("/v1/explore", token=me.token), 202)
    await db_ai.save_batch(
        pool,
        user_id=uuid.UUID(me.id),
        job_id=uuid.UUID(job["job"]["id"]),
        kind=kind,
        occasion=None,
        weather=None,
        rows=[{"target_id": uuid.UUID(target), "score": 1.0, "explanation": "similar likes"}],
        batch_id=uuid.uuid4(),
    )


async def explore_absent(api: Api, w: World, me: str, other: str, pool: asyncpg.Pool) -> None:
    await _saved_batch(api, pool, w.user(me), "post", w.post[other])
    body = await ok(await api.get("/v1/explore", token=w.user(me).token))
    assert body["items"] == []
    inputs = await db_ai.social_inputs(pool, uuid.UUID(w.user(me).id))
    assert w.post[other] not in {p for p, _ in inputs["candidates"]}


async def suggestions_absent(api: Api, w: World, me: str, other: str, pool: asyncpg.Pool) -> None:
    await _saved_batch(api, pool, w.user(me), "user", w.user(other).id)
    body = await ok(await api.get("/v1/people/suggested", token=w.user(me).token))
    assert body["items"] == []
    inputs = await db_ai.social_inputs(pool, uuid.UUID(w.user(me).id))
    assert w.user(other).id in inputs["asked"]  # never suggested again


async def reports_of_content_refused(
    api: Api, w: World, me: str, other: str, pool: asyncpg.Pool
) -> None:
    token = w.user(me).token
    for kind, target in (("post", w.post[other]), ("comment", w.comment[other, "c"])):
        body = {"target_type": kind, "target_id": target, "reason": "spam"}
        r = await api.post("/v1/reports", token=token, json=body)
        assert r.status == 404, await r.text()
    # The account itself can still be reported: people block someone, then report them.
    body = {"target_type": "user", "target_id": w.user(other).id, "reason": "harassment"}
    await ok(await api.post("/v1/reports", token=token, json=body), 201)


async def post_edits_refused(api: Api, w: World, me: str, other: str, pool: asyncpg.Pool) -> None:
    token, theirs = w.user(me).token, w.post[other]
    r = await api.patch(f"/v1/posts/{theirs}", token=token, json={"caption": "mine now"})
    assert r.status == 404, await r.text()
    r = await api.post(f"/v1/posts/{theirs}/images", token=token, json={"key": "x"})
    assert r.status == 404, await r.text()
    assert (await api.delete(f"/v1/posts/{theirs}/images/0", token=token)).status == 404
    r = await api.put(f"/v1/posts/{theirs}/images/order", token=token, json={"positions": [0]})
    assert r.status == 404, await r.text()
    assert (await api.put(f"/v1/posts/{theirs}/save", token=token)).status == 404


async def saved_absent(api: Api, w: World, me: str, other: str, pool: asyncpg.Pool) -> None:
    body = await ok(await api.get("/v1/me/saved", token=w.user(me).token))
    assert ids(body["items"]) == {w.post["c"]}  # the other's post, saved before, is absent


async def likers_absent(api: Api, w: World, me: str, other: str, pool: asyncpg.Pool) -> None:
    token = w.user(me).token
    assert (await api.get(f"/v1/posts/{w.post[other]}/likes", token=token)).status == 404
    body = await ok(await api.get(f"/v1/posts/{w.post['c']}/likes", token=token))
    assert ids(body["items"]) == {w.user(me).id}


async def comment_likes_and_replies_refused(
    api: Api, w: World, me: str, other: str, pool: asyncpg.Pool
) -> None:
    token, theirs = w.user(me).token, w.comment[other, "c"]
    for method in ("PUT", "DELETE"):
        r = await api.request(method, f"/v1/comments/{theirs}/like", token=token)
        assert r.status == 404, await r.text()
    assert (await api.get(f"/v1/comments/{theirs}/replies", token=token)).status == 404
    body = {"body": "a reply", "parent_id": theirs}
    r = await api.post(f"/v1/posts/{w.post['c']}/comments", token=token, json=body)
    assert r.status in (404, 422), await r.text()
    # The other's reply under my comment on C's post is left out of its replies.
    mine = w.comment[me, "c"]
    reply = {"body": "reply", "parent_id": mine}
    r = await api.post(f"/v1/posts/{w.post['c']}/comments", token=w.c.token, json=reply)
    await ok(r, 201)
    replies = await ok(await api.get(f"/v1/comments/{mine}/replies", token=token))
    assert {c["author"]["id"] for c in replies["items"]} == {w.c.id}


async def search_absent(api: Api, w: World, me: str, other: str, pool: asyncpg.Pool) -> None:
    token, name = w.user(me).token, w.user(other).username
    people = await ok(await api.get(f"/v1/search/people?q={name}", token=token))
    assert w.user(other).id not in ids(people["items"])
    found = await ok(await api.get("/v1/search/posts?q=look", token=token))
    assert ids(found["items"]) == {w.post[me], w.post["c"]}
    tagged = await ok(await api.get("/v1/hashtags/blockwalk/posts", token=token))
    assert ids(tagged["items"]) == {w.post[me], w.post["c"]}


OWN = "only the caller's own account, data or jobs"
CHART = {
    "category": "tops",
    "kind": "body",
    "sizes": [
        {"label": "S", "bust": [80, 88], "waist": [62, 70]},
        {"label": "M", "bust": [88, 96], "waist": [70, 78]},
    ],
}


async def charts_absent(api: Api, w: World, me: str, other: str, pool: asyncpg.Pool) -> None:
    """A brand chart the other shared in the catalogue is absent to me."""
    body = {**CHART, "brand": f"brand-{other}-{me}", "name": "tops"}
    made = await ok(await api.post("/v1/size-charts", token=w.user(other).token, json=body), 201)
    token = w.user(me).token
    assert (await api.get(f"/v1/size-charts/{made['id']}", token=token)).status == 404
    page = await ok(await api.get(f"/v1/size-charts?brand={body['brand']}", token=token))
    assert page["items"] == []
    control = await ok(await api.get(f"/v1/size-charts?brand={body['brand']}", token=w.c.token))
    assert ids(control["items"]) == {made["id"]}
    r = await api.post("/v1/fit", token=token, json={"chart_id": made["id"]})
    assert r.status == 404, await r.text()


PUBLIC = "no account's content"
ROUTES: dict[str, Check | str] = {
    "user": profile_absent,
    "follow": follow_refused,
    "unfollow": follow_refused,
    "followers": people_lists,
    "following": people_lists,
    "posts": posts_absent,
    "post": posts_absent,
    "post_delete": post_delete_refused,
    "post_image": post_image_refused,
    "post_image_complete": "completes an upload started by post_image, refused above",
    "post_like": likes_refused,
    "post_unlike": likes_refused,
    "post_comments": comments_absent,
    "post_comment_create": comments_absent,
    "comment_delete": comment_delete_refused,
    "feed": feed_absent,
    "notifications": notifications_absent,
    "follow_requests": follow_requests_absent,
    "follow_accept": "acts on a request to me; the block removed the requests (follow_requests)",
    "follow_reject": "acts on a request to me; the block removed the requests (follow_requests)",
    "explore": explore_absent,
    "explore_refresh": "starts a job whose candidates are checked in explore_absent",
    "people_suggested": suggestions_absent,
    "report_create": reports_of_content_refused,
    "block": "the block itself: test_blocks.py",
    "unblock": "the block itself: test_blocks.py",
    "mute": "mutes: test_blocks.py",
    "unmute": "mutes: test_blocks.py",
    "blocks": "my own blocks: test_blocks.py",
    "mutes": "my own mutes: test_blocks.py",
    "size_chart": charts_absent,
    "size_charts": charts_absent,
    "fit": charts_absent,
    "size_chart_create": "a new chart of mine",
    "size_chart_put": "changes my own catalogue chart only",
    "size_chart_delete": "deletes my own catalogue chart only",
    "fit_feedback": "about a chart read through fit (checked there)",
    "fit_map": "a fit map on my own avatar, from a chart read through fit",
    "garment_chart": OWN,
    "garment_chart_put": OWN,
    "garment_chart_delete": OWN,
    "me_devices": OWN,
    "me_device_create": OWN,
    "me_device_delete": OWN,
    "me_notification_settings": OWN,
    "me_notification_settings_put": OWN,
    "notifications_grouped": notifications_absent,
    "notifications_unread_count": "a count of my own notifications",
    "notifications_read": "moves my own read marker",
    "post_update": post_edits_refused,
    "post_images_add": post_edits_refused,
    "post_image_remove": post_edits_refused,
    "post_images_order": post_edits_refused,
    "post_save": post_edits_refused,
    "post_unsave": "takes a post out of my own saved ones; answers nothing of anyone",
    "me_saved": saved_absent,
    "post_likers": likers_absent,
    "comment_like": comment_likes_and_replies_refused,
    "comment_unlike": comment_likes_and_replies_refused,
    "comment_replies": comment_likes_and_replies_refused,
    "search_people": search_absent,
    "search_posts": search_absent,
    "hashtag_posts": search_absent,
    "search_hashtags": "tags and their post counts: aggregates naming no account",
    "hashtag": "a tag and its post count: an aggregate naming no account",
    "photo": "a profile photo's public address, as avatar_url is public",
    **{
        name: OWN
        for name in (
            "avatars avatar_delete avatar_primary jobs me_photo me_photo_complete "
            "me_photo_delete wears wear_create wear_delete wear_calendar wear_stats"
        ).split()
    },
    "admin_reports": "moderators only",
    "admin_report_resolve": "moderators only",
    "admin_unsuspend": "moderators only",
    "admin_actions": "moderators only",
    "objects_upload": "signed links to one's own uploads",
    "objects_download": "signed links handed out with content the caller could see",
    **{
        name: PUBLIC
        for name in (
            "healthz readyz metrics openapi docs_openapi docs docs_ui playground playground_asset "
            "asyncapi problem_types problem_type"
        ).split()
    },
    **{
        name: OWN
        for name in (
            "auth_register auth_login auth_refresh auth_logout auth_firebase me me_update "
            "me_profile me_profile_put me_style_profile me_style_profile_put me_delete "
            "me_export me_password me_sessions me_session_end me_email_verification "
            "auth_verify_email auth_password_reset auth_password_reset_confirm post_create "
            "garments garment_create garment garment_update garment_delete garment_image "
            "garment_image_complete garment_image_delete outfits outfit_create outfit "
            "outfit_update outfit_delete outfit_worn outfit_cover outfit_cover_complete "
            "outfit_cover_delete recommendations_create recommendations "
            "recommendation_feedback style_analysis_create style_analysis avatar_create avatar "
            "avatar_update avatar_rebuild me_avatar job"
        ).split()
    },
}


async def test_after_a_block_no_route_shows_either_to_the_other(
    api: Api, server: RunningApp, pool: asyncpg.Pool
) -> None:
    named = {name for name in server.app.router.named_resources() if not name.startswith("_")}
    assert named - ROUTES.keys() == set(), "classify these routes in ROUTES"
    w = await make_world(api)
    await block(api, w.a, w.b)
    checks = {id(c): c for c in ROUTES.values() if not isinstance(c, str)}
    for check in checks.values():
        for me, other in (("a", "b"), ("b", "a")):
            try:
                await check(api, w, me, other, pool)
            except AssertionError as e:
                raise AssertionError(f"{check.__name__} as {me} toward {other}: {e}") from e


async def _err(client: socketio.AsyncClient, event: str, data: Any) -> Any:
    return await client.call(event, data, timeout=5)


async def test_after_a_block_no_socket_event_shows_either_to_the_other(
    api: Api,
    pool: asyncpg.Pool,
    sio_connect: Callable[..., Awaitable[socketio.AsyncClient]],
) -> None:
    w = await make_world(api)
    await block(api, w.a, w.b)
    events: dict[str, Callable[[socketio.AsyncClient, str], Awaitable[None]] | str] = {}

    async def subscribe(client: socketio.AsyncClient, other: str) -> None:
        ack = await _err(client, "subscribe", {"post_id": w.post[other]})
        assert ack["ok"] is False and ack["error"]["code"] == "not_found", ack

    async def sync(client: socketio.AsyncClient, other: str) -> None:
        ack = await _err(client, "sync", {"after_seq": 0})
        assert ack["ok"] is True and ack["items"], ack  # C's follow at least
        assert w.user(other).id not in {n["actor"]["id"] for n in ack["items"] if n["actor"]}

    async def presence_watch(client: socketio.AsyncClient, other: str) -> None:
        ack = await _err(client, "presence:watch", {"user_ids": [w.user(other).id, w.c.id]})
        assert ack["ok"] and ack["refused"] == [w.user(other).id], ack
        assert set(ack["statuses"]) == {w.c.id}, ack

    events.update(
        subscribe=subscribe,
        sync=sync,
        unsubscribe="leaves a room; answers with nothing of anyone",
        **{
            "presence:watch": presence_watch,
            "presence:unwatch": "stops a watch; answers with nothing of anyone",
            "avatar:session": OWN,
            "avatar:set": OWN,
            "avatar:fit": OWN,
            "auth:refresh": OWN,
        },
    )
    assert set(Events.CLIENT_EVENTS) == events.keys(), "classify these socket events"
    for me, other in (("a", "b"), ("b", "a")):
        client = await sio_connect(w.user(me).token)
        for check in events.values():
            if not isinstance(check, str):
                await check(client, other)


async def test_a_block_cuts_live_streams_both_ways_on_every_process(
    api: Api,
    pool: asyncpg.Pool,
    spawn_web: Callable[[], Awaitable[str]],
    sio_connect: Callable[..., Awaitable[socketio.AsyncClient]],
) -> None:
    w = await make_world(api)
    other_process = await spawn_web()
    a_sock = await sio_connect(w.a.token)
    b_sock = await sio_connect(w.b.token, url=other_process)
    logs = {
        (who, event): EventLog(sock, event)
        for who, sock in (("a", a_sock), ("b", b_sock))
        for event in ("post:unsubscribed", "post:like", "post:comment", "notification")
    }
    for sock, posts in ((a_sock, ("b", "c")), (b_sock, ("a", "c"))):
        for name in posts:
            ack = await sock.call("subscribe", {"post_id": w.post[name]}, timeout=5)
            assert ack["ok"], ack
    await block(api, w.a, w.b)

    # Each leaves the rooms of the other's posts within a second, on either process.
    left_a = await logs["a", "post:unsubscribed"].wait_for(1, timeout=1.0)
    left_b = await logs["b", "post:unsubscribed"].wait_for(1, timeout=1.0)
    assert [e["post_id"] for e in left_a] == [w.post["b"]]
    assert [e["post_id"] for e in left_b] == [w.post["a"]]

    # Actions on C's post, which both still watch: each one's reach only C, never the other.
    for who in ("b", "a"):
        user = w.user(who)
        await ok(await api.delete(f"/v1/posts/{w.post['c']}/like", token=user.token))
        await new_comment(api, user, w.post["c"], f"{who} again")
    await ok(await api.put(f"/v1/posts/{w.post['c']}/like", token=w.c.token))  # the control
    for who in ("a", "b"):
        likes = await logs[who, "post:like"].wait_for(1)
        await asyncio.sleep(0.3)  # anything else in flight arrives meanwhile
        assert [e["actor"]["id"] for e in likes] in ([w.user(who).id, w.c.id], [w.c.id]), likes
        actors = [e["actor"]["id"] for e in logs[who, "post:comment"].items]
        assert actors == [w.user(who).id], actors
    assert not logs["a", "notification"].items and not logs["b", "notification"].items


async def test_blocking_removes_follows_both_ways_with_counts_and_lists_mine(
    api: Api, pool: asyncpg.Pool
) -> None:
    w = await make_world(api)
    await block(api, w.a, w.b)
    await block(api, w.a, w.b)  # idempotent
    me = await ok(await api.get("/v1/me", token=w.a.token))
    assert (me["follower_count"], me["following_count"]) == (1, 1)  # C alone, both ways
    them = await ok(await api.get("/v1/me", token=w.b.token))
    assert (them["follower_count"], them["following_count"]) == (1, 1)
    mine = await ok(await api.get("/v1/me/blocks", token=w.a.token))
    assert ids(mine["items"]) == {w.b.id}
    assert (await ok(await api.get("/v1/me/blocks", token=w.b.token)))["items"] == []

    # Lifting it restores sight, not the follows.
    r = await api.delete(f"/v1/users/{w.b.username}/block", token=w.a.token)
    assert (await ok(r)) == {"username": w.b.username, "blocked": False}
    await ok(await api.get(f"/v1/users/{w.b.username}", token=w.a.token))
    await ok(await api.get(f"/v1/posts/{w.post['a']}", token=w.b.token))
    assert (await ok(await api.get("/v1/me", token=w.a.token)))["follower_count"] == 1


async def test_a_block_lasts_while_either_side_keeps_it(api: Api) -> None:
    w = await make_world(api)
    await block(api, w.a, w.b)
    # B can block A back although A is absent to B.
    await block(api, w.b, w.a)
    await ok(await api.delete(f"/v1/users/{w.b.username}/block", token=w.a.token))
    for me, other in ((w.a, w.b), (w.b, w.a)):
        r = await api.get(f"/v1/users/{other.username}", token=me.token)
        assert r.status == 404, await r.text()
    await ok(await api.delete(f"/v1/users/{w.a.username}/block", token=w.b.token))
    await ok(await api.get(f"/v1/users/{w.a.username}", token=w.b.token))


async def test_block_and_mute_refuse_bad_targets(api: Api) -> None:
    a = await api.register("alone")
    for verb in ("block", "mute"):
        r = await api.put(f"/v1/users/{a.username}/{verb}", token=a.token)
        assert r.status == 422 and r.content_type == "application/problem+json"
        assert (await r.json())["errors"][0]["field"] == "username"
        r = await api.put(f"/v1/users/nobody_here/{verb}", token=a.token)
        assert r.status == 404 and r.content_type == "application/problem+json"
        r = await api.put(f"/v1/users/{a.username}/{verb}", token="")
        assert r.status == 401


async def test_a_mute_hides_the_muted_from_the_muter_only(
    api: Api,
    pool: asyncpg.Pool,
    run_jobs: Callable[[], Awaitable[int]],
    sio_connect: Callable[..., Awaitable[socketio.AsyncClient]],
) -> None:
    w = await make_world(api)
    await run_jobs()  # timelines filled
    a_sock = await sio_connect(w.a.token)
    notes = EventLog(a_sock, "notification")
    body = await ok(await api.put(f"/v1/users/{w.b.username}/mute", token=w.a.token))
    assert body == {"username": w.b.username, "muted": True}
    fresh = await new_post(api, w.b, "new by b")
    await run_jobs()

    feed = await ok(await api.get("/v1/feed", token=w.a.token))
    assert {p["author"]["id"] for p in feed["items"]} == {w.a.id, w.c.id}
    await _saved_batch(api, pool, w.a, "post", fresh)
    assert (await ok(await api.get("/v1/explore", token=w.a.token)))["items"] == []

    # B's actions no longer notify A; B sees and does everything as before.
    await ok(await api.delete(f"/v1/posts/{w.post['a']}/like", token=w.b.token))
    await ok(await api.put(f"/v1/posts/{w.post['a']}/like", token=w.b.token))
    await new_comment(api, w.b, w.post["a"], "still here")
    await ok(await api.get(f"/v1/users/{w.a.username}", token=w.b.token))
    b_feed = await ok(await api.get("/v1/feed", token=w.b.token))
    assert w.a.id in {p["author"]["id"] for p in b_feed["items"]}
    await new_comment(api, w.c, w.post["a"], "control")  # C still notifies A
    [note] = await notes.wait_for(1)
    assert note["actor"]["id"] == w.c.id
    mutes = await ok(await api.get("/v1/me/mutes", token=w.a.token))
    assert ids(mutes["items"]) == {w.b.id}

    # Unmuted, B's posts are back in A's feed.
    await ok(await api.delete(f"/v1/users/{w.b.username}/mute", token=w.a.token))
    await run_jobs()
    feed = await ok(await api.get("/v1/feed", token=w.a.token))
    assert fresh in {p["id"] for p in feed["items"]}
