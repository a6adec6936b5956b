"""Avatars through the API and real workers: build, retry, rebuild, live session."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import socketio

from tests.conftest import Api, EventLog, RunningApp, User

BODY = {"height": 172, "bust": 92, "waist": 74, "hips": 100, "inseam": 79}


async def _create(
    api: Api,
    user: User,
    run_jobs: Callable[[], Awaitable[int]],
    measurements: dict[str, float] | None = None,
) -> dict[str, Any]:
    r = await api.post(
        "/v1/avatars",
        token=user.token,
        json={"measurements": measurements or BODY, "customization": {"body_shape": "feminine"}},
    )
    assert r.status == 202, await r.text()
    body = await r.json()
    assert body["job"]["kind"] == "avatar" and body["avatar"]["status"] == "pending"
    await run_jobs()
    r = await api.get(f"/v1/avatars/{body['avatar']['id']}", token=user.token)
    assert r.status == 200
    return await r.json()


def _objects(store_root: Path) -> list[str]:
    return sorted(
        str(p.relative_to(store_root))
        for p in store_root.rglob("*")
        if p.is_file() and ".meta" not in p.parts
    )


@pytest.mark.parametrize(
    ("measurements", "field"),
    [
        ({"height": 120, "waist": 150}, "waist"),
        ({"height": 300}, "height"),
        ({"height": 170, "bust": 80, "underbust": 95}, "underbust"),
        ({"height": 170, "shoe_size": 42}, "shoe_size"),
    ],
)
async def test_implausible_bodies_are_refused_by_name(
    api: Api, pool: asyncpg.Pool, measurements: dict[str, float], field: str
) -> None:
    user = await api.register("tiny")
    r = await api.post("/v1/avatars", token=user.token, json={"measurements": measurements})
    assert r.status == 422, await r.text()
    assert field in [e["field"] for e in (await r.json())["errors"]]
    assert await pool.fetchval("SELECT count(*) FROM avatars") == 0
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 0


async def test_avatar_is_built_measured_and_stored(
    api: Api, run_jobs: Callable[[], Awaitable[int]]
) -> None:
    user = await api.register("model")
    avatar = await _create(api, user, run_jobs)
    assert avatar["status"] == "ready", avatar
    assert avatar["revision"] == 0 and avatar["is_primary"] is True
    for name, wanted in BODY.items():
        assert avatar["measured"][name] == pytest.approx(wanted, rel=0.005), name
        assert avatar["measurements"][name] == wanted
    assert set(avatar["landmarks"]) >= set(BODY)
    assert avatar["vertex_count"] >= 10_000 and 0 < avatar["mesh_bytes"] <= 400_000
    async with aiohttp.ClientSession() as http:
        async with http.get(avatar["mesh_url"]) as r:
            glb = await r.read()
        async with http.get(avatar["preview_url"]) as r:
            png = await r.read()
    assert glb[:4] == b"glTF" and len(glb) == avatar["mesh_bytes"]
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    me = await (await api.get("/v1/me/avatar", token=user.token)).json()
    assert me["id"] == avatar["id"]


async def test_failed_build_retried_leaves_no_duplicates_or_orphans(
    api: Api,
    pool: asyncpg.Pool,
    server: RunningApp,
    run_jobs: Callable[[], Awaitable[int]],
) -> None:
    user = await api.register("retry")
    r = await api.post("/v1/avatars", token=user.token, json={"measurements": BODY})
    avatar_id = (await r.json())["avatar"]["id"]
    # Corrupt the stored request behind the API's back: the build must fail, visibly.
    await pool.execute(
        "UPDATE avatars SET measurements = measurements || '{\"waist\": 400}' WHERE id = $1",
        uuid.UUID(avatar_id),
    )
    await run_jobs()
    failed = await (await api.get(f"/v1/avatars/{avatar_id}", token=user.token)).json()
    assert failed["status"] == "failed" and "waist" in failed["error"]
    job = await pool.fetchrow("SELECT status, error FROM jobs")
    assert job["status"] == "failed"

    r = await api.patch(
        f"/v1/avatars/{avatar_id}", token=user.token, json={"measurements": {"waist": 76}}
    )
    assert r.status == 202, await r.text()
    await run_jobs()
    r = await api.post(f"/v1/avatars/{avatar_id}/rebuild", token=user.token)
    assert r.status == 202
    await run_jobs()
    ready = await (await api.get(f"/v1/avatars/{avatar_id}", token=user.token)).json()
    assert ready["status"] == "ready" and ready["revision"] == 1
    assert ready["measured"]["waist"] == pytest.approx(76, rel=0.005)
    assert await pool.fetchval("SELECT count(*) FROM avatars") == 1
    root = Path(server.settings.object_store_url.removeprefix("file://"))
    assert _objects(root) == sorted(
        f"avatars/{user.id}/{avatar_id}/r1.{ext}" for ext in ("glb", "plain.glb", "lod.glb", "png")
    )

    r = await api.patch(
        f"/v1/avatars/{avatar_id}", token=user.token, json={"measurements": {"hips": 104}}
    )
    await run_jobs()
    assert _objects(root) == sorted(
        f"avatars/{user.id}/{avatar_id}/r2.{ext}" for ext in ("glb", "plain.glb", "lod.glb", "png")
    )


async def test_avatars_are_private(api: Api, run_jobs: Callable[[], Awaitable[int]]) -> None:
    owner, other = await api.register("owner"), await api.register("other")
    avatar = await _create(api, owner, run_jobs)
    for method, path, body in [
        ("GET", f"/v1/avatars/{avatar['id']}", None),
        ("PATCH", f"/v1/avatars/{avatar['id']}", {"name": "mine"}),
        ("POST", f"/v1/avatars/{avatar['id']}/rebuild", None),
    ]:
        assert (await api.request(method, path, json=body, token=other.token)).status == 404
        assert (await api.request(method, path, json=body, token="")).status == 401
    assert (await api.get("/v1/me/avatar", token=other.token)).status == 404
    assert (await api.post("/v1/avatars", token="", json={"measurements": BODY})).status == 401


async def test_live_session_coalesces_and_keeps_revisions_in_order(
    api: Api,
    run_jobs: Callable[[], Awaitable[int]],
    live_worker: object,
    sio_connect: Callable[..., Awaitable[socketio.AsyncClient]],
) -> None:
    user, other = await api.register("slider"), await api.register("peeker")
    avatar = await _create(api, user, run_jobs)
    client = await sio_connect(user.token)
    meshes = EventLog(client, "avatar:mesh")
    spy = await sio_connect(other.token)
    refused = await spy.call("avatar:session", {"avatar_id": avatar["id"]}, timeout=5)
    assert refused["ok"] is False
    assert (
        await spy.call("avatar:set", {"avatar_id": avatar["id"], "measurements": {}}, timeout=5)
    )["ok"] is False

    opened = await client.call("avatar:session", {"avatar_id": avatar["id"]}, timeout=5)
    assert opened["ok"] is True and opened["revision"] == 0 and opened["mesh_url"]

    acks = []
    for i in range(30):  # 30 updates within one second
        waist = 74 + i * 0.2
        acks.append(
            await client.call(
                "avatar:set",
                {"avatar_id": avatar["id"], "measurements": {"waist": waist}},
                timeout=5,
            )
        )
        await asyncio.sleep(1 / 30)
    assert all(a["ok"] for a in acks)
    revisions = [a["revision"] for a in acks]
    assert revisions == sorted(revisions) and len(set(revisions)) == 30
    last = revisions[-1]

    def received() -> list[int]:
        return [m["revision"] for m in meshes.items if "morph_weights" in m]

    for _ in range(100):
        if received() and received()[-1] == last:
            break
        await asyncio.sleep(0.05)
    got = received()
    assert got and got[-1] == last, got
    assert got == sorted(set(got)), "revisions never go backwards or repeat"
    final = next(m for m in meshes.items if m["revision"] == last and "morph_weights" in m)
    assert final["measured"]["waist"] == pytest.approx(74 + 29 * 0.2, rel=0.005)
    bad = await client.call(
        "avatar:set", {"avatar_id": avatar["id"], "measurements": {"waist": 500}}, timeout=5
    )
    assert bad["ok"] is False and bad["errors"][0]["field"] == "waist"

    # After the pause the full GLB is rebuilt at the last revision.
    for _ in range(200):
        if any("mesh_url" in m and m["revision"] == last for m in meshes.items):
            break
        await asyncio.sleep(0.05)
    built = [m for m in meshes.items if "mesh_url" in m]
    assert built and built[-1]["revision"] == last
    stored = await (await api.get(f"/v1/avatars/{avatar['id']}", token=user.token)).json()
    assert stored["revision"] == last and stored["status"] == "ready"
    assert stored["measurements"]["waist"] == pytest.approx(74 + 29 * 0.2)
