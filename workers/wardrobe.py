"""Wardrobe jobs: a garment's dominant colours, read from its image."""

from __future__ import annotations

import asyncio
import io
import uuid
from typing import Any, Final

import numpy as np
from arq import Retry
from PIL import Image

from db import garments as db_garments
from drape.storage import ObjectNotFound, ObjectStore
from workers.jobs import JobRun, tracked
from workers.recommend.color import dominant_colors

CLUSTERS: Final = 5
MAX_COLORS: Final = 3
# Below this share of the garment's pixels a colour is trim or noise, not "a colour of it".
MIN_SHARE: Final = 0.08
SAMPLE_SIDE: Final = 160
# How often the image may change under a running job before it gives up for a later try.
ATTEMPTS: Final = 3


def palette(data: bytes) -> list[dict[str, Any]]:
    """The main colours of an encoded image: k-means clusters in CIELAB merged by family (two
    shades of one red are one colour to a wardrobe), largest first, small ones dropped."""
    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", (SAMPLE_SIDE, SAMPLE_SIDE))
        rgba = im.convert("RGBA")
    rgba.thumbnail((SAMPLE_SIDE, SAMPLE_SIDE))
    pixels = np.asarray(rgba).reshape(-1, 4)
    merged: dict[str, dict[str, Any]] = {}
    for c in dominant_colors(pixels, CLUSTERS):
        if c["family"] in merged:
            merged[c["family"]]["share"] += c["share"]
        else:
            merged[c["family"]] = dict(c)
    ranked = sorted(merged.values(), key=lambda c: -c["share"])
    return [
        {"hex": c["hex"], "family": c["family"], "share": round(c["share"], 3)}
        for c in ranked[:MAX_COLORS]
        if c["share"] >= MIN_SHARE
    ]


@tracked
async def garment_colors(run: JobRun) -> dict[str, Any]:
    """Set the colours of a garment that has an image and no colours of its owner's. Idempotent:
    the same image gives the same colours, and colours a user set meanwhile are kept."""
    garment_id = uuid.UUID(run.args["garment_id"])
    store: ObjectStore = run.ctx["store"]
    for _ in range(ATTEMPTS):
        row = await db_garments.get_for_colors(run.pool, garment_id)
        if row is None or row["image_key"] is None:
            return {"garment_id": str(garment_id), "colors": None, "skipped": "no image"}
        if row["colors"] and row["color_source"] == "user":
            return {"garment_id": str(garment_id), "colors": None, "skipped": "colours set by user"}
        try:
            data = await store.get(row["thumbnail_key"] or row["image_key"])
        except ObjectNotFound:
            continue  # replaced since the row was read: read it again
        except Exception as e:  # the store is unreachable or failing: a later try may do
            raise Retry(defer=2 * run.attempt) from e
        await run.progress(0.5)
        colors = await asyncio.to_thread(palette, data)
        if await db_garments.set_image_colors(run.pool, garment_id, row["image_key"], colors):
            return {"garment_id": str(garment_id), "colors": colors}
    raise Retry(defer=2 * run.attempt)
