"""My profile photo through the presigned upload flow (checked, re-encoded as WebP, with a
thumbnail), and the public address that serves it: avatar_url points there, so the link never
expires while the object store's signed links do."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from db import users as db_users
from drape.images import DISPLAY_SIDE, THUMBNAIL_SIDE
from server import images
from server.auth import user_id
from server.context import POOL, SETTINGS, STORE
from server.errors import Problem, not_found
from server.openapi import endpoint
from server.params import json_response, path_uuid
from server.routes.users import Me, own_user

SIDES = (DISPLAY_SIDE, THUMBNAIL_SIDE)


class PhotoQuery(BaseModel):
    size: Literal["display", "thumb"] = "display"
    v: Annotated[str, Field(max_length=40)] | None = None  # the photo's version: for caches only


def photo_url(request: web.Request, user: uuid.UUID, display_key: str) -> str:
    """Stable for one photo, new for the next (the version defeats caches)."""
    version = display_key.rsplit("/", 1)[-1].split(".")[1]
    return f"{request.app[SETTINGS].public_url}/photos/{user}?v={version}"


@endpoint(
    "Start uploading my profile photo",
    tags=["users"],
    body=images.UploadIn,
    response=images.PresignedUpload,
    status=201,
)
async def start_photo(request: web.Request, body: images.UploadIn) -> web.Response:
    me = user_id(request)
    form = await images.start_upload(
        request,
        owner_id=me,
        purpose="user_avatar",
        target_id=me,
        prefix=f"users/{me}/photo",
        content_type=body.content_type,
    )
    return json_response(form, 201)


@endpoint(
    "Confirm my uploaded profile photo: avatar_url then serves it",
    tags=["users"],
    body=images.CompleteIn,
    response=Me,
    errors=(409, 413),
)
async def complete_photo(request: web.Request, body: images.CompleteIn) -> web.Response:
    me = user_id(request)
    got = await images.receive(
        request, key=body.key, owner_id=me, purpose="user_avatar", target_id=me, sides=SIDES
    )
    display, thumb = (got.keys[side] for side in SIDES)
    done = await db_users.set_photo(
        request.app[POOL],
        me,
        upload_key=body.key,
        keys=(display, thumb),
        url=photo_url(request, me, display),
    )
    if done is None:
        await images.delete_objects(request, list(got.keys.values()))
        raise Problem(409, "The upload changed meanwhile; start a new upload.")
    row, unused = done
    await images.delete_objects(request, [body.key, *unused])
    return json_response(own_user(row))


@endpoint("Remove my profile photo", tags=["users"], response=Me)
async def delete_photo(request: web.Request) -> web.Response:
    done = await db_users.set_photo(
        request.app[POOL], user_id(request), upload_key=None, keys=None, url=None
    )
    assert done is not None  # no upload to claim: it cannot lose a race
    row, unused = done
    await images.delete_objects(request, unused)
    return json_response(own_user(row))


@endpoint(
    "A user's profile photo (public, like the avatar_url that names it): a redirect to the image",
    tags=["users"],
    query=PhotoQuery,
    auth=False,
    status=302,
    errors=(404,),
)
async def photo(request: web.Request, query: PhotoQuery) -> web.Response:
    keys = await db_users.photo_keys(request.app[POOL], path_uuid(request, "id", "user"))
    key = keys and keys["avatar_thumb_key" if query.size == "thumb" else "avatar_key"]
    if not key:
        raise not_found("photo")
    url = await request.app[STORE].url(key)
    return web.Response(status=302, headers={"Location": url, "Cache-Control": "max-age=300"})
