"""Presence: `presence:watch` for users the watcher may see, `presence` as they change, hidden
presence, and a killed web process's sockets falling offline within 45 s."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import socketio
from redis.asyncio import Redis

from drape.settings import Settings
from realtime.presence import online
from tests.conftest import Api, EventLog, User
from tests.harness import Stack

Connect = Callable[..., Awaitable[socketio.AsyncClient]]


async def watch(client: socketio.AsyncClient, *user_ids: str) -> dict[str, Any]:
    ack: dict[str, Any] = await client.call("presence:watch", {"user_ids": list(user_ids)})
    return ack


async def until(log: EventLog, want: dict[str, Any], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while want not in log.items:
        left = deadline - time.monotonic()
        assert left > 0, (want, log.items)
        await log.wait_for(len(log.items) + 1, timeout=left)


async def _close(clients: list[socketio.AsyncClient], stack: Stack) -> None:
    for client in clients:
        if client.connected:
            await client.disconnect()
    await stack.aclose(signal.SIGTERM)


async def test_watch_sees_changes_of_visible_users_only(api: Api, sio_connect: Connect) -> None:
    ann, bob = await api.register("ann"), await api.register("bob")
    cat = await api.register("cat")
    r = await api.patch("/v1/me", token=cat.token, json={"is_private": True})
    assert r.status == 200, await r.text()
    nobody = str(uuid.uuid4())

    watcher = await sio_connect(ann.token)
    events = EventLog(watcher, "presence")
    ack = await watch(watcher, bob.id, cat.id, nobody)
    assert ack["statuses"] == {bob.id: "offline"}
    assert sorted(ack["refused"]) == sorted([cat.id, nobody])
    for bad in ({"user_ids": "x"}, {"user_ids": ["not-a-uuid"]}, {"user_ids": [1]}, None):
        answer = await watcher.call("presence:watch", bad)
        assert answer["error"]["code"] == "invalid", answer

    bob_phone = await sio_connect(bob.token)
    await until(events, {"user_id": bob.id, "online": True})
    cat_phone = await sio_connect(cat.token)  # cat is private: ann hears nothing of it
    bob_tablet = await sio_connect(bob.token)  # a second socket changes nothing
    assert (await watch(watcher, bob.id))["statuses"] == {bob.id: "online"}
    await bob_tablet.disconnect()
    await asyncio.sleep(0.3)
    assert events.items == [{"user_id": bob.id, "online": True}]

    # Hiding one's presence reads as offline at once, and in every later ack.
    hide = {"hide_presence": True}
    r = await api.put("/v1/me/notification-settings", token=bob.token, json=hide)
    assert r.status == 200, await r.text()
    await until(events, {"user_id": bob.id, "online": False})
    assert (await watch(watcher, bob.id))["statuses"] == {bob.id: "offline"}
    r = await api.put("/v1/me/notification-settings", token=bob.token, json={})
    assert r.status == 200, await r.text()
    await events.wait_for(3)
    assert events.items[-1] == {"user_id": bob.id, "online": True}

    await bob_phone.disconnect()
    await events.wait_for(4)
    assert events.items[-1] == {"user_id": bob.id, "online": False}
    assert all(e["user_id"] == bob.id for e in events.items)

    # An accepted follow makes the private account watchable.
    r = await api.put(f"/v1/users/{cat.username}/follow", token=ann.token)
    assert r.status == 200, await r.text()
    assert (await watch(watcher, cat.id))["refused"] == [cat.id]
    await _accept(api, cat, ann)
    assert (await watch(watcher, cat.id))["statuses"] == {cat.id: "online"}
    cat_tablet = await sio_connect(cat.token)
    await cat_phone.disconnect()
    await cat_tablet.disconnect()
    await until(events, {"user_id": cat.id, "online": False})

    # Unfollowing the private account stops its presence reaching the watcher.
    cat_phone = await sio_connect(cat.token)
    await until(events, {"user_id": cat.id, "online": True})
    r = await api.delete(f"/v1/users/{cat.username}/follow", token=ann.token)
    assert r.status in (200, 204), await r.text()
    seen = len(events.items)
    await asyncio.sleep(1.0)  # the access check reaches every process
    await cat_phone.disconnect()
    await asyncio.sleep(0.5)
    assert len(events.items) == seen, events.items[seen:]
    assert (await watch(watcher, cat.id))["refused"] == [cat.id]


async def _accept(api: Api, owner: User, follower: User) -> None:
    r = await api.get("/v1/me/follow-requests", token=owner.token)
    [request] = [q for q in (await r.json())["items"] if q["user"]["id"] == follower.id]
    r = await api.post(f"/v1/me/follow-requests/{request['id']}/accept", token=owner.token)
    assert r.status in (200, 204), await r.text()


async def test_a_killed_web_process_takes_its_sockets_offline_within_45_s(
    settings: Settings, tmp_path: Path
) -> None:
    stack = Stack(settings, logdir=tmp_path)
    clients: list[socketio.AsyncClient] = []
    try:
        first, second = await stack.web(), await stack.web()
        assert first.base and second.base
        async with aiohttp.ClientSession() as http:
            api = Api(session=http, base=first.base, settings=settings)
            ann, bob = await api.register("ann"), await api.register("bob")
        for user, base in ((ann, first.base), (bob, second.base)):
            client = socketio.AsyncClient(reconnection=False)
            await client.connect(base, auth={"token": user.token}, transports=["websocket"])
            clients.append(client)
        events = EventLog(clients[0], "presence")
        assert (await watch(clients[0], bob.id))["statuses"] == {bob.id: "online"}

        await second.stop(signal.SIGKILL)
        killed = time.monotonic()
        await until(events, {"user_id": bob.id, "online": False}, timeout=45)
        assert time.monotonic() - killed < 45
        redis = Redis.from_url(settings.redis_url)
        try:
            bob_id, ann_id = uuid.UUID(bob.id), uuid.UUID(ann.id)
            assert await online(redis, settings, [bob_id, ann_id]) == [False, True]
        finally:
            await redis.aclose()
    finally:
        await _close(clients, stack)


async def test_sockets_coming_back_together_are_announced_once_each_on_another_process(
    settings: Settings, tmp_path: Path
) -> None:
    """Connects of one moment share their round trips (realtime/batch.py) and their
    announcements go to the bus in one pipeline: each user still comes online once, seen by a
    watcher on another process, and one who hides their presence is not announced."""
    stack = Stack(settings, logdir=tmp_path)
    clients: list[socketio.AsyncClient] = []
    try:
        first, second = await stack.web(), await stack.web()
        assert first.base and second.base
        async with aiohttp.ClientSession() as http:
            api = Api(session=http, base=first.base, settings=settings)
            ann = await api.register("ann")
            others = [await api.register(f"user{i}") for i in range(8)]
            r = await api.put(
                "/v1/me/notification-settings", token=others[0].token, json={"hide_presence": True}
            )
            assert r.status == 200, await r.text()
        watcher = socketio.AsyncClient(reconnection=False)
        await watcher.connect(first.base, auth={"token": ann.token}, transports=["websocket"])
        clients.append(watcher)
        events = EventLog(watcher, "presence")
        await watch(watcher, *(u.id for u in others))

        async def connect(user: User) -> None:
            client = socketio.AsyncClient(reconnection=False)
            clients.append(client)
            await client.connect(second.base, auth={"token": user.token}, transports=["websocket"])

        await asyncio.gather(*(connect(u) for u in others))
        for user in others[1:]:
            await until(events, {"user_id": user.id, "online": True})
        await asyncio.sleep(0.5)
        seen = [e["user_id"] for e in events.items if e["online"]]
        assert sorted(seen) == sorted(u.id for u in others[1:])  # once each, not the hidden one
    finally:
        await _close(clients, stack)
