"""The same tests for both object-store backends: the local folder and S3 (moto over HTTP)."""

from __future__ import annotations

import uuid

import aiohttp
import pytest

from drape.settings import Settings
from drape.storage import ObjectNotFound, ObjectStore, open_store


@pytest.fixture
async def store(settings: Settings, store_kind: str, server: object) -> ObjectStore:
    # `server` is running so the local store's signed URLs are served.
    async with open_store(
        settings.object_store_url, public_url=settings.public_url, secret=settings.jwt_secret
    ) as st:
        assert st.kind == store_kind
        yield st


def _key() -> str:
    return f"tests/{uuid.uuid4()}.bin"


async def test_put_get_head_delete(store: ObjectStore) -> None:
    key = _key()
    assert await store.head(key) is None
    await store.put(key, b"hello", "text/plain")
    info = await store.head(key)
    assert info is not None and info.size == 5 and info.content_type == "text/plain"
    assert await store.get(key) == b"hello"
    await store.delete(key)
    assert await store.head(key) is None
    with pytest.raises(ObjectNotFound):
        await store.get(key)


async def test_presigned_get_works_with_plain_http(store: ObjectStore) -> None:
    key = _key()
    await store.put(key, b"\x00\x01bytes", "application/octet-stream")
    url = await store.url(key, expires=60)
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        assert r.status == 200
        assert await r.read() == b"\x00\x01bytes"


# Signature checks are the store's own job; moto accepts any signature, so these two run on
# the local store, whose signing is ours.
async def test_tampered_get_url_is_refused(store: ObjectStore, store_kind: str) -> None:
    if store_kind == "s3":
        pytest.skip("moto does not verify S3 signatures")
    key = _key()
    await store.put(key, b"secret", "text/plain")
    url = await store.url(key, expires=60)
    other = _key()
    await store.put(other, b"other", "text/plain")
    async with aiohttp.ClientSession() as http, http.get(url.replace(key, other)) as r:
        assert r.status == 403


async def test_presigned_upload_with_plain_http(store: ObjectStore) -> None:
    key = _key()
    up = await store.presign_upload(key, content_type="image/png", max_bytes=1024)
    form = aiohttp.FormData()
    for k, v in up.fields.items():
        form.add_field(k, v)
    form.add_field("file", b"\x89PNG fake body", filename="x.png", content_type="image/png")
    async with aiohttp.ClientSession() as http, http.post(up.url, data=form) as r:
        assert r.status in (200, 201, 204), await r.text()
    info = await store.head(key)
    assert info is not None and info.size == len(b"\x89PNG fake body")
    assert info.content_type == "image/png"


async def test_upload_with_forged_fields_is_refused(store: ObjectStore, store_kind: str) -> None:
    if store_kind == "s3":
        pytest.skip("moto does not verify S3 signatures")
    key = _key()
    up = await store.presign_upload(key, content_type="image/png", max_bytes=1024)
    form = aiohttp.FormData()
    for k, v in up.fields.items():
        form.add_field(k, "tests/elsewhere.bin" if k == "key" else v)
    form.add_field("file", b"data", filename="x.png", content_type="image/png")
    async with aiohttp.ClientSession() as http, http.post(up.url, data=form) as r:
        assert r.status == 403, await r.text()
    assert await store.head("tests/elsewhere.bin") is None


async def test_ping(store: ObjectStore) -> None:
    await store.ping()


def test_keys_are_checked() -> None:
    from drape.storage import check_key

    for bad in ["../etc/passwd", "/abs", "a//b", "a/../b", "", "a b"]:
        with pytest.raises(ValueError):
            check_key(bad)
    assert check_key("garments/u1/g1.jpg") == "garments/u1/g1.jpg"
