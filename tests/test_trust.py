"""Access that ends when it should: sessions, sockets and live rooms follow the truth at once,
on this process and on others; sign-in throttling counts per account."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import socketio

from tests.conftest import Api, EventLog, User
from tests.social_helpers import new_comment, new_post

Connect = Callable[..., Awaitable[socketio.AsyncClient]]
PASSWORD = "correct horse battery"


async def _login(api: Api, login: str, password: str = PASSWORD) -> dict[str, Any]:
    r = await api.post("/v1/auth/login", json={"login": login, "password": password})
    assert r.status == 200, await r.text()
    return await r.json()  # type: ignore[no-any-return]


async def _ended(client: socketio.AsyncClient, log: EventLog, timeout: float = 1.0) -> Any:
    """The socket was told why and disconnected, within `timeout` seconds."""
    reasons = await log.wait_for(1, timeout=timeout)
    for _ in range(int(timeout / 0.05)):
        if not client.connected:
            break
        await asyncio.sleep(0.05)
    assert not client.connected
    return reasons[0]["reason"]


async def _subscribed(client: socketio.AsyncClient, post_id: str) -> None:
    ack = await client.call("subscribe", {"post_id": post_id}, timeout=5)
    assert ack["ok"], ack


# Finding 3: logout ends the session --------------------------------------------------------------


async def test_logout_refuses_the_access_token_and_ends_the_socket(
    api: Api, sio_connect: Connect
) -> None:
    await api.register("leaver")
    session = await _login(api, "leaver")
    token = session["access_token"]
    client = await sio_connect(token)
    ended = EventLog(client, "session:ended")
    r = await api.post("/v1/auth/logout", token=token)
    assert r.status == 204
    assert await _ended(client, ended) == "signed_out"
    r = await api.get("/v1/me", token=token)
    assert r.status == 401 and "signed out" in (await r.json())["detail"]
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio_connect(token)
    # Another session of the same account goes on.
    other = await _login(api, "leaver")
    assert (await api.get("/v1/me", token=other["access_token"])).status == 200


async def test_a_reused_refresh_token_ends_its_sessions_access_tokens(api: Api) -> None:
    await api.register("reuser")
    session = await _login(api, "reuser")
    first = session["refresh_token"]
    r = await api.post("/v1/auth/refresh", json={"refresh_token": first})
    assert r.status == 200
    rotated = await r.json()
    r = await api.post("/v1/auth/refresh", json={"refresh_token": first})  # a stolen copy
    assert r.status == 401
    for token in (session["access_token"], rotated["access_token"]):
        assert (await api.get("/v1/me", token=token)).status == 401


# Finding 2: live events stop where access stops -------------------------------------------------


async def test_unfollowing_a_private_account_stops_its_live_comments(
    api: Api, sio_connect: Connect
) -> None:
    owner = await api.register("closed")
    fan = await api.register("fan")
    assert (await api.patch("/v1/me", token=owner.token, json={"is_private": True})).status == 200
    assert (await api.put("/v1/users/fan/follow", token=owner.token)).status in (200, 201)
    await _accept(api, owner, fan)
    post_id = await new_post(api, owner)
    client = await sio_connect(fan.token)
    comments, left = EventLog(client, "post:comment"), EventLog(client, "post:unsubscribed")
    await _subscribed(client, post_id)
    await new_comment(api, owner, post_id, "before")
    await comments.wait_for(1)
    assert (await api.delete("/v1/users/closed/follow", token=fan.token)).status == 200
    assert (await left.wait_for(1, timeout=1.0))[0] == {"post_id": post_id, "reason": "access_lost"}
    await new_comment(api, owner, post_id, "after")
    await asyncio.sleep(0.3)
    assert [c["comment"]["body"] for c in comments.items] == ["before"]


async def _accept(api: Api, owner: User, follower: User) -> None:
    r = await api.put(f"/v1/users/{owner.username}/follow", token=follower.token)
    assert r.status in (200, 201, 202), await r.text()
    requests = await (await api.get("/v1/me/follow-requests", token=owner.token)).json()
    for item in requests["items"]:
        r = await api.post(f"/v1/me/follow-requests/{item['id']}/accept", token=owner.token)
        assert r.status in (200, 204), await r.text()


async def test_going_private_takes_strangers_out_of_the_post_rooms(
    api: Api, sio_connect: Connect
) -> None:
    owner = await api.register("opened")
    friend = await api.register("friend")
    stranger = await api.register("passerby")
    assert (await api.put("/v1/users/opened/follow", token=friend.token)).status in (200, 201)
    post_id = await new_post(api, owner)
    watchers = {}
    for who in (friend, stranger):
        client = await sio_connect(who.token)
        watchers[who.username] = (EventLog(client, "post:comment"), client)
        await _subscribed(client, post_id)
    assert (await api.patch("/v1/me", token=owner.token, json={"is_private": True})).status == 200
    await asyncio.sleep(0.5)
    await new_comment(api, owner, post_id, "private now")
    await watchers["friend"][0].wait_for(1)
    await asyncio.sleep(0.3)
    assert watchers["passerby"][0].items == []


# Finding 4: one lock per account, whatever name it is signed in by -------------------------------


async def test_the_sign_in_lock_is_per_account_not_per_login_string(api: Api) -> None:
    await api.register("guarded")
    for _ in range(5):
        r = await api.post("/v1/auth/login", json={"login": "guarded", "password": "wrong" * 3})
        assert r.status == 401
    by_email = {"login": "guarded@example.com", "password": PASSWORD}
    r = await api.post("/v1/auth/login", json=by_email)
    assert r.status == 429, await r.text()
    assert int(r.headers["Retry-After"]) > 0


# Password change and sessions --------------------------------------------------------------------


async def test_password_change_ends_every_other_session(api: Api, sio_connect: Connect) -> None:
    await api.register("changer")
    here, there = await _login(api, "changer"), await _login(api, "changer")
    client = await sio_connect(there["access_token"])
    ended = EventLog(client, "session:ended")
    body = {"current_password": PASSWORD, "new_password": "a much newer secret"}
    r = await api.post("/v1/me/password", token=here["access_token"], json=body)
    assert r.status == 204, await r.text()
    assert await _ended(client, ended) == "password_changed"
    assert (await api.get("/v1/me", token=there["access_token"])).status == 401
    assert (await api.get("/v1/me", token=here["access_token"])).status == 200
    r = await api.post("/v1/auth/refresh", json={"refresh_token": there["refresh_token"]})
    assert r.status == 401
    bad = {"current_password": "not it at all", "new_password": "another new secret"}
    r = await api.post("/v1/me/password", token=here["access_token"], json=bad)
    assert r.status == 403
    await _login(api, "changer", "a much newer secret")


async def test_sessions_are_listed_and_one_can_be_ended(api: Api) -> None:
    await api.register("devices")
    phone, laptop = await _login(api, "devices"), await _login(api, "devices")
    r = await api.get("/v1/me/sessions", token=phone["access_token"])
    assert r.status == 200
    items = (await r.json())["items"]
    assert len(items) == 3  # registering signed in too
    assert sum(item["current"] for item in items) == 1
    mine = next(i for i in items if i["current"])
    others = [i for i in items if not i["current"]]
    for other in others:
        r = await api.delete(f"/v1/me/sessions/{other['id']}", token=phone["access_token"])
        assert r.status == 204
    assert (await api.get("/v1/me", token=laptop["access_token"])).status == 401
    items = (await (await api.get("/v1/me/sessions", token=phone["access_token"])).json())["items"]
    assert [i["id"] for i in items] == [mine["id"]]
    stranger = await api.register("nosy")
    r = await api.delete(f"/v1/me/sessions/{mine['id']}", token=stranger.token)
    assert r.status == 404
    assert (await api.get("/v1/me", token=phone["access_token"])).status == 200


# Across processes --------------------------------------------------------------------------------


@pytest.mark.parametrize("cut", ["logout", "password_change", "unfollow"])
async def test_a_cut_on_one_process_ends_the_stream_on_another_within_a_second(
    api: Api, spawn_web: Callable[[], Awaitable[str]], sio_connect: Connect, cut: str
) -> None:
    other = await spawn_web()
    owner = await api.register(f"owner_{cut}")
    viewer = await api.register(f"viewer_{cut}")
    session = await _login(api, viewer.username)
    await api.patch("/v1/me", token=owner.token, json={"is_private": True})
    await _accept(api, owner, viewer)
    post_id = await new_post(api, owner)
    client = await sio_connect(session["access_token"], url=other)
    ended, left = EventLog(client, "session:ended"), EventLog(client, "post:unsubscribed")
    comments = EventLog(client, "post:comment")
    await _subscribed(client, post_id)
    token = session["access_token"]
    if cut == "logout":
        assert (await api.post("/v1/auth/logout", token=token)).status == 204
        assert await _ended(client, ended) == "signed_out"
    elif cut == "password_change":
        body = {"current_password": PASSWORD, "new_password": "brand new secret words"}
        assert (await api.post("/v1/me/password", token=viewer.token, json=body)).status == 204
        assert await _ended(client, ended) == "password_changed"
    else:
        path = f"/v1/users/{owner.username}/follow"
        assert (await api.delete(path, token=viewer.token)).status == 200
        assert (await left.wait_for(1, timeout=1.0))[0]["post_id"] == post_id
    await new_comment(api, owner, post_id)
    await asyncio.sleep(0.3)
    assert comments.items == []


def test_the_revocation_mirror_forgets_what_expired() -> None:
    from drape import access
    from drape.tokens import AccessClaims

    now = [0.0]
    mirror = access.Mirror(clock=lambda: now[0])
    sid, uid = uuid.uuid4(), uuid.uuid4()
    mirror.note(access.Ended(sessions=(str(sid),), reason="signed_out"), ttl=100)
    assert mirror.reason(AccessClaims(uid, sid, 0)) == "signed_out"
    assert mirror.reason(AccessClaims(uid, uuid.uuid4(), 0)) is None
    mirror.note(access.Ended(users=(str(uid),), reason="account_deleted"), ttl=100)
    assert mirror.reason(AccessClaims(uid, None, 0)) == "account_deleted"
    now[0] = 200.0  # both expired: a later note sweeps them even if nobody asks again
    mirror.note(access.Ended(sessions=("other",)), ttl=100)
    assert set(mirror.sessions) == {"other"} and mirror.users == {}
