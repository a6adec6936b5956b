"""What the wardrobe tests share: quick accounts, garments, generated images, uploads."""

from __future__ import annotations

import io
from typing import Any

import aiohttp
import asyncpg
from PIL import Image

from tests.conftest import Api, User


async def quick_users(api: Api, pool: asyncpg.Pool, *names: str) -> list[User]:
    """Accounts without paying for password hashes."""
    rows = await pool.fetch(
        "INSERT INTO users (email, username, password_hash)"
        " SELECT n || '@example.com', n, 'unused' FROM unnest($1::text[]) AS n"
        " RETURNING id, username",
        list(names),
    )
    by_name = {r["username"]: r["id"] for r in rows}
    return [
        User(id=str(by_name[n]), username=n, token=api.token_for(by_name[n]), refresh_token="")
        for n in names
    ]


async def garment(api: Api, user: User, **fields: Any) -> dict[str, Any]:
    body = {"name": "Plain tee", "category": "tops", **fields}
    r = await api.post("/v1/garments", token=user.token, json=body)
    assert r.status == 201, await r.text()
    return await r.json()


def image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (800, 600), colors: tuple[str, ...] = ("#c62828",)
) -> bytes:
    """An image in vertical bands of the given colours, widths in proportion 60/40 for two."""
    im = Image.new("RGB", size, colors[0])
    if len(colors) == 2:
        split = int(size[0] * 0.6)
        im.paste(colors[1], (split, 0, size[0], size[1]))
    out = io.BytesIO()
    im.save(out, fmt)
    return out.getvalue()


async def post_form(form: dict[str, Any], data: bytes, content_type: str) -> int:
    """Upload like a phone: a plain multipart POST of the presigned fields and the file. A server
    that refuses mid-body may drop the connection, which counts as 413."""
    body = aiohttp.FormData()
    for k, v in form["fields"].items():
        body.add_field(k, v)
    body.add_field("file", data, filename="upload", content_type=content_type)
    async with aiohttp.ClientSession() as http:
        try:
            async with http.post(form["url"], data=body) as r:
                if r.status >= 400 and r.connection is not None and r.connection.transport:
                    # Refused before the whole body was sent: drop the rest instead of letting
                    # the socket flush megabytes nobody reads.
                    r.connection.transport.abort()
                return r.status
        except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError):
            return 413


async def upload_image(
    api: Api,
    user: User,
    path: str,
    data: bytes,
    content_type: str = "image/png",
) -> tuple[dict[str, Any], aiohttp.ClientResponse]:
    """Start an upload at `path` (…/image or …/cover), post the bytes, confirm. Returns the
    form and the confirm response."""
    r = await api.post(path, token=user.token, json={"content_type": content_type})
    assert r.status == 201, await r.text()
    form = await r.json()
    status = await post_form(form, data, content_type)
    assert status in (200, 201, 204), status
    done = await api.post(f"{path}/complete", token=user.token, json={"key": form["key"]})
    return form, done


async def fetch(url: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        return r.status, await r.read()
