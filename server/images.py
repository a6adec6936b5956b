"""Image uploads for any resource: hand out a presigned form, then check what arrived.

The phone sends the bytes straight to the object store. The confirm call fetches them back,
refuses anything too large or not a real image of the declared type (deleting the object and
marking the upload rejected) and stores resized WebP copies beside it. The copies are what is
served: EXIF metadata (GPS positions) never leaves the server, and the uploaded original, which
the presigned form could still overwrite until it expires, is deleted once they are attached.

That work runs here, in a two-thread pool of the web process, rather than in a worker: the
confirm call's answer *is* the verdict on the image, the size and pixel caps bound the work
(about 0.1 s for a 12 MP JPEG), and the pool bounds what a burst of uploads takes from a process.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from db import uploads as db_uploads
from drape import images
from drape.storage import ObjectNotFound
from server.context import POOL, SETTINGS, STORE
from server.errors import Problem, invalid

UPLOAD_EXPIRES = 15 * 60
DECODE_THREADS = 2

ImageType = Literal["image/jpeg", "image/png", "image/webp"]


class UploadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content_type: ImageType


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class PresignedUpload(BaseModel):
    """How to send the image: `method` (POST) to `url` as multipart/form-data (a browser form
    upload, S3's POST policy): first every entry of `fields` as a text part, in any order,
    then the image as the LAST part, named `file`, with the `content_type` given. No bearer
    token (the form is signed). Then call the `.../image/complete` operation with `key`."""

    key: str = Field(description="Send it to .../image/complete once uploaded")
    url: str = Field(description="Where to send the form")
    method: Literal["POST"] = Field(description="Always POST")
    fields: dict[str, str] = Field(description="Text parts to send before the file, verbatim")
    expires_at: str = Field(
        json_schema_extra={"format": "date-time"}, description="The form is refused after this"
    )
    max_bytes: int = Field(ge=1, description="The largest file accepted, bytes")
    content_type: str = Field(description="The file part's Content-Type, as asked for")
    encoding: Literal["multipart/form-data"] = Field(
        "multipart/form-data", description="How to encode the request body"
    )
    file_field: Literal["file"] = Field(
        "file", description="The name of the file part, which must come last"
    )


@functools.cache
def _decoder() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=DECODE_THREADS, thread_name_prefix="images")


async def start_upload(
    request: web.Request,
    *,
    owner_id: uuid.UUID,
    purpose: str,
    target_id: uuid.UUID,
    prefix: str,
    content_type: str,
) -> dict[str, Any]:
    """A presigned form for one image under `prefix/`, recorded as a pending upload."""
    _, ext = images.FORMATS[content_type]
    key = f"{prefix}/{secrets.token_hex(12)}.{ext}"
    max_bytes = request.app[SETTINGS].upload_max_bytes
    form = await request.app[STORE].presign_upload(
        key, content_type=content_type, max_bytes=max_bytes, expires=UPLOAD_EXPIRES
    )
    await db_uploads.create_upload(
        request.app[POOL],
        key=key,
        owner_id=owner_id,
        purpose=purpose,
        target_id=target_id,
        content_type=content_type,
        max_bytes=max_bytes,
        expires_at=form.expires_at,
    )
    return {"key": key, **form.as_json(), "encoding": "multipart/form-data", "file_field": "file"}


@dataclass(frozen=True, slots=True)
class Received:
    upload_key: str  # the object as uploaded; deleted once its copies are attached
    keys: dict[int, str]  # longest edge -> key of the WebP copy stored for it
    width: int
    height: int


def _stem(upload_key: str) -> str:
    return upload_key.rsplit(".", 1)[0]


def is_copy_of(key: str | None, upload_key: str) -> bool:
    """Whether `key` names a copy made from `upload_key` (a confirm call being retried)."""
    return key is not None and key.startswith(_stem(upload_key) + ".")


async def receive(
    request: web.Request,
    *,
    key: str,
    owner_id: uuid.UUID,
    purpose: str,
    target_id: uuid.UUID,
    sides: tuple[int, ...],
) -> Received:
    """Check the object uploaded under `key` and store its WebP copies, one per side length.
    The upload stays pending: the caller claims it in the transaction that attaches the copies,
    and deletes the copies if that fails (their names are unique to this call)."""
    pool, store = request.app[POOL], request.app[STORE]
    upload = await db_uploads.get_upload(pool, key)
    if upload is None or (upload["owner_id"], upload["purpose"], upload["target_id"]) != (
        owner_id,
        purpose,
        target_id,
    ):
        raise invalid("key", "is not an upload started for this resource")
    if upload["status"] != "pending":
        raise _settled(upload["status"])
    info = await store.head(key)
    # The local store enforces the form's size limit while receiving; S3 servers that ignore
    # content-length-range (moto, some gateways) do not, so the size is checked here again.
    limit = upload["max_bytes"]
    try:
        data = await store.get(key) if info is not None and info.size <= limit else None
    except ObjectNotFound:
        info = None
    if info is None:
        # Never uploaded, or a concurrent confirm of the same upload took it meanwhile.
        status = await db_uploads.upload_status(pool, key)
        if status != "pending":
            raise _settled(status)
        raise invalid("key", "has no uploaded file yet: post the form first")
    if data is None or len(data) > limit:  # the GET re-checks: the form may have been reused
        await _refuse(request, key)
        raise Problem(413, f"The file is over the {limit} bytes allowed.")
    render = functools.partial(images.render, data, upload["content_type"], sides)
    try:
        checked = await asyncio.get_running_loop().run_in_executor(_decoder(), render)
    except images.ImageRejected as e:
        await _refuse(request, key)
        raise invalid("image", str(e)) from None
    tag = secrets.token_hex(4)
    keys = {r.side: f"{_stem(key)}.{tag}.{r.side}.webp" for r in checked.renditions}
    for r in checked.renditions:
        await store.put(keys[r.side], r.data, "image/webp")
    return Received(upload_key=key, keys=keys, width=checked.width, height=checked.height)


def _settled(status: str | None) -> Problem:
    return Problem(
        409, f"This upload was already {status or 'removed'}; start a new one.", code="upload_stale"
    )


async def _refuse(request: web.Request, key: str) -> None:
    await request.app[STORE].delete(key)
    await db_uploads.reject_upload(request.app[POOL], key)


async def delete_objects(request: web.Request, keys: list[str]) -> None:
    """Best effort after a commit: a key left behind costs storage, never correctness."""
    store = request.app[STORE]
    for key in keys:
        try:
            await store.delete(key)
        except Exception:  # the object store may be briefly unavailable; nothing depends on it
            continue


async def url_or_none(request: web.Request, key: str | None) -> str | None:
    return await request.app[STORE].url(key) if key else None
