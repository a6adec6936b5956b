"""Avatar3D: ask for a body made from measurements; the mesh is built by a worker."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from aiohttp import web
from pydantic import BaseModel, Field

from db import avatars as db_avatars
from db import jobs as db_jobs
from drape.avatar_inputs import AvatarInputError, normalize_customization, validate_measurements
from realtime.schemas import Avatar
from server import ratelimit
from server.auth import user_id
from server.context import ARQ, POOL, STORE
from server.errors import Problem, not_found
from server.openapi import endpoint
from server.params import json_response, path_uuid
from server.routes.jobs import Job
from server.routes.users import Input

Measurements = Annotated[dict[str, float], Field(max_length=20)]
Customization = Annotated[dict[str, str], Field(max_length=10)]


class AvatarIn(Input):
    measurements: Measurements
    customization: Customization = {}
    name: Annotated[str, Field(min_length=1, max_length=60)] = "My avatar"


class AvatarPatch(Input):
    measurements: Measurements | None = None
    customization: Customization | None = None
    name: Annotated[str, Field(min_length=1, max_length=60)] | None = None


class AvatarAccepted(BaseModel):
    avatar: Avatar
    job: Job


def checked(measurements: dict[str, float], customization: dict[str, str]) -> tuple[dict, dict]:
    """Both validated together (plausibility depends on the body shape); 422 names the field."""
    try:
        custom = normalize_customization(customization)
        return validate_measurements(measurements, custom), custom
    except AvatarInputError as e:
        raise Problem(
            422, str(e), title="Validation failed", errors=e.as_problem_errors()
        ) from None


async def _build(request: web.Request, row: asyncpg.Record) -> web.Response:
    job = await db_jobs.enqueue(
        request.app[POOL],
        request.app[ARQ],
        function="avatar_build",
        kind="avatar",
        user_id=row["user_id"],
        args={"avatar_id": str(row["id"]), "revision": row["revision"]},
        dedupe_key=f"avatar:{row['id']}:{row['revision']}",
    )
    avatar = await db_avatars.avatar_json(row, request.app[STORE])
    body = {"avatar": avatar, "job": db_jobs.job_json(job)}
    return json_response(body, 202)


@endpoint(
    "Make an avatar from body measurements (cm)",
    tags=["avatar"],
    body=AvatarIn,
    response=AvatarAccepted,
    status=202,
    limit=ratelimit.Action.JOB,
)
async def create_avatar(request: web.Request, body: AvatarIn) -> web.Response:
    measurements, custom = checked(body.measurements, body.customization)
    row = await db_avatars.create_avatar(
        request.app[POOL],
        user_id(request),
        name=body.name,
        measurements=measurements,
        customization=custom,
    )
    return await _build(request, row)


@endpoint("One of my avatars", tags=["avatar"], response=Avatar, errors=(404,))
async def get_avatar(request: web.Request) -> web.Response:
    row = await db_avatars.get_own(
        request.app[POOL], path_uuid(request, "id", "avatar"), user_id(request)
    )
    if row is None:
        raise not_found("avatar")
    return json_response(await db_avatars.avatar_json(row, request.app[STORE]))


@endpoint(
    "Change an avatar: new measurements or customization rebuild it (202)",
    tags=["avatar"],
    body=AvatarPatch,
    response=Avatar,  # a new name only
    extra_responses={202: AvatarAccepted},  # a rebuild
    errors=(404, 429),
)
async def patch_avatar(request: web.Request, body: AvatarPatch) -> web.Response:
    pool, uid = request.app[POOL], user_id(request)
    avatar_id = path_uuid(request, "id", "avatar")
    row = await db_avatars.get_own(pool, avatar_id, uid)
    if row is None:
        raise not_found("avatar")
    if body.measurements is None and body.customization is None:
        if body.name is not None:
            row = await db_avatars.rename(pool, avatar_id, uid, body.name)
        return json_response(await db_avatars.avatar_json(row, request.app[STORE]))
    await ratelimit.check(request, ratelimit.Action.JOB, uid)
    measurements, custom = checked(
        {**row["measurements"], **(body.measurements or {})},
        {**row["customization"], **(body.customization or {})},
    )
    row = await db_avatars.request_change(
        pool, avatar_id, uid, measurements=measurements, customization=custom, name=body.name
    )
    return await _build(request, row)


@endpoint(
    "Build an avatar again (after a failure)",
    tags=["avatar"],
    response=AvatarAccepted,
    status=202,
    errors=(404,),
    limit=ratelimit.Action.JOB,
)
async def rebuild_avatar(request: web.Request) -> web.Response:
    row = await db_avatars.get_own(
        request.app[POOL], path_uuid(request, "id", "avatar"), user_id(request)
    )
    if row is None:
        raise not_found("avatar")
    return await _build(request, row)


@endpoint("My primary avatar", tags=["avatar"], response=Avatar, errors=(404,))
async def my_avatar(request: web.Request) -> web.Response:
    row = await db_avatars.get_primary(request.app[POOL], user_id(request))
    if row is None:
        raise not_found("avatar")
    return json_response(await db_avatars.avatar_json(row, request.app[STORE]))
