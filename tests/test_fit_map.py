"""The fit map: a worker colours the avatar by how a size fits (GLB with COLOR_0 that the Khronos
glTF-Validator accepts, PNG preview), and the live session answers `avatar:fit` with per-vertex
ease over its current mesh."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import struct
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
import socketio

from tests.conftest import Api, EventLog, User

ROOT = Path(__file__).resolve().parents[1]
VALIDATE_JS = ROOT / "tools" / "gltf" / "validate.js"
BODY = {"height": 170, "bust": 90, "waist": 72, "hips": 98}
TOPS = {
    "category": "tops",
    "sizes": [
        {"label": label, "bust": [80 + 4 * i, 84 + 4 * i], "waist": [62 + 4 * i, 66 + 4 * i]}
        for i, label in enumerate(("XS", "S", "M", "L", "XL"))
    ],
}


async def _ready_avatar(api: Api, user: User, run_jobs: Callable[[], Awaitable[int]]) -> str:
    r = await api.post("/v1/avatars", token=user.token, json={"measurements": BODY})
    assert r.status == 202, await r.text()
    avatar_id = str((await r.json())["avatar"]["id"])
    await run_jobs()
    r = await api.get(f"/v1/avatars/{avatar_id}", token=user.token)
    assert (await r.json())["status"] == "ready"
    return avatar_id


async def _chart(api: Api, user: User) -> str:
    r = await api.post("/v1/size-charts", token=user.token, json={**TOPS, "brand": "Acme"})
    assert r.status == 201, await r.text()
    return str((await r.json())["id"])


def _validate(path: Path) -> dict[str, Any]:
    if shutil.which("node") is None:
        pytest.skip("node is not on PATH: the Khronos glTF-Validator runs on Node.js")
    out = subprocess.run(
        ["node", str(VALIDATE_JS), str(path)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode in (0, 1), out.stderr
    return dict(json.loads(out.stdout))


def _color_0(glb: bytes) -> np.ndarray:
    """(V, 4) COLOR_0 of the one primitive, read straight from the GLB's chunks."""
    (jlen,) = struct.unpack_from("<I", glb, 12)
    doc = json.loads(glb[20 : 20 + jlen])
    binary = glb[28 + jlen :]
    accessor = doc["accessors"][doc["meshes"][0]["primitives"][0]["attributes"]["COLOR_0"]]
    view = doc["bufferViews"][accessor["bufferView"]]
    assert accessor["componentType"] == 5121 and accessor["normalized"] is True
    start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    raw = np.frombuffer(binary, dtype=np.uint8, count=accessor["count"] * 4, offset=start)
    return raw.reshape(-1, 4).astype(np.float64)


async def test_the_fit_map_glb_is_coloured_and_valid(
    api: Api, run_jobs: Callable[[], Awaitable[int]], tmp_path: Path
) -> None:
    user, other = await api.register("fitter"), await api.register("nosy")
    cid = await _chart(api, user)
    r = await api.post("/v1/fit/map", token=user.token, json={"chart_id": cid})
    assert r.status == 409, await r.text()  # no avatar built yet
    await _ready_avatar(api, user, run_jobs)
    r = await api.post("/v1/fit/map", token=user.token, json={"chart_id": cid, "size": "XXS"})
    assert r.status == 422 and (await r.json())["errors"][0]["field"] == "size"
    r = await api.post("/v1/fit/map", token=other.token, json={"garment_id": cid})
    assert r.status == 404

    maps = {}
    for size in ("XS", "XL"):
        r = await api.post("/v1/fit/map", token=user.token, json={"chart_id": cid, "size": size})
        assert r.status == 202, await r.text()
        job_id = (await r.json())["job"]["id"]
        await run_jobs()
        job = await (await api.get(f"/v1/jobs/{job_id}", token=user.token)).json()
        assert job["status"] == "done", job
        maps[size] = job["result"]
    assert maps["XS"]["size"] == "XS"
    assert {d["name"]: d["label"] for d in maps["XS"]["dimensions"]} == {
        "bust": "tight",
        "waist": "tight",
    }
    colours = {}
    async with aiohttp.ClientSession() as http:
        for size, result in maps.items():
            async with http.get(result["mesh_url"]) as resp:
                glb = await resp.read()
            async with http.get(result["preview_url"]) as resp:
                assert (await resp.read())[:8] == b"\x89PNG\r\n\x1a\n"
            path = tmp_path / f"fit-{size}.glb"
            path.write_bytes(glb)
            report = _validate(path)
            assert report["issues"]["numErrors"] == 0, report["issues"]["messages"][:5]
            assert report["issues"]["numWarnings"] == 0, report["issues"]["messages"][:5]
            colours[size] = _color_0(glb)
    # The same vertices: red dominates the covered torso in XS, blue in XL; uncovered is grey.
    xs, xl = colours["XS"], colours["XL"]
    assert xs.shape == xl.shape
    covered = np.abs(xs[:, 0] - xs[:, 2]) > 30
    assert 0.1 < covered.mean() < 0.8
    assert (xs[covered, 0] > xs[covered, 2]).mean() > 0.95
    assert (xl[covered, 2] > xl[covered, 0]).mean() > 0.95


async def test_the_live_session_answers_avatar_fit_with_the_map(
    api: Api,
    run_jobs: Callable[[], Awaitable[int]],
    live_worker: object,
    sio_connect: Callable[..., Awaitable[socketio.AsyncClient]],
) -> None:
    user, other = await api.register("liveone"), await api.register("intruder")
    avatar_id = await _ready_avatar(api, user, run_jobs)
    cid = await _chart(api, user)
    r = await api.post("/v1/garments", token=other.token, json={"name": "x", "category": "tops"})
    theirs = (await r.json())["id"]
    await api.put(f"/v1/garments/{theirs}/size-chart", token=other.token, json=TOPS)

    client = await sio_connect(user.token)
    maps = EventLog(client, "avatar:fitmap")
    ask = {"avatar_id": avatar_id, "chart_id": cid}
    early = await client.call("avatar:fit", ask, timeout=5)
    assert early["ok"] is False and early["error"]["code"] == "no_session", early
    opened = await client.call("avatar:session", {"avatar_id": avatar_id}, timeout=5)
    assert opened["ok"] is True
    refused = await client.call(
        "avatar:fit", {"avatar_id": avatar_id, "garment_id": theirs}, timeout=5
    )
    assert refused["ok"] is False and refused["error"]["code"] == "not_found", refused

    ack = await client.call("avatar:fit", ask, timeout=5)
    assert ack["ok"] is True and ack["sizes"] == ["XS", "S", "M", "L", "XL"], ack
    (first,) = await maps.wait_for(1, timeout=10)
    assert first["request_id"] == ack["request_id"] and first["size"] == "M", first
    ease = np.frombuffer(base64.b64decode(first["ease_half_cm_b64"]), dtype=np.int8)
    assert len(ease) == first["vertex_count"] and (ease != -128).any()

    # A slider move widens the waist and bust; the next map is of that body, on its mesh.
    moved = await client.call(
        "avatar:set",
        {"avatar_id": avatar_id, "measurements": {"bust": 96, "waist": 78}},
        timeout=5,
    )
    assert moved["ok"] is True
    ack = await client.call("avatar:fit", {**ask, "size": "M"}, timeout=5)
    assert ack["ok"] is True
    await maps.wait_for(2, timeout=10)
    second = maps.items[1]
    assert second["revision"] == moved["revision"] and second["size"] == "M", second
    labels = {d["name"]: d["label"] for d in second["dimensions"]}
    assert labels == {"bust": "tight", "waist": "tight"}
    tight = np.frombuffer(base64.b64decode(second["ease_half_cm_b64"]), dtype=np.int8)
    covered = (tight != -128) & (ease != -128)
    assert (tight[covered] < ease[covered]).mean() > 0.95

    spy = await sio_connect(other.token)
    assert (await spy.call("avatar:fit", ask, timeout=5))["ok"] is False
    await asyncio.sleep(0.2)
    assert len(maps.items) == 2
