"""Live delivery across two web processes sharing Redis, and catching up with `sync`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import socketio

from tests.conftest import Api, EventLog, RunningApp

Connect = Callable[..., Awaitable[socketio.AsyncClient]]


async def test_events_cross_processes_and_sync_recovers_what_was_missed(
    server: RunningApp,
    api: Api,
    spawn_web: Callable[[], Awaitable[str]],
    sio_connect: Connect,
) -> None:
    other_web = await spawn_web()  # a second `python -m server` process
    alice, bob, carol = [await api.register(n) for n in ("alice", "bob", "carol")]
    posts = []
    for i in range(3):
        r = await api.post("/v1/posts", token=alice.token, json={"caption": f"fit {i}"})
        posts.append((await r.json())["id"])

    a = await sio_connect(alice.token)  # on this process
    c = await sio_connect(carol.token, url=other_web)  # on the other process
    a_notes, c_likes = EventLog(a, "notification"), EventLog(c, "post:like")
    c_comments = EventLog(c, "post:comment")
    ack = await c.call("subscribe", {"post_id": posts[0]}, timeout=5)
    assert ack["ok"] is True and ack["like_count"] == 0

    # Bob acts through the other process; Alice and Carol hear about it live.
    bob_api = Api(session=api.session, base=other_web, settings=api.settings)
    assert (await bob_api.put(f"/v1/posts/{posts[0]}/like", token=bob.token)).status == 200
    r = await bob_api.post(f"/v1/posts/{posts[0]}/comments", token=bob.token, json={"body": "!"})
    assert r.status == 201
    assert (await bob_api.put("/v1/users/alice/follow", token=bob.token)).status == 200

    notes = await a_notes.wait_for(3)
    assert [(n["seq"], n["type"]) for n in notes] == [(1, "like"), (2, "comment"), (3, "follow")]
    assert notes[0]["actor"] == {"id": bob.id, "username": "bob"}
    like = (await c_likes.wait_for(1))[0]
    assert like["post_id"] == posts[0] and like["like_count"] == 1
    assert like["actor"]["username"] == "bob"
    comment = (await c_comments.wait_for(1))[0]
    assert comment["comment_count"] == 1 and comment["comment"]["body"] == "!"
    # Room broadcasts were written straight to the idle WebSockets.
    metrics = await (await bob_api.get("/metrics")).text()
    direct = [
        ln
        for ln in metrics.splitlines()
        if ln.startswith('drape_socket_deliveries_total{path="direct"}')
    ]
    assert direct and float(direct[0].split()[-1]) >= 2

    # Alice goes offline; Bob likes three times; Alice comes back and catches up exactly.
    last_seen = notes[-1]["seq"]
    await a.disconnect()
    for post_id in posts:
        await bob_api.delete(f"/v1/posts/{post_id}/like", token=bob.token)
        assert (await bob_api.put(f"/v1/posts/{post_id}/like", token=bob.token)).status == 200
    # The first post's like was notified moments ago: taking it back and liking it again does
    # not notify again (within db/notifications.py REPEAT_WINDOW).
    a2 = await sio_connect(alice.token, url=other_web)
    synced = await a2.call("sync", {"after_seq": last_seen}, timeout=5)
    assert synced["ok"] is True
    assert [(n["seq"], n["type"], n["post_id"]) for n in synced["items"]] == [
        (4, "like", posts[1]),
        (5, "like", posts[2]),
    ]
    rest = await api.get(f"/v1/notifications?after_seq={last_seen}", token=alice.token)
    assert (await rest.json())["items"] == synced["items"]


async def test_feed_post_reaches_online_followers(
    server: RunningApp, api: Api, sio_connect: Connect
) -> None:
    alice, bob, eve = [await api.register(n) for n in ("alice", "bob", "eve")]
    await api.put("/v1/users/alice/follow", token=bob.token)
    b, e = await sio_connect(bob.token), await sio_connect(eve.token)
    b_feed, e_feed = EventLog(b, "feed:post"), EventLog(e, "feed:post")
    r = await api.post("/v1/posts", token=alice.token, json={"caption": "new drop"})
    post = await r.json()
    got = (await b_feed.wait_for(1))[0]
    assert got["post"]["id"] == post["id"] and got["post"]["author"]["username"] == "alice"
    await e.sleep(0.3)
    assert e_feed.items == []


async def test_subscribe_checks_privacy_and_input(
    server: RunningApp, api: Api, sio_connect: Connect
) -> None:
    alice, bob = await api.register("alice"), await api.register("bob")
    await api.patch("/v1/me", token=alice.token, json={"is_private": True})
    post = await (await api.post("/v1/posts", token=alice.token, json={})).json()
    b = await sio_connect(bob.token)
    refused = await b.call("subscribe", {"post_id": post["id"]}, timeout=5)
    assert refused["ok"] is False and refused["error"]["code"] == "not_found"
    for bad in (None, "x", {"post_id": 5}, {"post_id": "not-a-uuid"}, [1, 2]):
        ack = await b.call("subscribe", bad, timeout=5)
        assert ack["ok"] is False and ack["error"]["code"] == "invalid"
    for bad in (None, {"after_seq": "1"}, {"after_seq": -1}, {"after_seq": True}):
        ack = await b.call("sync", bad, timeout=5)
        assert ack["ok"] is False
    # Refused subscribers hear nothing of the post.
    likes = EventLog(b, "post:like")
    await api.put(f"/v1/posts/{post['id']}/like", token=alice.token)
    await b.sleep(0.3)
    assert likes.items == []
    a = await sio_connect(alice.token)
    assert (await a.call("subscribe", {"post_id": post["id"]}, timeout=5))["ok"] is True


async def test_forged_token_refused_on_every_process(
    server: RunningApp,
    api: Api,
    spawn_web: Callable[[], Awaitable[str]],
    sio_connect: Connect,
) -> None:
    other_web = await spawn_web()
    user = await api.register("real")
    forged = user.token[:-4] + ("AAAA" if not user.token.endswith("AAAA") else "BBBB")
    for url in (server.base, other_web):
        with pytest.raises(socketio.exceptions.ConnectionError):
            await sio_connect(forged, url=url)
