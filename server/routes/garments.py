"""The wardrobe's garments: CRUD with validated metadata, a filtered list, and the image."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

import asyncpg
from aiohttp import web
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from db import garments as db_garments
from db import jobs as db_jobs
from db.common import encode_cursor, iso
from drape import images as drape_images
from drape import taxonomy, vocab
from drape.colors import color_family
from server import images
from server.auth import user_id
from server.context import ARQ, POOL
from server.errors import Problem, invalid, not_found
from server.openapi import endpoint
from server.params import cursor_values, json_response, path_uuid
from server.routes.ai import refresh_style_later
from server.routes.jobs import Job

Category = Literal[taxonomy.CATEGORY_NAMES]  # type: ignore[valid-type]
Family = Literal[vocab.COLOR_FAMILIES]  # type: ignore[valid-type]
Season = Literal[vocab.SEASONS]  # type: ignore[valid-type]
Pattern = Literal[taxonomy.PATTERNS]  # type: ignore[valid-type]
Material = Literal[taxonomy.MATERIALS]  # type: ignore[valid-type]
Hex = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]
Level = Annotated[int, Field(ge=1, le=5)]
Money = Annotated[Decimal, Field(ge=0, le=Decimal("99999999.99"), decimal_places=2)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)]
Subcategory = Annotated[
    str,
    StringConstraints(max_length=40),
    Field(
        description="One of its category's: "
        + "; ".join(f"{c}: {', '.join(subs)}" for c, subs in taxonomy.CATEGORIES.items()),
        json_schema_extra={
            "enum": sorted({s for subs in taxonomy.CATEGORIES.values() for s in subs})
        },
    ),
]
Search = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
TAG_RE = re.compile(r"^\w[\w\- ]{0,31}$")


def _tag(value: str) -> str:
    tag = " ".join(value.split()).lower()
    if not TAG_RE.match(tag):
        raise ValueError("must be 1-32 letters, digits, spaces, '-' or '_'")
    return tag


Tag = Annotated[str, AfterValidator(_tag)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ColorIn(Input):
    hex: Hex
    family: Family | None = None  # named from the hex when left out


class Color(BaseModel):
    hex: str
    family: str
    share: float | None = None  # of the image, for colours found in it


def _colors(colors: list[ColorIn]) -> list[dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for c in colors:
        hex_ = c.hex.lower()
        out.setdefault(hex_, {"hex": hex_, "family": c.family or color_family(hex_)})
    return list(out.values())


def _purchase_date(v: date | None) -> date | None:
    # A day of slack: "today" in the user's time zone can be tomorrow in UTC.
    if v is not None and not date(1900, 1, 1) <= v <= date.today() + timedelta(days=1):
        raise ValueError("must not be in the future")
    return v


class GarmentFields(Input):
    """Shared checks of GarmentIn and GarmentPatch."""

    @field_validator("subcategory", check_fields=False)
    @classmethod
    def subcategory_of_category(cls, v: str | None, info: ValidationInfo) -> str | None:
        category = info.data.get("category")
        if v is not None and category is not None:
            if error := taxonomy.subcategory_error(category, v):
                raise ValueError(error)
        return v

    @field_validator("purchased_on", check_fields=False)
    @classmethod
    def not_in_future(cls, v: date | None) -> date | None:
        return _purchase_date(v)

    @field_validator("seasons", "tags", check_fields=False)
    @classmethod
    def no_repeats(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else list(dict.fromkeys(v))


class GarmentIn(GarmentFields):
    name: Name
    category: Category
    subcategory: Subcategory | None = None
    colors: Annotated[list[ColorIn], Field(max_length=6)] = []
    pattern: Pattern = "solid"
    material: Material | None = None
    formality: Level = 3
    warmth: Level = 3
    seasons: Annotated[list[Season], Field(max_length=4)] = []
    brand: Short | None = None
    size: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None = None
    price: Money | None = None
    currency: Currency = "USD"
    purchased_on: date | None = None
    tags: Annotated[list[Tag], Field(max_length=20)] = []
    notes: Annotated[str, Field(max_length=2000)] = ""
    is_archived: bool = False

    def values(self) -> dict[str, Any]:
        out = self.model_dump()
        out["colors"] = _colors(self.colors)
        out["color_source"] = "user"
        return out


NULLABLE = frozenset({"subcategory", "material", "brand", "size", "price", "purchased_on"})


class GarmentPatch(GarmentFields):
    name: Name | None = None
    category: Category | None = None
    subcategory: Subcategory | None = None
    colors: Annotated[list[ColorIn], Field(max_length=6)] | None = None
    pattern: Pattern | None = None
    material: Material | None = None
    formality: Level | None = None
    warmth: Level | None = None
    seasons: Annotated[list[Season], Field(max_length=4)] | None = None
    brand: Short | None = None
    size: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None = None
    price: Money | None = None
    currency: Currency | None = None
    purchased_on: date | None = None
    tags: Annotated[list[Tag], Field(max_length=20)] | None = None
    notes: Annotated[str, Field(max_length=2000)] | None = None
    is_archived: bool | None = None

    def changes(self) -> dict[str, Any]:
        """What was sent; null clears a column that may be empty and is ignored elsewhere."""
        sent = self.model_dump(exclude_unset=True)
        out = {k: v for k, v in sent.items() if v is not None or k in NULLABLE}
        if self.colors is not None:
            out["colors"], out["color_source"] = _colors(self.colors), "user"
        return out


class Garment(BaseModel):
    id: str
    name: str
    category: Category = Field(
        description="What it is (`outerwear` for coats and jackets); where it is worn in an"
        " outfit is the item's `slot` (`outer` for that layer)"
    )
    subcategory: Subcategory | None
    colors: list[Color]
    color_source: Literal["user", "image"]
    pattern: str
    material: str | None
    formality: int
    warmth: int
    seasons: list[str]
    brand: str | None
    size: str | None
    price: float | None
    currency: str
    purchased_on: str | None
    tags: list[str]
    notes: str
    image_url: str | None
    thumbnail_url: str | None
    wear_count: int
    last_worn_at: str | None
    is_archived: bool
    created_at: str
    updated_at: str


class GarmentPage(BaseModel):
    items: list[Garment]
    next_cursor: str | None


class GarmentImage(BaseModel):
    garment: Garment
    job: Job | None  # the dominant-colour job, when the garment has no colours of the user's


def colors_json(colors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every colour with the same keys; `share` only means something for colours of an image."""
    return [{"hex": c["hex"], "family": c["family"], "share": c.get("share")} for c in colors]


async def garment_json(request: web.Request, row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        **{f: row[f] for f in ("name", "category", "subcategory", "color_source")},
        "colors": colors_json(row["colors"]),
        **{f: row[f] for f in ("pattern", "material", "formality", "warmth", "seasons")},
        **{f: row[f] for f in ("brand", "size", "currency", "tags", "notes", "wear_count")},
        "price": float(row["price"]) if row["price"] is not None else None,
        "purchased_on": row["purchased_on"].isoformat() if row["purchased_on"] else None,
        "image_url": await images.url_or_none(request, row["image_key"]),
        "thumbnail_url": await images.url_or_none(request, row["thumbnail_key"]),
        "last_worn_at": iso(row["last_worn_at"]),
        "is_archived": row["is_archived"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


async def _own_garment(request: web.Request) -> asyncpg.Record:
    """The garment named in the path, if it is the caller's: another's is a 404 like no garment."""
    gid = path_uuid(request, "id", "garment")
    row = await db_garments.get_garment(request.app[POOL], user_id(request), gid)
    if row is None:
        raise not_found("garment")
    return row


async def _extract_colors(request: web.Request, row: asyncpg.Record) -> dict[str, Any] | None:
    """Queue the dominant-colour job when the garment has an image and no colours of the user's.
    One live job per garment: the job reads whatever image is current when it runs."""
    if row["image_key"] is None or (row["colors"] and row["color_source"] == "user"):
        return None
    job = await db_jobs.enqueue(
        request.app[POOL],
        request.app[ARQ],
        function="garment_colors",
        kind="garment_colors",
        user_id=row["owner_id"],
        args={"garment_id": str(row["id"])},
        dedupe_key=f"garment_colors:{row['id']}",
    )
    return db_jobs.job_json(job)


# CRUD --------------------------------------------------------------------------------------------


class GarmentQuery(Input):
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: str | None = None
    category: Annotated[list[Category], Field(max_length=20)] = []
    color: Family | None = None
    season: Annotated[list[Season], Field(max_length=4)] = []  # any of them
    tag: Annotated[list[Tag], Field(max_length=20)] = []  # all of them
    q: Search | None = None  # in name or brand
    archived: bool = False


@endpoint("My garments, newest first", tags=["wardrobe"], query=GarmentQuery, response=GarmentPage)
async def list_garments(request: web.Request, query: GarmentQuery) -> web.Response:
    where = db_garments.GarmentFilter(
        archived=query.archived,
        categories=query.category,
        color_family=query.color,
        seasons=query.season,
        tags=query.tag,
        text=query.q,
    )
    after = cursor_values(query.cursor, datetime, uuid.UUID)
    rows = await db_garments.list_garments(
        request.app[POOL], user_id(request), where, limit=query.limit + 1, after=after
    )
    page = rows[: query.limit]
    more = len(rows) > query.limit
    return json_response(
        {
            "items": [await garment_json(request, r) for r in page],
            "next_cursor": encode_cursor(page[-1]["created_at"], page[-1]["id"]) if more else None,
        }
    )


@endpoint("Add a garment", tags=["wardrobe"], body=GarmentIn, response=Garment, status=201)
async def create_garment(request: web.Request, body: GarmentIn) -> web.Response:
    row = await db_garments.create_garment(request.app[POOL], user_id(request), body.values())
    await refresh_style_later(request, row["owner_id"])
    return json_response(await garment_json(request, row), 201)


@endpoint("One of my garments", tags=["wardrobe"], response=Garment, errors=(404,))
async def get_garment(request: web.Request) -> web.Response:
    return json_response(await garment_json(request, await _own_garment(request)))


@endpoint("Change a garment", tags=["wardrobe"], body=GarmentPatch, response=Garment, errors=(404,))
async def patch_garment(request: web.Request, body: GarmentPatch) -> web.Response:
    current = await _own_garment(request)
    changes = body.changes()
    merged = {**dict(current), **changes}
    if error := taxonomy.subcategory_error(merged["category"], merged["subcategory"]):
        raise invalid("subcategory", error)
    row = await db_garments.update_garment(
        request.app[POOL], current["owner_id"], current["id"], changes
    )
    if row is None:
        raise not_found("garment")
    if "colors" in changes:
        await _extract_colors(request, row)
    await refresh_style_later(request, row["owner_id"])
    return json_response(await garment_json(request, row))


@endpoint("Delete a garment", tags=["wardrobe"], status=204, errors=(404,))
async def delete_garment(request: web.Request) -> web.Response:
    gid = path_uuid(request, "id", "garment")
    keys = await db_garments.delete_garment(request.app[POOL], user_id(request), gid)
    if keys is None:
        raise not_found("garment")
    await images.delete_objects(request, keys)
    await refresh_style_later(request, user_id(request))
    return web.Response(status=204)


# Image -------------------------------------------------------------------------------------------

SIDES = (drape_images.DISPLAY_SIDE, drape_images.THUMBNAIL_SIDE)


@endpoint(
    "Start uploading a garment's image",
    tags=["wardrobe"],
    body=images.UploadIn,
    response=images.PresignedUpload,
    status=201,
    errors=(404,),
)
async def start_image(request: web.Request, body: images.UploadIn) -> web.Response:
    garment = await _own_garment(request)
    form = await images.start_upload(
        request,
        owner_id=garment["owner_id"],
        purpose="garment_image",
        target_id=garment["id"],
        prefix=f"garments/{garment['owner_id']}/{garment['id']}",
        content_type=body.content_type,
    )
    return json_response(form, 201)


@endpoint(
    "Confirm a garment's uploaded image",
    tags=["wardrobe"],
    body=images.CompleteIn,
    response=GarmentImage,
    errors=(404, 409, 413),
)
async def complete_image(request: web.Request, body: images.CompleteIn) -> web.Response:
    garment = await _own_garment(request)
    owner, gid = garment["owner_id"], garment["id"]
    if images.is_copy_of(garment["image_key"], body.key):  # a retried confirm
        return json_response({"garment": await garment_json(request, garment), "job": None})
    got = await images.receive(
        request, key=body.key, owner_id=owner, purpose="garment_image", target_id=gid, sides=SIDES
    )
    image, thumbnail = (got.keys[side] for side in SIDES)
    done = await db_garments.set_image(
        request.app[POOL], owner, gid, upload_key=body.key, image_key=image, thumbnail_key=thumbnail
    )
    if done is None:
        await images.delete_objects(request, list(got.keys.values()))
        raise Problem(
            409,
            "The garment or the upload changed meanwhile; start a new upload.",
            code="upload_stale",
        )
    row, unused = done
    await images.delete_objects(request, [body.key, *unused])
    job = await _extract_colors(request, row)
    return json_response({"garment": await garment_json(request, row), "job": job})


@endpoint("Remove a garment's image", tags=["wardrobe"], response=Garment, errors=(404,))
async def delete_image(request: web.Request) -> web.Response:
    garment = await _own_garment(request)
    done = await db_garments.set_image(
        request.app[POOL],
        garment["owner_id"],
        garment["id"],
        upload_key=None,
        image_key=None,
        thumbnail_key=None,
    )
    if done is None:
        raise not_found("garment")
    await images.delete_objects(request, done[1])
    return json_response(await garment_json(request, done[0]))
