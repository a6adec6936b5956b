"""A profile photo through the presigned flow: checked, re-encoded with a thumbnail, served at a
stable public address that avatar_url names; replaced and removed with its objects."""

from __future__ import annotations

import io
from typing import Any

import asyncpg
from PIL import Image

from server.context import STORE
from tests.conftest import Api, RunningApp
from tests.social_helpers import new_post
from tests.wardrobe_helpers import fetch, image_bytes, post_form, quick_users, upload_image


async def _ok(r: Any, status: int = 200) -> Any:
    assert r.status == status, await r.text()
    return await r.json()


async def _keys(server: RunningApp, prefix: str) -> list[str]:
    return [k async for k in server.app[STORE].keys(prefix)]


async def test_profile_photo_is_served_replaced_and_removed(
    store_kind: str, api: Api, pool: asyncpg.Pool, server: RunningApp
) -> None:
    me, other = await quick_users(api, pool, "selfie", "viewer")
    _, done = await upload_image(api, me, "/v1/me/photo", image_bytes("PNG", (1200, 900)))
    body = await _ok(done)
    url = body["avatar_url"]
    assert url.startswith(f"{api.settings.public_url}/photos/{me.id}?v=")
    status, data = await fetch(url)
    assert status == 200
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "WEBP" and max(im.size) == 1200
    status, thumb = await fetch(f"{api.settings.public_url}/photos/{me.id}?size=thumb")
    with Image.open(io.BytesIO(thumb)) as im:
        assert status == 200 and max(im.size) == 320

    # Others see it on the profile and on posts.
    seen = await _ok(await api.get(f"/v1/users/{me.username}", token=other.token))
    assert seen["avatar_url"] == url
    post = await new_post(api, me)
    got = await _ok(await api.get(f"/v1/posts/{post}", token=other.token))
    assert got["author"]["avatar_url"] == url

    # A new photo replaces the old one's objects and changes the address.
    before = await _keys(server, f"users/{me.id}/")
    assert len(before) == 2
    _, done = await upload_image(
        api, me, "/v1/me/photo", image_bytes("JPEG", (600, 600)), "image/jpeg"
    )
    second = (await _ok(done))["avatar_url"]
    after = await _keys(server, f"users/{me.id}/")
    assert second != url and len(after) == 2 and not set(before) & set(after)

    removed = await _ok(await api.delete("/v1/me/photo", token=me.token))
    assert removed["avatar_url"] is None
    assert await _keys(server, f"users/{me.id}/") == []
    assert (await api.get(f"/photos/{me.id}")).status == 404


async def test_bad_photos_and_strangers_are_refused(api: Api, pool: asyncpg.Pool) -> None:
    me, other = await quick_users(api, pool, "careful", "meddler")
    r = await api.post("/v1/me/photo", token=me.token, json={"content_type": "image/png"})
    form = await _ok(r, 201)
    assert await post_form(form, b"not an image at all", "image/png") in (200, 201, 204)
    r = await api.post("/v1/me/photo/complete", token=me.token, json={"key": form["key"]})
    assert r.status == 422, await r.text()
    # Someone else cannot claim my upload for their photo.
    r = await api.post("/v1/me/photo", token=me.token, json={"content_type": "image/png"})
    form = await _ok(r, 201)
    assert await post_form(form, image_bytes("PNG"), "image/png") in (200, 201, 204)
    r = await api.post("/v1/me/photo/complete", token=other.token, json={"key": form["key"]})
    assert r.status == 422
    me_now = await _ok(await api.get("/v1/me", token=me.token))
    assert me_now["avatar_url"] is None
    r = await api.post("/v1/me/photo", token=me.token, json={"content_type": "text/html"})
    assert r.status == 422
    assert (await api.post("/v1/me/photo", json={"content_type": "image/png"})).status == 401
    assert (await api.get("/photos/not-an-id")).status == 404
    assert (await api.get(f"/photos/{me.id}", params={"size": "huge"})).status == 422
