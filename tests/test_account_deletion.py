"""DELETE /v1/me: the account vanishes at once for everyone, then a purge job removes every row
and stored object that is the user's, on the local store and on the S3 server."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
import socketio

from server.context import ARQ, STORE
from tests.conftest import Api, EventLog, RunningApp, User

Connect = Callable[..., Awaitable[socketio.AsyncClient]]
PASSWORD = "correct horse battery"


@pytest.fixture(params=["local", "s3"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _ok(r: Any, *statuses: int) -> Any:
    assert r.status in (statuses or (200, 201)), await r.text()
    return await r.json() if r.content_type.endswith("json") else None


async def _life_of(
    api: Api, pool: asyncpg.Pool, server: RunningApp, user: User, other: User
) -> str:
    """A bit of everything a user makes; returns the id of the other user's post it touched."""
    t = user.token
    await _ok(await api.put("/v1/me/profile", token=t, json={"full_name": "Vic Tim"}))
    await _ok(
        await api.put("/v1/me/style-profile", token=t, json={"preferred_styles": ["classic"]})
    )
    garment = await _ok(
        await api.post("/v1/garments", token=t, json={"name": "tee", "category": "tops"})
    )
    items = [{"garment_id": garment["id"], "slot": "top"}]
    await _ok(await api.post("/v1/outfits", token=t, json={"name": "o", "items": items}))
    await _ok(await api.post("/v1/posts", token=t, json={"caption": "mine"}))
    theirs = await _ok(await api.post("/v1/posts", token=other.token, json={"caption": "theirs"}))
    await _ok(await api.put(f"/v1/posts/{theirs['id']}/like", token=t))
    body = {"body": "nice"}
    await _ok(await api.post(f"/v1/posts/{theirs['id']}/comments", token=t, json=body))
    await _ok(await api.put(f"/v1/users/{other.username}/follow", token=t))
    await _ok(await api.put(f"/v1/users/{user.username}/follow", token=other.token))
    await _ok(await api.post("/v1/recommendations", token=t, json={}), 202)
    store = server.app[STORE]
    for prefix in ("garments", "posts", "outfits", "avatars", "users"):
        await store.put(f"{prefix}/{user.id}/x/1.webp", b"data", "image/webp")
    await store.put(f"posts/{other.id}/keep/1.webp", b"theirs", "image/webp")
    return str(theirs["id"])


async def _rows_naming(pool: asyncpg.Pool, user_id: str) -> dict[str, int]:
    """Every uuid column of every table, walked from the schema: rows that still name the user."""
    columns = await pool.fetch(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = 'public' AND data_type = 'uuid'"
    )
    found = {}
    for c in columns:
        n = await pool.fetchval(
            f'SELECT count(*) FROM "{c["table_name"]}" WHERE "{c["column_name"]}" = $1',
            uuid.UUID(user_id),
        )
        if n:
            found[f"{c['table_name']}.{c['column_name']}"] = n
    return found


async def _keys(server: RunningApp, user_id: str) -> list[str]:
    keys = []
    async for key in server.app[STORE].keys(""):
        if f"/{user_id}/" in key:
            keys.append(key)
    return keys


async def test_a_deleted_account_vanishes_at_once_and_is_purged_whole(
    api: Api,
    pool: asyncpg.Pool,
    server: RunningApp,
    run_jobs: Callable[[], Awaitable[int]],
    sio_connect: Connect,
    store_kind: str,
) -> None:
    user, other = await api.register("victim"), await api.register("witness")
    post_id = await _life_of(api, pool, server, user, other)
    await run_jobs()
    client = await sio_connect(user.token)
    ended = EventLog(client, "session:ended")
    mine = await _ok(await api.get("/v1/posts", token=user.token, params={"author": "victim"}))
    watcher = await sio_connect(other.token)
    left = EventLog(watcher, "post:unsubscribed")
    ack = await watcher.call("subscribe", {"post_id": mine["items"][0]["id"]}, timeout=5)
    assert ack["ok"], ack
    assert await _rows_naming(pool, user.id)

    r = await api.request("DELETE", "/v1/me", token=user.token, json={"password": "wrong one"})
    assert r.status == 403
    assert (await api.get("/v1/users/victim", token=other.token)).status == 200

    r = await api.request("DELETE", "/v1/me", token=user.token, json={"password": PASSWORD})
    assert r.status == 202, await r.text()
    # At once: tokens and sockets end, the account is gone from others' view and counts.
    assert (await ended.wait_for(1, timeout=1.0))[0]["reason"] == "account_deleted"
    assert (await left.wait_for(1, timeout=1.0))[0]["reason"] == "access_lost"
    assert (await api.get("/v1/me", token=user.token)).status == 401
    assert (await api.get("/v1/users/victim", token=other.token)).status == 404
    post = await (await api.get(f"/v1/posts/{post_id}", token=other.token)).json()
    assert post["like_count"] == 0 and post["comment_count"] == 0
    comments = await (await api.get(f"/v1/posts/{post_id}/comments", token=other.token)).json()
    assert comments["items"] == []
    me = await (await api.get("/v1/users/witness", token=other.token)).json()
    assert me["follower_count"] == 0 and me["following_count"] == 0
    r = await api.post("/v1/auth/login", json={"login": "victim", "password": PASSWORD})
    assert r.status == 401

    await run_jobs()
    assert await _rows_naming(pool, user.id) == {}
    assert await _keys(server, user.id) == []
    assert await _keys(server, other.id) == [f"posts/{other.id}/keep/1.webp"]
    assert (await api.get(f"/v1/posts/{post_id}", token=other.token)).status == 200


async def test_the_purge_finishes_what_a_killed_run_left(
    api: Api, pool: asyncpg.Pool, server: RunningApp, run_jobs: Callable[[], Awaitable[int]]
) -> None:
    """A run that died halfway (objects partly removed, rows all there) is finished by the
    next one; running it again after that changes nothing."""
    from workers.account import purge_account, purge_deleted_accounts

    user, other = await api.register("halfway"), await api.register("bystander")
    await _life_of(api, pool, server, user, other)
    await run_jobs()
    r = await api.request("DELETE", "/v1/me", token=user.token, json={"password": PASSWORD})
    assert r.status == 202
    store = server.app[STORE]
    await store.delete(f"garments/{user.id}/x/1.webp")  # as far as the killed run got
    # Its queue entry lost too: the cron finds the account and queues the purge again.
    await pool.execute(
        "UPDATE users SET deleted_at = now() - interval '1 hour' WHERE id = $1", uuid.UUID(user.id)
    )
    ctx = {"pool": pool, "store": store, "redis": server.app[ARQ]}
    assert await purge_deleted_accounts(ctx) >= 1
    await run_jobs()
    assert await _rows_naming(pool, user.id) == {}
    assert await _keys(server, user.id) == []
    assert await purge_account(ctx, user.id) == {"objects": 0}


async def test_deleting_needs_the_owner(api: Api) -> None:
    user = await api.register("careful")
    r = await api.request("DELETE", "/v1/me", token=user.token, json={})
    assert r.status == 403
    r = await api.request("DELETE", "/v1/me", json={"password": PASSWORD})
    assert r.status == 401
    assert (await api.get("/v1/me", token=user.token)).status == 200


async def test_export_holds_every_table_and_object_of_mine_once_a_day(
    api: Api,
    pool: asyncpg.Pool,
    server: RunningApp,
    run_jobs: Callable[[], Awaitable[int]],
    store_kind: str,
) -> None:
    import io
    import json
    import zipfile

    import aiohttp

    user, other = await api.register("exporter"), await api.register("neighbour")
    await _life_of(api, pool, server, user, other)
    await run_jobs()
    r = await api.post("/v1/me/export", token=user.token)
    assert r.status == 202, await r.text()
    job = (await r.json())["job"]
    await run_jobs()
    state = await (await api.get(f"/v1/jobs/{job['id']}", token=user.token)).json()
    assert state["status"] == "done", state
    async with aiohttp.ClientSession() as http:
        async with http.get(state["result"]["download_url"]) as got:
            assert got.status == 200
            data = await got.read()
    z = zipfile.ZipFile(io.BytesIO(data))
    names = set(z.namelist())
    for table in ("users", "garments", "outfits", "posts", "likes", "comments", "user_profiles"):
        assert f"data/{table}.json" in names, names
    me = json.loads(z.read("data/users.json"))[0]
    assert me["username"] == "exporter" and "password_hash" not in me
    assert {row["caption"] for row in json.loads(z.read("data/posts.json"))} == {"mine"}
    assert f"objects/garments/{user.id}/x/1.webp" in names
    assert not any(other.id in n for n in names if n.startswith("objects/"))
    assert all(
        "token_hash" not in json.dumps(json.loads(z.read(n))) for n in names if n.endswith(".json")
    )
    r = await api.post("/v1/me/export", token=user.token)
    assert r.status == 429 and int(r.headers["Retry-After"]) > 80_000
