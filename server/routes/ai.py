"""Outfit recommendations and style analysis: asked for here, computed by workers."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, Field

from db import ai as db_ai
from db import jobs as db_jobs
from db import posts as db_posts
from db import users as db_users
from db.common import iso
from drape.vocab import OCCASIONS
from server import ratelimit
from server.auth import user_id
from server.context import ARQ, POOL, SETTINGS, STORE
from server.errors import not_found
from server.metrics import JOBS_ENQUEUED
from server.openapi import endpoint
from server.params import Timestamp, json_response, path_uuid
from server.routes.jobs import Job
from server.routes.posts import Post, posts_json
from server.routes.users import Input, PublicUser, public_user

log = logging.getLogger(__name__)

Occasion = Literal[OCCASIONS]  # type: ignore[valid-type]


class Weather(Input):
    temperature_c: Annotated[float, Field(ge=-60, le=60, description="Air temperature, °C")]
    precipitation_mm: Annotated[float, Field(ge=0, le=500, description="Rain or snow, mm")] = 0
    wind_kmh: Annotated[float, Field(ge=0, le=300, description="Wind speed, km/h")] = 0


class RecommendIn(Input):
    occasion: Occasion | None = None
    weather: Weather | None = None
    count: Annotated[int, Field(ge=1, le=30)] = 10


class Accepted(BaseModel):
    job: Job


class RecommendedItem(BaseModel):
    garment_id: str
    slot: str = Field(description="Where it is worn: top, bottom, dress, outer, shoes ...")
    position: int = Field(ge=0, description="Order in the outfit")


class WeatherOut(BaseModel):
    temperature_c: float = Field(description="°C")
    precipitation_mm: float = Field(description="mm")
    wind_kmh: float = Field(description="km/h")


class Recommendation(BaseModel):
    id: str
    rank: int = Field(ge=0, description="0 is the best of its batch")
    items: list[RecommendedItem]
    score: float
    terms: dict[str, float] = Field(description="The score's parts by name; they sum to score")
    explanation: str
    occasion: str | None
    weather: WeatherOut | None
    feedback: Literal["liked", "dismissed", "worn"] | None
    created_at: Timestamp


class RecommendationList(BaseModel):
    items: list[Recommendation]
    batch_id: str | None
    requested: int | None = Field(None, description="Outfits asked for, when fewer came back")
    reason: str | None = Field(None, description="Why fewer outfits than asked came back")


class FeedbackIn(Input):
    feedback: Literal["liked", "dismissed", "worn"]


Share = Annotated[float, Field(ge=0, le=1, description="Fraction, 0-1")]


class PaletteEntry(BaseModel):
    hex: str = Field(pattern=r"^#[0-9a-f]{6}$", description="Cluster centre, sRGB")
    family: str = Field(description="Colour family, e.g. navy")
    share: Share
    neutral: bool = Field(description="Mostly neutral colours (black, grey, beige ...)")


class Palette(BaseModel):
    colors: list[PaletteEntry] = Field(description="The wardrobe's main colours, largest first")
    neutral_share: Share
    accent_share: Share


class CountShare(BaseModel):
    count: int = Field(ge=0)
    share: Share


class CategoryDistribution(BaseModel):
    categories: dict[str, CountShare] = Field(description="By garment category")
    slots: dict[str, int] = Field(description="Garments by outfit slot")


class FormalityDistribution(BaseModel):
    counts: dict[str, int] = Field(description='Garments per formality level, "1" to "5"')
    mean: float | None = Field(ge=1, le=5, description="null for an empty wardrobe")


class SeasonCoverage(BaseModel):
    garments: int = Field(ge=0, description="Garments wearable in that season")
    outfits: int = Field(ge=0, description="Core outfits made only of them")


class Archetypes(BaseModel):
    scores: dict[str, float] = Field(description="Cosine affinity (-1..1) to each style")
    top: list[str] = Field(description="The three closest styles")
    preferred: list[str] = Field(description="From the style profile")
    profile_match: float | None = Field(description="Cosine to the preferred styles")


class OutfitCounts(BaseModel):
    count: int = Field(ge=0, description="Core outfits the wardrobe makes")
    layered_count: int = Field(ge=0, description="Those plus one outer layer")


class GarmentVersatility(BaseModel):
    garment_id: str
    slot: str
    outfits: int = Field(ge=0, description="Core outfits it is part of (or goes with)")


class Versatility(BaseModel):
    outfits: OutfitCounts
    garments: list[GarmentVersatility] = Field(description="By slot, most versatile first")


class WornGarment(BaseModel):
    garment_id: str
    subcategory: str | None
    wear_count: int = Field(ge=0)


class CostlyGarment(WornGarment):
    price: float = Field(ge=0)
    cost_per_wear: float = Field(ge=0, description="price / max(wear_count, 1)")


class CostPerWear(BaseModel):
    median: float | None
    highest: list[CostlyGarment]


class Wear(BaseModel):
    most_worn: list[WornGarment]
    least_worn: list[WornGarment]
    never_worn: int = Field(ge=0)
    cost_per_wear: CostPerWear


class WornOutfits(BaseModel):
    logged: int = Field(ge=0, description="Outfits logged as worn")
    distinct: int = Field(ge=0)
    coherent: int = Field(ge=0, description="Distinct outfits whose pieces all go together")
    garments_never_in_a_logged_outfit: int = Field(ge=0)


class WearStats(BaseModel):
    wear: Wear
    worn_outfits: WornOutfits


class GapColor(BaseModel):
    hex: str
    family: str


class Gap(BaseModel):
    description: str = Field(description="e.g. 'a navy wool coat'")
    category: str
    subcategory: str | None
    slot: str
    color: GapColor
    material: str | None
    formality: int = Field(ge=1, le=5)
    warmth: int = Field(ge=1, le=5)
    seasons: list[str]
    new_outfits: int = Field(ge=0, description="Outfits this piece would add")


class Gaps(BaseModel):
    pieces: list[Gap] = Field(description="Tops, bottoms, dresses, shoes")
    layers: list[Gap] = Field(description="Outer pieces")


class StyleAnalysis(BaseModel):
    id: str
    garment_count: int = Field(ge=0)
    palette: Palette
    category_distribution: CategoryDistribution
    formality_distribution: FormalityDistribution
    season_coverage: dict[str, SeasonCoverage] = Field(description="By season")
    archetypes: Archetypes
    versatility: Versatility
    wear_stats: WearStats
    gaps: Gaps
    summary: str
    created_at: Timestamp


async def enqueue_for(
    request: web.Request, function: str, args: dict[str, Any], dedupe_key: str | None = None
) -> web.Response:
    row = await db_jobs.enqueue(
        request.app[POOL],
        request.app[ARQ],
        function=function,
        kind=function,
        user_id=user_id(request),
        args=args,
        dedupe_key=dedupe_key,
    )
    JOBS_ENQUEUED.labels(function).inc()
    return json_response({"job": db_jobs.job_json(row)}, 202)


@endpoint(
    "Ask for outfit recommendations from my wardrobe",
    tags=["ai"],
    body=RecommendIn,
    response=Accepted,
    status=202,
    limit=ratelimit.Action.JOB,
)
async def create_recommendations(request: web.Request, body: RecommendIn) -> web.Response:
    return await enqueue_for(request, "recommend", body.model_dump(mode="json"))


def recommendation_json(r: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(r["id"]),
        "rank": r["rank"],
        "items": r["items"],
        "score": r["score"],
        "terms": r["terms"],
        "explanation": r["explanation"],
        "occasion": r["occasion"],
        "weather": r["weather"],
        "feedback": r["feedback"],
        "created_at": iso(r["created_at"]),
    }


@endpoint("My latest outfit recommendations", tags=["ai"], response=RecommendationList)
async def list_recommendations(request: web.Request) -> web.Response:
    pool = request.app[POOL]
    rows = await db_ai.latest_batch(pool, user_id(request), "outfit")
    out: dict[str, Any] = {"items": [recommendation_json(r) for r in rows], "batch_id": None}
    if rows:
        out["batch_id"] = str(rows[0]["batch_id"])
        job = await db_jobs.get_job(pool, rows[0]["batch_id"])  # a batch is named by its job
        result = (job["result"] if job is not None else None) or {}
        out |= {k: result[k] for k in ("requested", "reason") if k in result}
    return json_response(out)


@endpoint(
    "Tell how a recommendation landed (liked, dismissed, worn)",
    tags=["ai"],
    body=FeedbackIn,
    status=204,
    errors=(404,),
)
async def recommendation_feedback(request: web.Request, body: FeedbackIn) -> web.Response:
    rec = path_uuid(request, "id", "recommendation")
    if not await db_ai.set_feedback(request.app[POOL], rec, user_id(request), body.feedback):
        raise not_found("recommendation")
    return web.Response(status=204)


@endpoint(
    "Analyse my wardrobe", tags=["ai"], response=Accepted, status=202, limit=ratelimit.Action.JOB
)
async def create_style_analysis(request: web.Request) -> web.Response:
    uid = user_id(request)
    return await enqueue_for(request, "style_analysis", {}, dedupe_key=f"style_analysis:{uid}")


@endpoint("My latest style analysis", tags=["ai"], response=StyleAnalysis, errors=(404,))
async def latest_style_analysis(request: web.Request) -> web.Response:
    row = await db_ai.latest_analysis(request.app[POOL], user_id(request))
    if row is None:
        raise not_found("style analysis")
    out = {k: row[k] for k in StyleAnalysis.model_fields if k not in {"id", "created_at"}}
    return json_response({**out, "id": str(row["id"]), "created_at": iso(row["created_at"])})


class Suggestion(BaseModel):
    user: PublicUser
    score: float
    explanation: str


class SuggestionList(BaseModel):
    items: list[Suggestion]


class ExplorePage(BaseModel):
    items: list[Post]
    source: Literal["personalized", "popular"] = Field(
        description="personalized: picked for you from likes like yours; popular: recent posts"
        " most liked, while your picks are computed (job)"
    )
    job: Job | None = Field(description="The job computing your picks, when one was started")


@endpoint(
    "Refresh my explore feed and people suggestions",
    tags=["ai"],
    response=Accepted,
    status=202,
    limit=ratelimit.Action.JOB,
)
async def refresh_explore(request: web.Request) -> web.Response:
    uid = user_id(request)
    return await enqueue_for(request, "social", {"count": 30}, dedupe_key=f"social:{uid}")


@endpoint("Posts I may like, from people with similar likes", tags=["ai"], response=ExplorePage)
async def explore(request: web.Request) -> web.Response:
    pool, uid = request.app[POOL], user_id(request)
    picks = await db_ai.latest_targets(pool, uid, "post")
    job, source = None, "personalized"
    if not picks:  # never computed: start now, and show what is popular meanwhile
        source = "popular"
        job = await _start_social(request, uid)
        rows = await db_posts.popular_posts(pool, uid, EXPLORE_COLD_START)
    else:
        rows = await db_posts.explore_posts(pool, uid, [p["target_id"] for p in picks])
    items = await posts_json(pool, request.app[STORE], rows)
    return json_response({"items": items, "source": source, "job": job})


EXPLORE_COLD_START = 30


async def _start_social(request: web.Request, uid: Any) -> dict[str, Any] | None:
    """The explore and people job for `uid` (joined if already queued); best effort."""
    try:
        row = await db_jobs.enqueue(
            request.app[POOL], request.app[ARQ], function="social", kind="social", user_id=uid,
            args={"count": 30}, dedupe_key=f"social:{uid}",
        )  # fmt: skip
    except Exception:
        log.warning("could not queue the explore job", exc_info=True)
        return None
    return db_jobs.job_json(row)


@endpoint("People I may want to follow", tags=["ai"], response=SuggestionList)
async def suggested_people(request: web.Request) -> web.Response:
    pool, uid = request.app[POOL], user_id(request)
    picks = await db_ai.latest_targets(pool, uid, "user")
    items = []
    for p in picks:
        user = await db_users.get_seen(pool, p["target_id"], uid)
        if user is not None:
            items.append(
                {"user": public_user(user), "score": p["score"], "explanation": p["explanation"]}
            )
    return json_response({"items": items})


async def refresh_style_later(request: web.Request, uid: Any) -> None:
    """After wardrobe changes the style analysis is refreshed once things settle: the first
    change schedules a run `style_refresh_delay` seconds later, and changes until then join that
    same job. Best effort: the garment change is committed whether or not this can be queued."""
    delay = request.app[SETTINGS].style_refresh_delay
    if delay <= 0:
        return
    try:
        await db_jobs.enqueue(
            request.app[POOL],
            request.app[ARQ],
            function="style_analysis",
            kind="style_analysis",
            user_id=uid,
            args={},
            # Its own key: an "Analyse" tap meanwhile must not join a job deferred by a minute.
            dedupe_key=f"style_analysis:auto:{uid}",
            defer_by=delay,
        )
    except Exception:
        log.warning("could not schedule a style analysis", exc_info=True)
