"""GET /v1/jobs/{id}: the state of one of my background jobs."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field

from db import jobs as db_jobs
from server.auth import user_id
from server.context import POOL
from server.errors import not_found
from server.openapi import endpoint
from server.params import IdStr, Timestamp, path_uuid

JobStatus = Literal["queued", "running", "done", "failed"]


class PaletteColor(BaseModel):
    hex: str = Field(pattern=r"^#[0-9a-f]{6}$", description="sRGB, lower case")
    family: str = Field(description="Colour family name (drape vocabulary), e.g. navy")
    share: float | None = Field(None, ge=0, le=1, description="Share of the garment, 0-1")


class JobResult(BaseModel):
    """What a finished job hands back; which fields are present depends on `kind`."""

    # recommend
    batch_id: str | None = Field(None, description="recommend: GET /v1/recommendations batch")
    count: int | None = Field(None, ge=0, description="recommend: outfits made")
    requested: int | None = Field(None, ge=1, description="recommend: outfits asked for")
    reason: str | None = Field(
        None, description="recommend: why fewer outfits than asked came back (absent if none)"
    )
    garments: int | None = Field(None, ge=0, description="recommend, style_analysis: wardrobe size")
    # style_analysis
    analysis_id: str | None = Field(
        None, description="style_analysis: GET /v1/style-analysis/latest"
    )
    summary: str | None = Field(None, description="style_analysis: one or two sentences")
    # social (explore)
    posts: int | None = Field(None, ge=0, description="social: explore posts picked")
    people: int | None = Field(None, ge=0, description="social: people suggested")
    # avatar
    avatar_id: str | None = Field(None, description="avatar: the avatar built")
    revision: int | None = Field(None, ge=0, description="avatar: the revision built")
    mesh_key: str | None = Field(None, description="avatar: object key of the GLB")
    mesh_bytes: int | None = Field(None, ge=0, description="avatar: size of the GLB")
    timings_ms: dict[str, float] | None = Field(None, description="avatar: build steps, ms")
    superseded: bool | None = Field(
        None, description="avatar: a newer revision was asked for meanwhile; nothing stored"
    )
    # garment_colors
    garment_id: str | None = Field(None, description="garment_colors: the garment")
    colors: list[PaletteColor] | None = Field(None, description="garment_colors: found colours")
    skipped: str | None = Field(None, description="garment_colors: why nothing was done")
    # export
    download_url: str | None = Field(None, description="export: signed link to the ZIP")
    bytes: int | None = Field(None, ge=0, description="export: size of the ZIP")
    tables: int | None = Field(None, ge=0, description="export: tables exported")
    objects: int | None = Field(None, ge=0, description="export: images and meshes exported")
    # maintenance
    checked: int | None = Field(None, ge=0, description="maintenance: jobs checked")
    requeued: int | None = Field(None, ge=0, description="maintenance: jobs queued again")


class Job(BaseModel):
    id: IdStr
    kind: str = Field(
        description="avatar, recommend, style_analysis, social, garment_colors, export ..."
    )
    status: JobStatus = Field(description="queued -> running -> done | failed")
    progress: float = Field(ge=0, le=1)
    result: JobResult | None = Field(description="Set once done")
    error: str | None = Field(description="Set once failed")
    attempts: int = Field(ge=0)
    created_at: Timestamp
    started_at: Timestamp | None
    finished_at: Timestamp | None


@endpoint("A background job's state", tags=["jobs"], response=Job, errors=(404,))
async def get_job(request: web.Request) -> web.Response:
    row = await db_jobs.get_job(request.app[POOL], path_uuid(request, "id", "job"))
    if row is None or row["user_id"] != user_id(request):
        raise not_found("job")
    return web.json_response(db_jobs.job_json(row))
