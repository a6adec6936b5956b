"""Outfits: ordered garments of one owner, with slot rules, wear tracking and a cover image."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from db import outfits as db_outfits
from db.common import encode_cursor, iso
from drape import images as drape_images
from drape import taxonomy, vocab
from drape.storage import ObjectStore
from server import images
from server.auth import user_id
from server.context import POOL, STORE
from server.errors import Problem, invalid, not_found
from server.openapi import endpoint
from server.params import cursor_values, json_response, path_uuid
from server.routes.garments import Color, colors_json

Slot = Literal[taxonomy.SLOTS]  # type: ignore[valid-type]
Occasion = Literal[vocab.OCCASIONS]  # type: ignore[valid-type]
Season = Literal[vocab.SEASONS]  # type: ignore[valid-type]
OutfitName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)]
Description = Annotated[str, Field(max_length=1000)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemIn(Input):
    garment_id: uuid.UUID
    slot: Slot
    position: Annotated[int, Field(ge=0, le=31)] | None = None  # its index in the list if left out


def _wearable(items: list[ItemIn]) -> list[ItemIn]:
    """Numbered, no garment twice, and a combination one person can wear at once."""
    positions = [n if item.position is None else item.position for n, item in enumerate(items)]
    if len(set(positions)) != len(positions):
        raise ValueError("two items share a position")
    if len({item.garment_id for item in items}) != len(items):
        raise ValueError("lists a garment twice")
    counts = Counter(item.slot for item in items)
    for slot, n in counts.items():
        if n > taxonomy.SLOT_LIMITS[slot]:
            raise ValueError(
                f"has {n} items in slot {slot!r}; at most {taxonomy.SLOT_LIMITS[slot]}"
            )
    for a, b in taxonomy.EXCLUSIVE_SLOTS:
        if counts[a] and counts[b]:
            raise ValueError(f"cannot hold both a {a!r} and a {b!r}")
    return [i.model_copy(update={"position": p}) for i, p in zip(items, positions, strict=True)]


Items = Annotated[list[ItemIn], Field(min_length=1, max_length=16), AfterValidator(_wearable)]


class OutfitIn(Input):
    name: OutfitName = ""
    description: Description = ""
    occasion: Occasion | None = None
    seasons: Annotated[list[Season], Field(max_length=4)] = []
    is_favorite: bool = False
    items: Items


class OutfitPatch(Input):
    name: OutfitName | None = None
    description: Description | None = None
    occasion: Occasion | None = None
    seasons: Annotated[list[Season], Field(max_length=4)] | None = None
    is_favorite: bool | None = None
    items: Items | None = None  # replaces every item

    def changes(self) -> dict[str, Any]:
        """What was sent; null clears the occasion and is ignored elsewhere."""
        sent = self.model_dump(exclude_unset=True, exclude={"items"})
        return {k: v for k, v in sent.items() if v is not None or k == "occasion"}


class OutfitGarment(BaseModel):
    id: str
    name: str
    category: str
    subcategory: str | None
    colors: list[Color]
    is_archived: bool
    image_url: str | None
    thumbnail_url: str | None


class OutfitItem(BaseModel):
    garment_id: str
    slot: str
    position: int
    garment: OutfitGarment


class Outfit(BaseModel):
    id: str
    owner_id: str
    name: str
    description: str
    occasion: str | None
    seasons: list[str]
    source: str
    is_favorite: bool
    wear_count: int
    last_worn_at: str | None
    cover_url: str | None
    items: list[OutfitItem]
    created_at: str
    updated_at: str


class OutfitPage(BaseModel):
    items: list[Outfit]
    next_cursor: str | None


async def outfit_json(store: ObjectStore, outfit: dict[str, Any]) -> dict[str, Any]:
    """The API's JSON for a row of db.outfits (get_outfit_with_items and the lists): object keys
    become short-lived URLs."""

    async def url(key: str | None) -> str | None:
        return await store.url(key) if key else None

    items = []
    for item in outfit["items"]:
        g = item["garment"]
        garment = {k: g[k] for k in ("id", "name", "category", "subcategory")}
        garment["colors"] = colors_json(g["colors"])
        garment["is_archived"] = g["is_archived"]
        garment["image_url"] = await url(g["image_key"])
        garment["thumbnail_url"] = await url(g["thumbnail_key"])
        items.append(
            {**{k: item[k] for k in ("garment_id", "slot", "position")}, "garment": garment}
        )
    return {
        "id": str(outfit["id"]),
        "owner_id": str(outfit["owner_id"]),
        **{k: outfit[k] for k in ("name", "description", "occasion", "seasons", "source")},
        **{k: outfit[k] for k in ("is_favorite", "wear_count")},
        "last_worn_at": iso(outfit["last_worn_at"]),
        "cover_url": await url(outfit["cover_image_key"]),
        "items": items,
        "created_at": iso(outfit["created_at"]),
        "updated_at": iso(outfit["updated_at"]),
    }


async def _respond(
    request: web.Request, outfit: dict[str, Any] | None, status: int = 200
) -> web.Response:
    if outfit is None:
        raise not_found("outfit")
    return json_response(await outfit_json(request.app[STORE], outfit), status)


async def _own_outfit(request: web.Request) -> dict[str, Any]:
    """The outfit named in the path, if it is the caller's: another's is a 404 like no outfit."""
    oid = path_uuid(request, "id", "outfit")
    outfit = await db_outfits.get_outfit_with_items(request.app[POOL], oid)
    if outfit is None or outfit["owner_id"] != user_id(request):
        raise not_found("outfit")
    return outfit


async def _checked_items(request: web.Request, items: list[ItemIn]) -> list[db_outfits.Item]:
    """Each garment in a slot its category can fill. Garments that are not the caller's are
    left to the database's composite foreign key, which refuses them."""
    ids = [item.garment_id for item in items]
    categories = await db_outfits.garment_categories(request.app[POOL], user_id(request), ids)
    for n, item in enumerate(items):
        category = categories.get(item.garment_id)
        if category is not None and item.slot not in taxonomy.CATEGORY_SLOTS[category]:
            raise invalid(
                f"items.{n}.slot", f"a garment from {category!r} cannot be a {item.slot!r}"
            )
    return [(item.garment_id, item.slot, item.position or 0) for item in items]


# CRUD --------------------------------------------------------------------------------------------


class OutfitQuery(Input):
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: str | None = None
    occasion: Occasion | None = None
    season: Annotated[list[Season], Field(max_length=4)] = []  # any of them
    favorite: bool | None = None
    garment_id: uuid.UUID | None = None  # outfits that hold this garment


@endpoint("My outfits, newest first", tags=["wardrobe"], query=OutfitQuery, response=OutfitPage)
async def list_outfits(request: web.Request, query: OutfitQuery) -> web.Response:
    rows = await db_outfits.list_outfits(
        request.app[POOL],
        user_id(request),
        limit=query.limit + 1,
        occasion=query.occasion,
        seasons=query.season,
        favorite=query.favorite,
        garment_id=query.garment_id,
        after=cursor_values(query.cursor, datetime, uuid.UUID),
    )
    page, more = rows[: query.limit], len(rows) > query.limit
    store = request.app[STORE]
    return json_response(
        {
            "items": [await outfit_json(store, r) for r in page],
            "next_cursor": encode_cursor(page[-1]["created_at"], page[-1]["id"]) if more else None,
        }
    )


@endpoint("Put an outfit together", tags=["wardrobe"], body=OutfitIn, response=Outfit, status=201)
async def create_outfit(request: web.Request, body: OutfitIn) -> web.Response:
    items = await _checked_items(request, body.items)
    values = body.model_dump(exclude={"items"})
    values["seasons"] = list(dict.fromkeys(values["seasons"]))
    outfit = await db_outfits.create_outfit(request.app[POOL], user_id(request), values, items)
    return await _respond(request, outfit, 201)


@endpoint("One of my outfits", tags=["wardrobe"], response=Outfit, errors=(404,))
async def get_outfit(request: web.Request) -> web.Response:
    return await _respond(request, await _own_outfit(request))


@endpoint("Change an outfit", tags=["wardrobe"], body=OutfitPatch, response=Outfit, errors=(404,))
async def patch_outfit(request: web.Request, body: OutfitPatch) -> web.Response:
    oid = path_uuid(request, "id", "outfit")
    items = await _checked_items(request, body.items) if body.items is not None else None
    changes = body.changes()
    if "seasons" in changes:
        changes["seasons"] = list(dict.fromkeys(changes["seasons"]))
    outfit = await db_outfits.update_outfit(
        request.app[POOL], user_id(request), oid, changes, items
    )
    return await _respond(request, outfit)


@endpoint("Delete an outfit", tags=["wardrobe"], status=204, errors=(404,))
async def delete_outfit(request: web.Request) -> web.Response:
    oid = path_uuid(request, "id", "outfit")
    keys = await db_outfits.delete_outfit(request.app[POOL], user_id(request), oid)
    if keys is None:
        raise not_found("outfit")
    await images.delete_objects(request, keys)
    return web.Response(status=204)


@endpoint("I wore this outfit today", tags=["wardrobe"], response=Outfit, errors=(404,))
async def wear_outfit(request: web.Request) -> web.Response:
    oid = path_uuid(request, "id", "outfit")
    return await _respond(
        request, await db_outfits.mark_worn(request.app[POOL], user_id(request), oid)
    )


# Cover -------------------------------------------------------------------------------------------


@endpoint(
    "Start uploading an outfit's cover image",
    tags=["wardrobe"],
    body=images.UploadIn,
    response=images.PresignedUpload,
    status=201,
    errors=(404,),
)
async def start_cover(request: web.Request, body: images.UploadIn) -> web.Response:
    outfit = await _own_outfit(request)
    form = await images.start_upload(
        request,
        owner_id=outfit["owner_id"],
        purpose="outfit_cover",
        target_id=outfit["id"],
        prefix=f"outfits/{outfit['owner_id']}/{outfit['id']}",
        content_type=body.content_type,
    )
    return json_response(form, 201)


@endpoint(
    "Confirm an outfit's uploaded cover image",
    tags=["wardrobe"],
    body=images.CompleteIn,
    response=Outfit,
    errors=(404, 409, 413),
)
async def complete_cover(request: web.Request, body: images.CompleteIn) -> web.Response:
    outfit = await _own_outfit(request)
    owner, oid = outfit["owner_id"], outfit["id"]
    if images.is_copy_of(outfit["cover_image_key"], body.key):  # a retried confirm
        return await _respond(request, outfit)
    side = drape_images.DISPLAY_SIDE
    got = await images.receive(
        request, key=body.key, owner_id=owner, purpose="outfit_cover", target_id=oid, sides=(side,)
    )
    done = await db_outfits.set_cover(
        request.app[POOL], owner, oid, upload_key=body.key, cover_key=got.keys[side]
    )
    if done is None:
        await images.delete_objects(request, list(got.keys.values()))
        raise Problem(
            409,
            "The outfit or the upload changed meanwhile; start a new upload.",
            code="upload_stale",
        )
    await images.delete_objects(request, [body.key, *done[1]])
    return await _respond(request, done[0])


@endpoint("Remove an outfit's cover image", tags=["wardrobe"], response=Outfit, errors=(404,))
async def delete_cover(request: web.Request) -> web.Response:
    oid = path_uuid(request, "id", "outfit")
    done = await db_outfits.set_cover(
        request.app[POOL], user_id(request), oid, upload_key=None, cover_key=None
    )
    if done is None:
        raise not_found("outfit")
    await images.delete_objects(request, done[1])
    return await _respond(request, done[0])
