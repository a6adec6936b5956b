"""Size and fit: charts on garments and in the shared brand catalogue, the size to buy for the
user's primary avatar, and outcomes that teach a user's brand offset and a chart's bias."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, Field, StringConstraints, model_validator

from db import avatars as db_avatars
from db import fit as db_fit
from db import jobs as db_jobs
from db.common import KEYSET_TOP
from drape import fit, taxonomy
from realtime.schemas import FitDimension
from server import ratelimit
from server.auth import user_id
from server.context import ARQ, POOL
from server.errors import Problem, invalid, not_found
from server.openapi import endpoint
from server.params import cursor_values, json_response, next_cursor, path_uuid
from server.routes.jobs import Job
from server.routes.users import Input

Category = Literal[taxonomy.CATEGORY_NAMES]  # type: ignore[valid-type]
Brand = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
ChartName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)]
Cell = str | float | list[float]
Outcome = Literal[fit.OUTCOMES]  # type: ignore[valid-type]


class ChartDoc(Input):
    """Per size, body ranges [lowest, highest] cm (kind body) or garment measurements in cm
    (kind garment, with an ease class); measurement names as the avatar's."""

    kind: Literal["body", "garment"] = "body"
    category: Category
    subcategory: Annotated[str, Field(max_length=40)] | None = None
    ease: Literal[fit.EASE_CLASSES] | None = None  # type: ignore[valid-type]
    sizes: Annotated[list[dict[str, Cell]], Field(max_length=fit.MAX_SIZES)]


class ChartIn(ChartDoc):
    brand: Brand | None = None
    name: ChartName = ""


class CatalogueChartIn(ChartDoc):
    brand: Brand
    name: ChartName = ""


class SizeChart(BaseModel):
    id: str
    garment_id: str | None
    owner_id: str
    brand: str | None
    name: str
    category: str
    chart: ChartDoc
    bias: float  # sizes, learned from every user's outcomes
    outcome_count: int
    created_at: str
    updated_at: str


class SizeChartPage(BaseModel):
    items: list[SizeChart]
    next_cursor: str | None


class CatalogueQuery(Input):
    brand: Brand | None = None
    category: Category | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: str | None = None


class Target(Input):
    """Exactly one of a chart in the catalogue (or of mine), a garment of mine with a chart,
    or a chart given inline."""

    chart_id: uuid.UUID | None = None
    garment_id: uuid.UUID | None = None
    chart: ChartDoc | None = None

    @model_validator(mode="after")
    def one_target(self) -> Target:
        if sum(x is not None for x in (self.chart_id, self.garment_id, self.chart)) != 1:
            raise ValueError("give exactly one of chart_id, garment_id or chart")
        return self


class FitIn(Target):
    pass


class FeedbackIn(Input):
    chart_id: uuid.UUID | None = None
    garment_id: uuid.UUID | None = None
    size: Annotated[str, Field(min_length=1, max_length=fit.MAX_LABEL)]
    outcome: Outcome
    dimension: Literal[fit.CHART_DIMENSIONS] | None = None  # type: ignore[valid-type]

    @model_validator(mode="after")
    def one_target(self) -> FeedbackIn:
        if (self.chart_id is None) == (self.garment_id is None):
            raise ValueError("give exactly one of chart_id or garment_id")
        return self


class FitMapIn(Input):
    """A stored chart (mine or the catalogue's) or a garment of mine with a chart; `size` to
    map instead of the recommended one."""

    chart_id: uuid.UUID | None = None
    garment_id: uuid.UUID | None = None
    size: Annotated[str, Field(min_length=1, max_length=fit.MAX_LABEL)] | None = None

    @model_validator(mode="after")
    def one_target(self) -> FitMapIn:
        if (self.chart_id is None) == (self.garment_id is None):
            raise ValueError("give exactly one of chart_id or garment_id")
        return self


class FitMapAccepted(BaseModel):
    job: Job


class FitResult(BaseModel):
    size: str | None
    confidence: float
    position: float | None  # the body on the chart's size scale (0 = smallest), offsets in
    abstained: bool
    abstain_reason: str | None
    alternatives: list[str]
    dimensions: list[FitDimension]
    chart_id: str | None
    avatar_id: str | None
    body_source: Literal["measured", "requested"] | None
    user_offset: float  # sizes, learned from my outcomes with this brand
    chart_bias: float  # sizes, learned from every user's outcomes with this chart


class FeedbackResult(BaseModel):
    id: str
    created_at: str
    brand_key: str
    user_offset: float
    chart_bias: float
    chart_outcomes: int
    user_outcomes: int


def parsed(doc: ChartDoc, prefix: str = "") -> fit.Chart:
    """422 naming the field of the chart that is wrong."""
    try:
        return fit.parse_chart(doc.model_dump(include=set(ChartDoc.model_fields)))
    except fit.ChartError as e:
        raise invalid(prefix + e.field, e.message) from None


def _doc(doc: ChartDoc) -> dict[str, Any]:
    return doc.model_dump(include=set(ChartDoc.model_fields), exclude_none=True)


@endpoint(
    "Set the size chart of one of my garments",
    tags=["fit"],
    body=ChartIn,
    response=SizeChart,
    errors=(404, 422),
)
async def put_garment_chart(request: web.Request, body: ChartIn) -> web.Response:
    parsed(body)
    row = await db_fit.put_garment_chart(
        request.app[POOL], user_id(request), path_uuid(request, "id", "garment"),
        brand=body.brand, name=body.name, chart=_doc(body),
    )  # fmt: skip
    if row is None:
        raise not_found("garment")
    return json_response(db_fit.chart_json(row))


@endpoint("The size chart of one of my garments", tags=["fit"], response=SizeChart, errors=(404,))
async def get_garment_chart(request: web.Request) -> web.Response:
    row = await db_fit.garment_chart(
        request.app[POOL], user_id(request), path_uuid(request, "id", "garment")
    )
    if row is None:
        raise not_found("size chart")
    return json_response(db_fit.chart_json(row))


@endpoint("Remove a garment's size chart", tags=["fit"], status=204, errors=(404,))
async def delete_garment_chart(request: web.Request) -> web.Response:
    gid = path_uuid(request, "id", "garment")
    if not await db_fit.delete_garment_chart(request.app[POOL], user_id(request), gid):
        raise not_found("size chart")
    return web.Response(status=204)


@endpoint(
    "Add a brand's size chart to the catalogue every user can read",
    tags=["fit"],
    body=CatalogueChartIn,
    response=SizeChart,
    status=201,
    errors=(422,),
)
async def create_catalogue_chart(request: web.Request, body: CatalogueChartIn) -> web.Response:
    parsed(body)
    row = await db_fit.create_catalogue_chart(
        request.app[POOL], user_id(request), brand=body.brand, name=body.name, chart=_doc(body)
    )
    return json_response(db_fit.chart_json(row), 201)


@endpoint(
    "Catalogue size charts, newest first", tags=["fit"], query=CatalogueQuery,
    response=SizeChartPage,
)  # fmt: skip
async def list_catalogue(request: web.Request, query: CatalogueQuery) -> web.Response:
    before = cursor_values(query.cursor, datetime, uuid.UUID) or KEYSET_TOP
    rows = await db_fit.list_catalogue(
        request.app[POOL], brand=query.brand, category=query.category,
        before=before, limit=query.limit, viewer=user_id(request),
    )  # fmt: skip
    items = [db_fit.chart_json(r) for r in rows]
    return json_response({"items": items, "next_cursor": next_cursor(rows, query.limit)})


@endpoint("One size chart", tags=["fit"], response=SizeChart, errors=(404,))
async def get_chart(request: web.Request) -> web.Response:
    cid = path_uuid(request, "id", "size chart")
    row = await db_fit.readable_chart(request.app[POOL], cid, user_id(request))
    if row is None:
        raise not_found("size chart")
    return json_response(db_fit.chart_json(row))


async def _own_catalogue(request: web.Request) -> tuple[uuid.UUID, uuid.UUID]:
    """(chart id, me) for a change: 404 if I cannot see it, 403 if it is someone else's."""
    cid, me = path_uuid(request, "id", "size chart"), user_id(request)
    row = await db_fit.readable_chart(request.app[POOL], cid, me)
    if row is None:
        raise not_found("size chart")
    if row["owner_id"] != me or row["garment_id"] is not None:
        raise Problem(403, "Only who added a catalogue chart changes it.")
    return cid, me


@endpoint(
    "Replace a catalogue chart I added",
    tags=["fit"],
    body=CatalogueChartIn,
    response=SizeChart,
    errors=(403, 404, 422),
)
async def put_catalogue_chart(request: web.Request, body: CatalogueChartIn) -> web.Response:
    parsed(body)
    cid, me = await _own_catalogue(request)
    row = await db_fit.replace_catalogue_chart(
        request.app[POOL], cid, me, brand=body.brand, name=body.name, chart=_doc(body)
    )
    if row is None:
        raise not_found("size chart")
    return json_response(db_fit.chart_json(row))


@endpoint("Remove a catalogue chart I added", tags=["fit"], status=204, errors=(403, 404))
async def delete_catalogue_chart(request: web.Request) -> web.Response:
    cid, me = await _own_catalogue(request)
    if not await db_fit.delete_catalogue_chart(request.app[POOL], cid, me):
        raise not_found("size chart")
    return web.Response(status=204)


async def target_chart(
    pool: asyncpg.Pool, me: uuid.UUID, chart_id: uuid.UUID | None, garment_id: uuid.UUID | None
) -> asyncpg.Record:
    if chart_id is not None:
        row = await db_fit.readable_chart(pool, chart_id, me)
        if row is None:
            raise not_found("size chart")
        return row
    assert garment_id is not None
    row = await db_fit.garment_chart(pool, me, garment_id)
    if row is None:
        raise not_found("garment with a size chart")
    return row


async def primary_body(
    pool: asyncpg.Pool, me: uuid.UUID
) -> tuple[asyncpg.Record | None, dict[str, float], str | None]:
    """(avatar, measurements, source): measured on the mesh once built, else as requested."""
    avatar = await db_avatars.get_primary(pool, me)
    if avatar is None:
        return None, {}, None
    if avatar["status"] == "ready" and avatar["measured"]:
        return avatar, dict(avatar["measured"]), "measured"
    return avatar, dict(avatar["measurements"]), "requested"


@endpoint(
    "Which size of a chart to buy, for my primary avatar",
    tags=["fit"],
    body=FitIn,
    response=FitResult,
    errors=(404, 422),
)
async def recommend_size(request: web.Request, body: FitIn) -> web.Response:
    pool, me = request.app[POOL], user_id(request)
    row = None if body.chart is not None else await target_chart(
        pool, me, body.chart_id, body.garment_id
    )  # fmt: skip
    chart = parsed(body.chart, "chart.") if body.chart else fit.parse_chart(row["chart"])  # type: ignore[index]
    offsets = await _offsets(pool, me, row)
    avatar, measurements, source = await primary_body(pool, me)
    if avatar is None:
        rec = fit.Recommendation(None, None, 0.0, None, abstain_reason="you have no avatar yet")
    else:
        rec = fit.recommend(chart, measurements, offset=sum(offsets))
    return json_response({
        **fit.recommendation_json(rec),
        "chart_id": str(row["id"]) if row else None,
        "avatar_id": str(avatar["id"]) if avatar else None, "body_source": source,
        "user_offset": round(offsets[0], 3), "chart_bias": round(offsets[1], 3),
    })  # fmt: skip


async def _offsets(
    pool: asyncpg.Pool, me: uuid.UUID, row: asyncpg.Record | None
) -> tuple[float, float]:
    if row is None:
        return 0.0, 0.0
    return await db_fit.user_offset(pool, me, db_fit.brand_key(row)), float(row["bias"])


@endpoint(
    "How a size I bought fitted: teaches my offset for the brand and the chart's bias",
    tags=["fit"],
    body=FeedbackIn,
    response=FeedbackResult,
    status=201,
    errors=(404, 422),
)
async def fit_feedback(request: web.Request, body: FeedbackIn) -> web.Response:
    pool, me = request.app[POOL], user_id(request)
    row = await target_chart(pool, me, body.chart_id, body.garment_id)
    chart = fit.parse_chart(row["chart"])
    if body.size not in chart.labels:
        raise invalid("size", f"must be one of {', '.join(chart.labels)}")
    avatar, measurements, _ = await primary_body(pool, me)
    rec = fit.recommend(chart, measurements) if avatar else None
    if rec is None or rec.position is None:
        why = rec.abstain_reason if rec else "you have no avatar yet"
        raise invalid("chart_id" if body.chart_id else "garment_id", f"cannot place you: {why}")
    result = await db_fit.record_outcome(
        pool, me, row, size_label=body.size, size_index=chart.labels.index(body.size),
        position=rec.position, outcome=body.outcome, dimension=body.dimension,
    )  # fmt: skip
    return json_response(result, 201)


@endpoint(
    "Colour my primary avatar by how a size fits (GLB with vertex colours and a PNG preview)",
    tags=["fit"],
    body=FitMapIn,
    response=FitMapAccepted,
    status=202,
    errors=(404, 409, 422),
    limit=ratelimit.Action.JOB,
)
async def create_fit_map(request: web.Request, body: FitMapIn) -> web.Response:
    pool, me = request.app[POOL], user_id(request)
    row = await target_chart(pool, me, body.chart_id, body.garment_id)
    if body.size is not None and body.size not in fit.parse_chart(row["chart"]).labels:
        raise invalid("size", "the chart has no such size")
    avatar = await db_avatars.get_primary(pool, me)
    if avatar is None or avatar["status"] != "ready":
        raise Problem(409, "Your avatar is not built yet.")
    args = {"avatar_id": str(avatar["id"]), "chart_id": str(row["id"]), "size": body.size}
    job = await db_jobs.enqueue(
        pool, request.app[ARQ], function="fit_map_build", kind="fit_map", user_id=me, args=args,
        dedupe_key=f"fit-map:{avatar['id']}:{avatar['revision']}:{row['id']}:{body.size}:"
        f"{row['updated_at'].timestamp()}",
    )  # fmt: skip
    return json_response({"job": db_jobs.job_json(job)}, 202)
