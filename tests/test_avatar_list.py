"""My avatars: the list, deleting one with its stored objects, choosing the primary one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from server.context import STORE
from tests.conftest import Api, RunningApp
from tests.wardrobe_helpers import quick_users

BODY = {"height": 172, "bust": 92, "waist": 74, "hips": 100, "inseam": 79}


async def _ok(r: Any, status: int = 200) -> Any:
    assert r.status == status, await r.text()
    return await r.json() if status != 204 else None


async def _keys(server: RunningApp, prefix: str) -> list[str]:
    return [k async for k in server.app[STORE].keys(prefix)]


async def test_list_delete_and_choose_the_primary_avatar(
    api: Api, pool: asyncpg.Pool, server: RunningApp, run_jobs: Callable[[], Awaitable[int]]
) -> None:
    [me] = await quick_users(api, pool, "modeller")
    made = []
    for name in ("first", "second", "third"):
        r = await api.post("/v1/avatars", token=me.token, json={"measurements": BODY, "name": name})
        made.append((await _ok(r, 202))["avatar"]["id"])
    await run_jobs()
    first, second, third = made

    page = await _ok(await api.get("/v1/avatars", token=me.token, params={"limit": 2}))
    assert [a["id"] for a in page["items"]] == [third, second]
    assert all(a["status"] == "ready" and a["mesh_url"] for a in page["items"])
    rest = await _ok(
        await api.get("/v1/avatars", token=me.token, params={"cursor": page["next_cursor"]})
    )
    assert [a["id"] for a in rest["items"]] == [first] and rest["next_cursor"] is None
    assert (await _ok(await api.get("/v1/me/avatar", token=me.token)))["id"] == first

    # Choosing the primary one.
    chosen = await _ok(await api.put(f"/v1/avatars/{second}/primary", token=me.token))
    assert chosen["is_primary"] is True
    assert (await _ok(await api.get("/v1/me/avatar", token=me.token)))["id"] == second
    flags = {
        a["id"]: a["is_primary"]
        for a in (await _ok(await api.get("/v1/avatars", token=me.token)))["items"]
    }
    assert flags == {first: False, second: True, third: False}

    # Deleting one removes its row and every object it had.
    assert await _keys(server, f"avatars/{me.id}/{first}/")
    await _ok(await api.delete(f"/v1/avatars/{first}", token=me.token), 204)
    assert await _keys(server, f"avatars/{me.id}/{first}/") == []
    assert await _keys(server, f"avatars/{me.id}/{second}/")
    assert (await api.get(f"/v1/avatars/{first}", token=me.token)).status == 404
    assert (await api.delete(f"/v1/avatars/{first}", token=me.token)).status == 404

    # Deleting the primary one hands the part to the newest left.
    await _ok(await api.delete(f"/v1/avatars/{second}", token=me.token), 204)
    assert (await _ok(await api.get("/v1/me/avatar", token=me.token)))["id"] == third
    await _ok(await api.delete(f"/v1/avatars/{third}", token=me.token), 204)
    assert (await api.get("/v1/me/avatar", token=me.token)).status == 404
    assert await _keys(server, f"avatars/{me.id}/") == []


async def test_someone_elses_avatars_are_out_of_reach(
    api: Api, pool: asyncpg.Pool, server: RunningApp
) -> None:
    me, other = await quick_users(api, pool, "owner", "intruder")
    r = await api.post("/v1/avatars", token=me.token, json={"measurements": BODY})
    mine = (await _ok(r, 202))["avatar"]["id"]
    assert (await _ok(await api.get("/v1/avatars", token=other.token)))["items"] == []
    assert (await api.put(f"/v1/avatars/{mine}/primary", token=other.token)).status == 404
    assert (await api.delete(f"/v1/avatars/{mine}", token=other.token)).status == 404
    assert (await api.delete("/v1/avatars/not-an-id", token=me.token)).status == 404
    assert (await api.get(f"/v1/avatars/{mine}", token=me.token)).status == 200
    assert (await api.get("/v1/avatars", token=me.token, params={"limit": 0})).status == 422
    assert (await api.get("/v1/avatars")).status == 401
    assert (await api.delete(f"/v1/avatars/{mine}")).status == 401
