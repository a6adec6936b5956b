"""Avatar jobs: the full build (fit, mesh, GLB, preview) and the live slider updates.

Object keys are derived from (avatar, revision), so a retried build overwrites its own objects
instead of leaving orphans, and a build that a newer request superseded removes what it wrote.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from db import avatars as db_avatars
from db import jobs as db_jobs
from drape import avatar_live as live
from workers.avatar import SLIDER_RANGE_CM, AvatarInputError, build_avatar, live_state
from workers.jobs import JobRun, PermanentJobError, tracked


def object_keys(user_id: uuid.UUID, avatar_id: uuid.UUID, revision: int) -> tuple[str, str]:
    base = f"avatars/{user_id}/{avatar_id}/r{revision}"
    return f"{base}.glb", f"{base}.png"


def mesh_variants(mesh_key: str) -> dict[str, str]:
    """Keys stored beside a build's GLB (meshopt-compressed): the same body uncompressed, for
    tools without a meshopt decoder, and the light mesh. Derived from the GLB's key, so a
    replaced or superseded build removes them with it."""
    base = mesh_key.removesuffix(".glb")
    return {"mesh_plain_url": f"{base}.plain.glb", "mesh_lod_url": f"{base}.lod.glb"}


@tracked
async def avatar_build(run: JobRun) -> dict[str, Any]:
    avatar_id, revision = uuid.UUID(run.args["avatar_id"]), int(run.args["revision"])
    row = await db_avatars.for_build(run.pool, avatar_id)
    if row is None or row["revision"] != revision:
        return {"avatar_id": str(avatar_id), "revision": revision, "superseded": True}
    await db_avatars.mark_processing(run.pool, avatar_id, revision)
    try:
        built = await asyncio.to_thread(build_avatar, row["measurements"], row["customization"])
    except AvatarInputError as e:
        await db_avatars.mark_failed(run.pool, avatar_id, revision, str(e))
        raise PermanentJobError(str(e)) from None
    await run.progress(0.7)
    store = run.ctx["store"]
    mesh_key, preview_key = object_keys(row["user_id"], avatar_id, revision)
    variants = mesh_variants(mesh_key)
    await store.put(mesh_key, built.glb, "model/gltf-binary")
    await store.put(variants["mesh_plain_url"], built.glb_plain, "model/gltf-binary")
    await store.put(variants["mesh_lod_url"], built.glb_lod, "model/gltf-binary")
    await store.put(preview_key, built.preview_png, "image/png")
    saved, replaced = await db_avatars.mark_ready(
        run.pool,
        avatar_id,
        revision,
        mesh_key=mesh_key,
        preview_key=preview_key,
        measured=built.measured,
        landmarks=built.landmarks,
        params=built.params,
        morph_targets=built.morph_target_names,
        vertex_count=built.vertex_count,
        mesh_bytes=len(built.glb),
    )
    if saved is None:  # a newer request arrived while this one was being built
        for key in (mesh_key, preview_key, *variants.values()):
            await store.delete(key)
        return {"avatar_id": str(avatar_id), "revision": revision, "superseded": True}
    for key in replaced:
        await store.delete(key)
        if key.endswith(".glb"):
            for sibling in mesh_variants(key).values():
                await store.delete(sibling)
    await run.emitter.to_user(
        row["user_id"],
        "avatar:mesh",
        {
            "avatar_id": str(avatar_id),
            "revision": revision,
            "measured": built.measured,
            "mesh_url": await store.url(mesh_key),
            **{name: await store.url(key) for name, key in variants.items()},
            "preview_url": await store.url(preview_key),
            "morph_ranges_cm": SLIDER_RANGE_CM,
        },
    )
    return {
        "avatar_id": str(avatar_id),
        "revision": revision,
        "mesh_key": mesh_key,
        "mesh_bytes": len(built.glb),
        "timings_ms": built.timings_ms,
    }


async def avatar_live(ctx: dict[str, Any], avatar_id: str, revision: int) -> str:
    """Morph weights and measurements for one slider state, unless a newer state is waiting."""
    redis = ctx["redis"]
    current = await live.latest(redis, avatar_id)
    if current is None or current[0] > revision:
        return "coalesced"
    _, state = current
    base = await db_avatars.live_base(ctx["pool"], uuid.UUID(avatar_id))
    if base is None:
        return "not ready"
    try:
        weights, measured = await asyncio.to_thread(
            live_state, base["params"], state["measurements"], state["customization"]
        )
    except AvatarInputError as e:
        await ctx["emitter"].to_user(
            base["user_id"],
            "avatar:mesh",
            {"avatar_id": avatar_id, "revision": revision, "errors": e.as_problem_errors()},
        )
        return "invalid"
    if not await live.claim_emit(redis, avatar_id, revision):
        return "superseded"
    await ctx["emitter"].to_user(
        base["user_id"],
        "avatar:mesh",
        {
            "avatar_id": avatar_id,
            "revision": revision,
            "measured": measured,
            "morph_weights": weights,
            "morph_ranges_cm": base["params"].get("slider_range_cm"),
        },
    )
    return "sent"


async def avatar_commit(ctx: dict[str, Any], avatar_id: str, revision: int, user_id: str) -> str:
    """After a pause in the slider moves, store the latest state and rebuild the full GLB."""
    current = await live.latest(ctx["redis"], avatar_id)
    if current is None or current[0] != revision:
        return "a newer commit is scheduled"
    state = current[1]
    row = await db_avatars.request_change(
        ctx["pool"],
        uuid.UUID(avatar_id),
        uuid.UUID(user_id),
        measurements=state["measurements"],
        customization=state["customization"],
        at_least_revision=revision,
    )
    if row is None:
        return "gone"
    await db_jobs.enqueue(
        ctx["pool"],
        ctx["redis"],
        function="avatar_build",
        kind="avatar",
        user_id=row["user_id"],
        args={"avatar_id": avatar_id, "revision": row["revision"]},
        dedupe_key=f"avatar:{avatar_id}:{row['revision']}",
    )
    return "committed"
