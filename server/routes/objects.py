"""The local object store's upload and download URLs (S3 serves its own).

Uploads are presigned POST forms, the same shape as S3's: the signed fields fix the key, the
content type, the size limit and the expiry; the file is streamed to disk with the limit enforced.
"""

from __future__ import annotations

import time

from aiohttp import BodyPartReader, web

from drape.storage import LocalStore, check_key
from server.context import STORE
from server.errors import Problem

SIGNED_FIELDS = ("key", "Content-Type", "max_bytes", "expires", "signature")


def _local(request: web.Request) -> LocalStore:
    store = request.app[STORE]
    if not isinstance(store, LocalStore):
        raise Problem(404, "This deployment serves objects from its object store.")
    return store


async def upload(request: web.Request) -> web.Response:
    store = _local(request)
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError, KeyError):
        raise Problem(
            400, "Send the presigned fields and the file as multipart/form-data."
        ) from None
    fields: dict[str, str] = {}
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise Problem(400, "Nested multipart is not accepted.")
        if part.name == "file":
            _check_policy(store, fields)
            data = await _read_limited(part, int(fields["max_bytes"]))
            await store.put(fields["key"], data, fields["Content-Type"])
            return web.Response(status=204)
        if part.name in SIGNED_FIELDS:
            fields[part.name] = (await part.read(decode=False)).decode("utf-8", "replace")[:1024]
    raise Problem(400, "The form has no file part.")


def _check_policy(store: LocalStore, fields: dict[str, str]) -> None:
    missing = [f for f in SIGNED_FIELDS if f not in fields]
    if missing:
        raise Problem(400, f"Fields must come before the file; missing: {', '.join(missing)}.")
    try:
        check_key(fields["key"])
        expires = int(fields["expires"])
        int(fields["max_bytes"])
    except ValueError:
        raise Problem(400, "Malformed upload fields.") from None
    signed = ("POST", fields["key"], fields["Content-Type"], fields["max_bytes"], fields["expires"])
    if not store.verify(fields["signature"], *signed):
        raise Problem(403, "The upload signature does not match.", code="link_expired")
    if expires < time.time():
        raise Problem(403, "The upload form has expired.", code="link_expired")


async def _read_limited(part: BodyPartReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"The file is larger than the {limit} bytes allowed.")
        chunks.append(chunk)
    if size == 0:
        raise Problem(400, "The file is empty.")
    return b"".join(chunks)


async def download(request: web.Request) -> web.StreamResponse:
    store = _local(request)
    key = request.match_info["key"]
    expires = request.query.get("expires", "")
    signature = request.query.get("signature", "")
    try:
        check_key(key)
    except ValueError:
        raise Problem(404, "No such object.") from None
    if not expires.isdigit() or not store.verify(signature, "GET", key, expires):
        raise Problem(403, "The link is not valid.", code="link_expired")
    if int(expires) < time.time():
        raise Problem(403, "The link has expired.", code="link_expired")
    info = await store.head(key)
    if info is None:
        raise Problem(404, "No such object.")
    return web.FileResponse(
        store.root / key,
        headers={"Content-Type": info.content_type, "Cache-Control": "private, max-age=300"},
    )
