"""Fit map jobs: the avatar coloured by how a garment size fits it, as a GLB with vertex colours
and a PNG preview, stored beside the avatar's own files (so deleting the account removes them);
and the live map, per-vertex ease over the live session's mesh, pushed as `avatar:fitmap`."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg

from db import avatars as db_avatars
from db import fit as db_fit
from drape import avatar_live as live
from drape import fit
from workers.avatar import live_state
from workers.avatar.fitmap import SCALE_CM, FitMap, build_fit_map, ease_b64, fit_map
from workers.jobs import JobRun, PermanentJobError, tracked


def object_keys(
    user_id: uuid.UUID, avatar_id: uuid.UUID, revision: int, chart_id: uuid.UUID, size: str
) -> tuple[str, str]:
    label = "".join(c if c.isalnum() else "_" for c in size)
    base = f"avatars/{user_id}/{avatar_id}/fit/r{revision}-{chart_id}-{label}"
    return f"{base}.glb", f"{base}.png"


@tracked
async def fit_map_build(run: JobRun) -> dict[str, Any]:
    avatar_id, chart_id = uuid.UUID(run.args["avatar_id"]), uuid.UUID(run.args["chart_id"])
    assert run.user_id is not None
    avatar = await db_avatars.get_own(run.pool, avatar_id, run.user_id)
    base = await db_avatars.live_base(run.pool, avatar_id)
    row = await db_fit.readable_chart(run.pool, chart_id, run.user_id)
    if avatar is None or base is None or row is None:
        raise PermanentJobError("the avatar is not built, or the chart is gone")
    chart = fit.parse_chart(row["chart"])
    offset = await db_fit.user_offset(run.pool, run.user_id, db_fit.brand_key(row))
    rec = fit.recommend(
        chart, avatar["measured"], offset=offset + float(row["bias"]), size=run.args.get("size")
    )
    if rec.size is None:
        raise PermanentJobError(f"no size to map: {rec.abstain_reason}")
    built = await asyncio.to_thread(
        build_fit_map, base["params"], rec, chart.category, chart.subcategory
    )
    store = run.ctx["store"]
    mesh_key, preview_key = object_keys(
        run.user_id, avatar_id, avatar["revision"], chart_id, rec.size
    )
    await store.put(mesh_key, built.glb, "model/gltf-binary")
    await store.put(preview_key, built.preview_png, "image/png")
    return {
        "avatar_id": str(avatar_id),
        "revision": avatar["revision"],
        "chart_id": str(chart_id),
        **fit.recommendation_json(rec),
        "mesh_key": mesh_key,
        "preview_key": preview_key,
        "mesh_url": await store.url(mesh_key),
        "preview_url": await store.url(preview_key),
    }


async def avatar_fit_live(ctx: dict[str, Any], avatar_id: str, request: dict[str, Any]) -> str:
    """How one size fits the live session's latest body: the recommendation against its
    measurements and the per-vertex ease over its mesh (the build's base moved by the live
    morph weights), emitted as `avatar:fitmap`. `request` was authorized by the web process:
    {user_id, request_id, chart_id, chart, offset, size}."""
    base = await db_avatars.live_base(ctx["pool"], uuid.UUID(avatar_id))
    if base is None or str(base["user_id"]) != request["user_id"]:
        return "not ready"
    current = await live.latest(ctx["redis"], avatar_id)
    chart = fit.parse_chart(request["chart"])
    m, rec, revision = await asyncio.to_thread(_live_map, base["params"], current, chart, request)
    payload: dict[str, Any] = {
        "avatar_id": avatar_id,
        "request_id": request["request_id"],
        "revision": revision,
        "chart_id": request["chart_id"],
        **fit.recommendation_json(rec),
    }
    if m is not None:
        payload.update(vertex_count=len(m.ease_cm), ease_half_cm_b64=ease_b64(m), scale_cm=SCALE_CM)
    await ctx["emitter"].to_user(base["user_id"], "avatar:fitmap", payload)
    return "sent"


def _live_map(
    params: dict[str, Any],
    current: tuple[int, dict[str, Any]] | None,
    chart: fit.Chart,
    request: dict[str, Any],
) -> tuple[FitMap | None, fit.Recommendation, int | None]:
    weights: dict[str, float] | None = None
    body = params["measured_cm"]
    if current is not None:
        state = current[1]
        weights, body = live_state(params, state["measurements"], state["customization"])
    rec = fit.recommend(chart, body, offset=request["offset"], size=request.get("size"))
    if rec.size is None:
        return None, rec, current[0] if current else None
    m = fit_map(params, rec, chart.category, chart.subcategory, weights)
    return m, rec, current[0] if current else None


async def add_sizes(pool: asyncpg.Pool, user_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
    """Give each outfit item whose garment has a size chart (its own, or its brand's in the
    catalogue) the size that fits the user's primary avatar: item["size"] = {label,
    confidence, chart_id}. Items stay as they are where the avatar or the chart says nothing."""
    ids = {i["garment_id"] for r in rows for i in r["items"]}
    if not ids:
        return
    charts = await db_fit.charts_of_garments(pool, user_id, [uuid.UUID(g) for g in ids])
    avatar = await db_avatars.get_primary(pool, user_id) if charts else None
    if avatar is None:
        return
    body = avatar["measured"] if avatar["status"] == "ready" else avatar["measurements"]
    offsets = await db_fit.user_offsets(pool, user_id)
    sizes: dict[str, dict[str, Any]] = {}
    for c in charts:
        offset = offsets.get(db_fit.brand_key(c), 0.0) + float(c["bias"])
        rec = fit.recommend(fit.parse_chart(c["chart"]), body, offset=offset)
        if rec.size is not None:
            sizes[str(c["garment_id"])] = {
                "label": rec.size, "confidence": rec.confidence, "chart_id": str(c["id"]),
            }  # fmt: skip
    for r in rows:
        for item in r["items"]:
            if item["garment_id"] in sizes:
                item["size"] = sizes[item["garment_id"]]
