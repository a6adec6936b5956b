"""The wear log: what I wore on which day (an outfit or single garments), undo, a calendar of it,
and each garment's wear statistics (most and least worn, idle ones, cost per wear)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Final, Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, BeforeValidator, Field, model_validator

from db import wears as db_wears
from db.common import encode_cursor, iso
from server import images
from server.auth import user_id
from server.context import POOL
from server.errors import invalid, not_found
from server.openapi import endpoint
from server.params import cursor_values, json_response, path_uuid
from server.routes.users import Input

MAX_CALENDAR_DAYS: Final = 92
MAX_STATS: Final = 1000


def _plausible(day: date | None, field: str) -> date | None:
    """A day of the log: not before 1900, not after tomorrow (today somewhere on Earth)."""
    if day is not None and not date(1900, 1, 1) <= day <= date.today() + timedelta(days=1):
        raise ValueError(f"{field} must be a past day (or today)")
    return day


class WearIn(Input):
    worn_on: date | None = None  # today where I live when left out
    outfit_id: uuid.UUID | None = None
    garment_ids: Annotated[list[uuid.UUID], Field(max_length=32)] = []

    @model_validator(mode="after")
    def something_worn(self) -> WearIn:
        if self.outfit_id is None and not self.garment_ids:
            raise ValueError("name an outfit_id or garment_ids")
        _plausible(self.worn_on, "worn_on")
        return self


class WornGarment(BaseModel):
    id: str
    name: str
    category: str
    thumbnail_url: str | None


class Wear(BaseModel):
    id: str
    worn_on: str
    outfit_id: str | None
    garments: list[WornGarment]
    created_at: str


class WearPage(BaseModel):
    items: list[Wear]
    next_cursor: str | None


def _iso_date(value: object) -> object:
    """Only YYYY-MM-DD: pydantic would also read "0" as a Unix time, which no client means."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date), Field(json_schema_extra={"format": "date"})]


class WearsQuery(BaseModel):
    since: IsoDate | None = None
    until: IsoDate | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, Field(max_length=200)] | None = None


class CalendarQuery(BaseModel):
    since: IsoDate
    until: IsoDate

    @model_validator(mode="after")
    def bounded(self) -> CalendarQuery:
        if not 0 <= (self.until - self.since).days < MAX_CALENDAR_DAYS:
            raise ValueError(f"until must be on or after since, at most {MAX_CALENDAR_DAYS} days")
        return self


class CalendarDay(BaseModel):
    date: str
    wears: list[Wear]


class Calendar(BaseModel):
    since: str
    until: str
    days: list[CalendarDay]  # only the days with something worn, in order


class StatsQuery(BaseModel):
    # most / least worn first, or idle: not worn in the last idle_days (never worn first)
    sort: Literal["most", "least", "idle"] = "most"
    idle_days: Annotated[int, Field(ge=1, le=3650)] = 90
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, Field(max_length=200)] | None = None


class GarmentWear(BaseModel):
    id: str
    name: str
    category: str
    thumbnail_url: str | None
    price: float | None
    currency: str
    wear_count: int
    last_worn_at: str | None
    cost_per_wear: float | None  # price / wear_count, once it has both


class GarmentWearPage(BaseModel):
    items: list[GarmentWear]
    next_cursor: str | None


async def wear_json(request: web.Request, row: asyncpg.Record) -> dict[str, Any]:
    garments = [
        {
            "id": str(g["id"]),
            "name": g["name"],
            "category": g["category"],
            "thumbnail_url": await images.url_or_none(request, g["thumbnail_key"]),
        }
        for g in row["garments"]
    ]
    return {
        "id": str(row["id"]),
        "worn_on": row["worn_on"].isoformat(),
        "outfit_id": str(row["outfit_id"]) if row["outfit_id"] else None,
        "garments": garments,
        "created_at": iso(row["created_at"]),
    }


@endpoint(
    "Log an outfit or garments as worn on a day (today by default)",
    tags=["wardrobe"],
    body=WearIn,
    response=Wear,
    status=201,
)
async def log_wear(request: web.Request, body: WearIn) -> web.Response:
    try:
        row = await db_wears.add_wear(
            request.app[POOL],
            user_id(request),
            worn_on=body.worn_on,
            outfit_id=body.outfit_id,
            garment_ids=body.garment_ids,
        )
    except db_wears.NothingToWear as e:
        raise invalid(str(e), "names nothing of your wardrobe") from None
    return json_response(await wear_json(request, row), 201)


@endpoint("Undo a logged wear", tags=["wardrobe"], status=204, errors=(404,))
async def undo_wear(request: web.Request) -> web.Response:
    wear_id = path_uuid(request, "id", "wear")
    if not await db_wears.undo_wear(request.app[POOL], wear_id, user_id(request)):
        raise not_found("wear")
    return web.Response(status=204)


@endpoint(
    "My logged wears, the latest day first (optionally between since and until)",
    tags=["wardrobe"],
    query=WearsQuery,
    response=WearPage,
)
async def list_wears(request: web.Request, query: WearsQuery) -> web.Response:
    position = cursor_values(query.cursor, int, datetime, uuid.UUID)
    before = (date.fromordinal(position[0]), *position[1:]) if position else None
    rows = await db_wears.list_wears(
        request.app[POOL],
        user_id(request),
        first=query.since,
        last=query.until,
        before=before,  # type: ignore[arg-type]
        limit=query.limit,
    )
    last = rows[-1] if len(rows) == query.limit else None
    cursor = (
        encode_cursor(last["worn_on"].toordinal(), last["created_at"], last["id"]) if last else None
    )
    items = [await wear_json(request, r) for r in rows]
    return json_response({"items": items, "next_cursor": cursor})


@endpoint(
    f"What I wore each day from since to until (at most {MAX_CALENDAR_DAYS} days)",
    tags=["wardrobe"],
    query=CalendarQuery,
    response=Calendar,
)
async def calendar(request: web.Request, query: CalendarQuery) -> web.Response:
    rows = await db_wears.calendar(request.app[POOL], user_id(request), query.since, query.until)
    days: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        days.setdefault(r["worn_on"].isoformat(), []).append(await wear_json(request, r))
    return json_response(
        {
            "since": query.since.isoformat(),
            "until": query.until.isoformat(),
            "days": [{"date": d, "wears": w} for d, w in days.items()],
        }
    )


@endpoint(
    "How much each of my garments is worn: most or least worn first, or idle ones, with cost "
    "per wear",
    tags=["wardrobe"],
    query=StatsQuery,
    response=GarmentWearPage,
)
async def garment_stats(request: web.Request, query: StatsQuery) -> web.Response:
    position = cursor_values(query.cursor, int)
    offset = min(position[0] if position else 0, MAX_STATS)
    idle_since = datetime.now(UTC).date() - timedelta(days=query.idle_days)
    rows = await db_wears.garment_stats(
        request.app[POOL],
        user_id(request),
        order=query.sort,
        idle_since=idle_since,
        offset=offset,
        limit=query.limit,
    )
    items = [
        {
            **{k: r[k] for k in ("name", "category", "currency", "wear_count")},
            "id": str(r["id"]),
            "thumbnail_url": await images.url_or_none(request, r["thumbnail_key"]),
            "price": float(r["price"]) if r["price"] is not None else None,
            "last_worn_at": iso(r["last_worn_at"]),
            "cost_per_wear": float(r["cost_per_wear"]) if r["cost_per_wear"] is not None else None,
        }
        for r in rows
    ]
    end = offset + len(rows)
    cursor = encode_cursor(end) if len(rows) == query.limit and end < MAX_STATS else None
    return json_response({"items": items, "next_cursor": cursor})
