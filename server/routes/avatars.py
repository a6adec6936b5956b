"""Avatar3D: ask for a body made from measurements; the mesh is built by a worker."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from aiohttp import web
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from db import avatars as db_avatars
from db import jobs as db_jobs
from drape.avatar_inputs import (
    HEIGHT_RATIO_RANGES,
    MEASUREMENT_RANGES,
    AvatarInputError,
    normalize_customization,
    validate_measurements,
)
from realtime.schemas import Avatar
from server import ratelimit
from server.auth import user_id
from server.context import ARQ, POOL, STORE
from server.errors import Problem, not_found
from server.openapi import endpoint
from server.params import cursor_values, json_response, next_cursor, path_uuid
from server.routes.jobs import Job
from server.routes.posts import PageQuery
from server.routes.users import Input


def _cm(name: str, what: str) -> Any:
    lo, hi = MEASUREMENT_RANGES[name]
    ratio = HEIGHT_RATIO_RANGES.get(name)
    also = f"; {ratio[0]:g}-{ratio[1]:g} x height" if ratio else ""
    return Field(
        None,
        description=f"{what}, cm ({lo:g}-{hi:g}{also}). Derived from height and the girths"
        " given when left out.",
        json_schema_extra={"minimum": lo, "maximum": hi},
    )


class AvatarMeasurements(Input):
    """Body measurements in centimetres. Only `height` is required: each one left out is
    derived from it (typical proportions of the body shape), girths scaled by the build of the
    girths given. A body can be refused over a derived value (say hips too narrow for a large
    waist): the error says so, and sending that measurement overrides it. `chest` is accepted
    for `bust`. Plausibility (ranges relative to height and to one another) is checked with the
    body shape, and each refusal names its field."""

    height: float = Field(
        description="Standing height, cm (120-220)",
        json_schema_extra={"minimum": 120, "maximum": 220},
    )
    bust: float | None = Field(
        None,
        validation_alias=AliasChoices("bust", "chest"),
        description="Bust or chest girth at its fullest, cm (60-170; 0.4-0.95 x height); `chest`"
        " is accepted as its name too",
        json_schema_extra={"minimum": 60, "maximum": 170},
    )
    underbust: float | None = _cm("underbust", "Girth just under the bust")
    waist: float | None = _cm("waist", "Natural waist girth")
    hips: float | None = _cm("hips", "Hip girth at its fullest")
    neck: float | None = _cm("neck", "Neck girth")
    shoulder_width: float | None = _cm("shoulder_width", "Shoulder point to shoulder point")
    arm_length: float | None = _cm("arm_length", "Shoulder point to wrist")
    inseam: float | None = _cm("inseam", "Crotch to floor")
    thigh: float | None = _cm("thigh", "Upper thigh girth")
    upper_arm: float | None = _cm("upper_arm", "Upper arm girth")
    calf: float | None = _cm("calf", "Calf girth")

    # Other names are refused by validate_measurements, which names each one and lists the
    # accepted names (a pydantic refusal could only blame "measurements").
    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": False})

    def given(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class MeasurementsPatch(AvatarMeasurements):
    """Measurements to change; the others keep their values."""

    height: float | None = Field(  # type: ignore[assignment]
        None,
        description="Standing height, cm (120-220)",
        json_schema_extra={"minimum": 120, "maximum": 220},
    )


Measurements = AvatarMeasurements
Customization = Annotated[dict[str, str], Field(max_length=10)]


class AvatarIn(Input):
    measurements: Measurements
    customization: Customization = {}
    name: Annotated[str, Field(min_length=1, max_length=60)] = "My avatar"


class AvatarPatch(Input):
    measurements: MeasurementsPatch | None = None
    customization: Customization | None = None
    name: Annotated[str, Field(min_length=1, max_length=60)] | None = None


class AvatarPage(BaseModel):
    items: list[Avatar]
    next_cursor: str | None


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
    measurements, custom = checked(body.measurements.given(), body.customization)
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
        {**row["measurements"], **(body.measurements.given() if body.measurements else {})},
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


@endpoint("My avatars, newest first", tags=["avatar"], query=PageQuery, response=AvatarPage)
async def list_avatars(request: web.Request, query: PageQuery) -> web.Response:
    before = cursor_values(query.cursor, datetime, uuid.UUID)
    rows = await db_avatars.list_mine(request.app[POOL], user_id(request), before, query.limit)
    store = request.app[STORE]
    items = [await db_avatars.avatar_json(r, store) for r in rows]
    return json_response({"items": items, "next_cursor": next_cursor(rows, query.limit)})


@endpoint(
    "Delete one of my avatars and its stored meshes and previews (if it was the primary one, "
    "the newest left becomes primary)",
    tags=["avatar"],
    status=204,
    errors=(404,),
)
async def delete_avatar(request: web.Request) -> web.Response:
    me, avatar_id = user_id(request), path_uuid(request, "id", "avatar")
    if not await db_avatars.delete_avatar(request.app[POOL], avatar_id, me):
        raise not_found("avatar")
    # Every revision's objects; a build still running finds its row gone and removes its own.
    store = request.app[STORE]
    async for key in store.keys(f"avatars/{me}/{avatar_id}/"):
        await store.delete(key)
    return web.Response(status=204)


@endpoint(
    "Make one of my avatars the primary one (the one GET /v1/me/avatar returns)",
    tags=["avatar"],
    response=Avatar,
    errors=(404,),
)
async def make_primary(request: web.Request) -> web.Response:
    row = await db_avatars.set_primary(
        request.app[POOL], path_uuid(request, "id", "avatar"), user_id(request)
    )
    if row is None:
        raise not_found("avatar")
    return json_response(await db_avatars.avatar_json(row, request.app[STORE]))
