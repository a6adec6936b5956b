"""Outfits: items and slot rules, replacing items atomically, wear counts, the cover, access."""

from __future__ import annotations

import asyncio
import io
import uuid
from typing import Any

import asyncpg
import pytest
from PIL import Image

from db import outfits as db_outfits
from server.context import STORE
from server.routes.outfits import outfit_json
from tests.conftest import Api, RunningApp, User
from tests.wardrobe_helpers import fetch, garment, image_bytes, quick_users, upload_image


async def _wardrobe(api: Api, user: User) -> dict[str, str]:
    """One garment of each kind, by name."""
    kinds = {
        "tee": ("tops", "t_shirt"),
        "shirt": ("tops", "shirt"),
        "jeans": ("bottoms", "jeans"),
        "skirt": ("bottoms", "skirt"),
        "dress": ("dresses", "midi_dress"),
        "coat": ("outerwear", "coat"),
        "boots": ("shoes", "boots"),
        "sneakers": ("shoes", "sneakers"),
        "tote": ("bags", "tote"),
        "scarf": ("accessories", "scarf"),
    }
    out = {}
    for name, (category, sub) in kinds.items():
        out[name] = (await garment(api, user, name=name, category=category, subcategory=sub))["id"]
    return out


def _items(w: dict[str, str], *pairs: str) -> list[dict[str, Any]]:
    """'tee:top' -> {garment_id, slot}, in list order."""
    return [{"garment_id": w[p.split(":")[0]], "slot": p.split(":")[1]} for p in pairs]


async def _outfit(api: Api, user: User, items: list[dict[str, Any]], **fields: Any) -> dict:  # type: ignore[type-arg]
    r = await api.post("/v1/outfits", token=user.token, json={"items": items, **fields})
    assert r.status == 201, await r.text()
    return await r.json()


async def test_create_and_read_back(api: Api, pool: asyncpg.Pool) -> None:
    (alice,) = await quick_users(api, pool, "alice")
    w = await _wardrobe(api, alice)
    o = await _outfit(
        api,
        alice,
        _items(w, "coat:outer", "tee:top", "jeans:bottom", "boots:shoes", "scarf:accessory"),
        name=" Friday ",
        occasion="work",
        seasons=["autumn", "winter", "autumn"],
        is_favorite=True,
    )
    assert o["name"] == "Friday" and o["occasion"] == "work" and o["is_favorite"] is True
    assert o["seasons"] == ["autumn", "winter"] and o["source"] == "user"
    assert o["owner_id"] == alice.id and o["wear_count"] == 0 and o["cover_url"] is None
    assert [(i["garment"]["name"], i["slot"], i["position"]) for i in o["items"]] == [
        ("coat", "outer", 0),
        ("tee", "top", 1),
        ("jeans", "bottom", 2),
        ("boots", "shoes", 3),
        ("scarf", "accessory", 4),
    ]
    assert o["items"][0]["garment"]["category"] == "outerwear"
    assert o["items"][0]["garment"]["thumbnail_url"] is None
    r = await api.get(f"/v1/outfits/{o['id']}", token=alice.token)
    assert r.status == 200 and await r.json() == o


async def test_explicit_positions_order_the_items(api: Api, pool: asyncpg.Pool) -> None:
    (alice,) = await quick_users(api, pool, "alice")
    w = await _wardrobe(api, alice)
    items = [
        {"garment_id": w["sneakers"], "slot": "shoes", "position": 9},
        {"garment_id": w["dress"], "slot": "dress", "position": 2},
        {"garment_id": w["coat"], "slot": "outer", "position": 0},
    ]
    o = await _outfit(api, alice, items)
    assert [(i["garment"]["name"], i["position"]) for i in o["items"]] == [
        ("coat", 0),
        ("dress", 2),
        ("sneakers", 9),
    ]


@pytest.mark.parametrize(
    ("pairs", "field", "message"),
    [
        (("jeans:bottom", "skirt:bottom"), "items", "slot 'bottom'"),
        (("boots:shoes", "sneakers:shoes"), "items", "slot 'shoes'"),
        (("dress:dress", "jeans:bottom"), "items", "both a 'dress' and a 'bottom'"),
        (("tee:top", "tee:top"), "items", "twice"),
        (("boots:top",), "items.0.slot", "cannot be a 'top'"),
        (("tee:top", "jeans:shoes"), "items.1.slot", "cannot be a 'shoes'"),
        (("tee:hat",), "items.0.slot", "should be"),
        ((), "items", "at least 1"),
    ],
)
async def test_outfits_one_cannot_wear_are_refused(
    api: Api, pool: asyncpg.Pool, pairs: tuple[str, ...], field: str, message: str
) -> None:
    (alice,) = await quick_users(api, pool, "alice")
    w = await _wardrobe(api, alice)
    r = await api.post("/v1/outfits", token=alice.token, json={"items": _items(w, *pairs)})
    assert r.status == 422, await r.text()
    errors = (await r.json())["errors"]
    assert errors[0]["field"] == field and message in errors[0]["message"], errors
    assert await pool.fetchval("SELECT count(*) FROM outfits") == 0


async def test_other_input_checks(api: Api, pool: asyncpg.Pool) -> None:
    (alice,) = await quick_users(api, pool, "alice")
    w = await _wardrobe(api, alice)
    items = _items(w, "tee:top")
    bad = [
        ({"items": items, "occasion": "funeral"}, "occasion"),
        ({"items": items, "seasons": ["monsoon"]}, "seasons.0"),
        ({"items": items, "name": "x" * 121}, "name"),
        ({"items": items, "wear_count": 3}, "wear_count"),
        ({"items": [{**items[0], "position": 32}]}, "items.0.position"),
        (
            {"items": [{**items[0], "position": 1}, {"garment_id": w["jeans"], "slot": "bottom"}]},
            "items",
        ),
        ({"items": [{"garment_id": "not-a-uuid", "slot": "top"}]}, "items.0.garment_id"),
    ]
    for body, field in bad:
        r = await api.post("/v1/outfits", token=alice.token, json=body)
        assert r.status == 422, (body, await r.text())
        assert field in [e["field"] for e in (await r.json())["errors"]], body
    assert await pool.fetchval("SELECT count(*) FROM outfits") == 0


async def test_another_users_garment_cannot_be_in_my_outfit(api: Api, pool: asyncpg.Pool) -> None:
    alice, bob = await quick_users(api, pool, "alice", "bob")
    w = await _wardrobe(api, alice)
    bobs = await garment(api, bob, name="bob's jeans", category="bottoms")
    items = [*_items(w, "tee:top"), {"garment_id": bobs["id"], "slot": "bottom"}]
    r = await api.post("/v1/outfits", token=alice.token, json={"items": items})
    assert r.status == 422, await r.text()
    assert (await r.json())["errors"] == [
        {"field": "items", "message": "may only hold your own garments"}
    ]
    unknown = [{"garment_id": str(uuid.uuid4()), "slot": "top"}]
    r = await api.post("/v1/outfits", token=alice.token, json={"items": unknown})
    assert r.status == 422
    assert await pool.fetchval("SELECT count(*) FROM outfits") == 0
    assert await pool.fetchval("SELECT count(*) FROM outfit_items") == 0


async def test_patch_replaces_items_in_one_transaction(api: Api, pool: asyncpg.Pool) -> None:
    alice, bob = await quick_users(api, pool, "alice", "bob")
    w = await _wardrobe(api, alice)
    o = await _outfit(api, alice, _items(w, "tee:top", "jeans:bottom"), name="Day")
    path = f"/v1/outfits/{o['id']}"

    r = await api.patch(path, token=alice.token, json={"name": "Day off", "occasion": None})
    assert r.status == 200, await r.text()
    assert (await r.json())["items"] == o["items"]

    r = await api.patch(
        path, token=alice.token, json={"items": _items(w, "dress:dress", "boots:shoes")}
    )
    assert r.status == 200, await r.text()
    got = await r.json()
    assert [i["garment"]["name"] for i in got["items"]] == ["dress", "boots"]
    assert got["name"] == "Day off"

    # The new items are inserted after the old ones are deleted: if the insert fails (another
    # user's garment), the delete is rolled back with it.
    bobs = await garment(api, bob, category="shoes")
    items = [*_items(w, "shirt:top"), {"garment_id": bobs["id"], "slot": "shoes"}]
    r = await api.patch(path, token=alice.token, json={"items": items, "name": "Broken"})
    assert r.status == 422, await r.text()
    after = await (await api.get(path, token=alice.token)).json()
    assert after == got


async def test_worn_counts_once_per_call_for_the_outfit_and_its_garments(
    api: Api, pool: asyncpg.Pool
) -> None:
    alice, bob = await quick_users(api, pool, "alice", "bob")
    w = await _wardrobe(api, alice)
    o = await _outfit(api, alice, _items(w, "tee:top", "jeans:bottom", "boots:shoes"))
    o2 = await _outfit(api, alice, _items(w, "shirt:top", "jeans:bottom", "boots:shoes"))
    path = f"/v1/outfits/{o['id']}/worn"

    r = await api.post(path, token=alice.token)
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["wear_count"] == 1 and body["last_worn_at"] is not None
    # Concurrent calls, and an outfit sharing garments worn at the same time: every call counts
    # exactly once and none deadlocks.
    calls = [api.post(path, token=alice.token) for _ in range(6)]
    calls += [api.post(f"/v1/outfits/{o2['id']}/worn", token=alice.token) for _ in range(3)]
    assert {r.status for r in await asyncio.gather(*calls)} == {200}
    assert (await api.post(path, token=bob.token)).status == 404

    rows = await pool.fetch("SELECT name, wear_count, last_worn_at FROM garments")
    counts = {r["name"]: r["wear_count"] for r in rows}
    assert counts == {
        "tee": 7, "jeans": 10, "boots": 10, "shirt": 3,
        "skirt": 0, "dress": 0, "coat": 0, "sneakers": 0, "tote": 0, "scarf": 0,
    }  # fmt: skip
    worn = {r["name"] for r in rows if r["last_worn_at"] is not None}
    assert worn == {"tee", "jeans", "boots", "shirt"}
    got = await (await api.get(f"/v1/outfits/{o['id']}", token=alice.token)).json()
    assert got["wear_count"] == 7
    g = await (await api.get(f"/v1/garments/{w['tee']}", token=alice.token)).json()
    assert g["wear_count"] == 7 and g["last_worn_at"] is not None


async def test_deleting_garments_and_outfits(api: Api, pool: asyncpg.Pool) -> None:
    (alice,) = await quick_users(api, pool, "alice")
    w = await _wardrobe(api, alice)
    o = await _outfit(api, alice, _items(w, "tee:top", "jeans:bottom"))
    assert (await api.delete(f"/v1/garments/{w['tee']}", token=alice.token)).status == 204
    got = await (await api.get(f"/v1/outfits/{o['id']}", token=alice.token)).json()
    assert [i["garment"]["name"] for i in got["items"]] == ["jeans"]
    assert (await api.delete(f"/v1/outfits/{o['id']}", token=alice.token)).status == 204
    assert (await api.get(f"/v1/outfits/{o['id']}", token=alice.token)).status == 404
    assert (await api.get(f"/v1/garments/{w['jeans']}", token=alice.token)).status == 200


async def test_list_filters_and_paging(api: Api, pool: asyncpg.Pool) -> None:
    alice, bob = await quick_users(api, pool, "alice", "bob")
    w = await _wardrobe(api, alice)
    work = await _outfit(api, alice, _items(w, "shirt:top", "jeans:bottom"), occasion="work")
    date = await _outfit(
        api, alice, _items(w, "dress:dress"), occasion="date", is_favorite=True, seasons=["summer"]
    )
    casual = await _outfit(api, alice, _items(w, "tee:top", "jeans:bottom"), seasons=["spring"])
    await _outfit(api, bob, _items(await _wardrobe(api, bob), "tee:top"))

    async def ids(query: str) -> list[str]:
        r = await api.get(f"/v1/outfits?{query}", token=alice.token)
        assert r.status == 200, await r.text()
        return [o["id"] for o in (await r.json())["items"]]

    assert await ids("") == [casual["id"], date["id"], work["id"]]
    assert await ids("occasion=work") == [work["id"]]
    assert await ids("favorite=true") == [date["id"]]
    assert await ids("favorite=false") == [casual["id"], work["id"]]
    assert await ids("season=summer&season=spring") == [casual["id"], date["id"]]
    assert await ids(f"garment_id={w['jeans']}") == [casual["id"], work["id"]]
    r = await api.get("/v1/outfits?limit=2", token=alice.token)
    first = await r.json()
    assert [o["id"] for o in first["items"]] == [casual["id"], date["id"]]
    assert await ids(f"limit=2&cursor={first['next_cursor']}") == [work["id"]]
    assert (await api.get("/v1/outfits?occasion=funeral", token=alice.token)).status == 422


async def test_authorization_matrix(api: Api, pool: asyncpg.Pool) -> None:
    """Every outfit route: anonymous 401, another user 404, the owner gets through."""
    owner, other = await quick_users(api, pool, "owner", "other")
    w = await _wardrobe(api, owner)
    o = await _outfit(api, owner, _items(w, "tee:top"))
    oid = o["id"]
    routes: list[tuple[str, str, dict[str, Any] | None, int]] = [
        ("GET", f"/v1/outfits/{oid}", None, 200),
        ("PATCH", f"/v1/outfits/{oid}", {"name": "mine"}, 200),
        ("POST", f"/v1/outfits/{oid}/worn", None, 200),
        ("POST", f"/v1/outfits/{oid}/cover", {"content_type": "image/jpeg"}, 201),
        ("POST", f"/v1/outfits/{oid}/cover/complete", {"key": "outfits/x/y.jpg"}, 422),
        ("DELETE", f"/v1/outfits/{oid}/cover", None, 200),
        ("DELETE", f"/v1/outfits/{oid}", None, 204),
    ]
    for method, path, body, ok in routes:
        r = await api.request(method, path, token="", json=body)
        assert r.status == 401, (method, path, r.status)
        r = await api.request(method, path, token=other.token, json=body)
        assert r.status == 404, (method, path, r.status)
        r = await api.request(method, path, token=owner.token, json=body)
        assert r.status == ok, (method, path, await r.text())
    assert (await api.request("GET", "/v1/outfits", token="")).status == 401
    r = await api.request("POST", "/v1/outfits", token="", json={"items": _items(w, "tee:top")})
    assert r.status == 401
    await _outfit(api, owner, _items(w, "tee:top"))
    r = await api.get("/v1/outfits", token=other.token)
    assert r.status == 200 and (await r.json())["items"] == []
    # Another user cannot use my outfit's garments either.
    r = await api.post("/v1/outfits", token=other.token, json={"items": _items(w, "tee:top")})
    assert r.status == 422


async def test_outfit_for_reuse_matches_the_api(
    api: Api, pool: asyncpg.Pool, server: RunningApp
) -> None:
    (alice,) = await quick_users(api, pool, "alice")
    w = await _wardrobe(api, alice)
    o = await _outfit(api, alice, _items(w, "tee:top", "jeans:bottom"))
    async with pool.acquire() as conn:
        row = await db_outfits.get_outfit_with_items(conn, uuid.UUID(o["id"]))
        assert await db_outfits.get_outfit_with_items(conn, uuid.uuid4()) is None
    assert row is not None and row["owner_id"] == uuid.UUID(alice.id)
    assert await outfit_json(server.app[STORE], row) == o


async def test_cover_image(api: Api, pool: asyncpg.Pool, server: RunningApp) -> None:
    (alice,) = await quick_users(api, pool, "alice")
    w = await _wardrobe(api, alice)
    o = await _outfit(api, alice, _items(w, "dress:dress"))
    path = f"/v1/outfits/{o['id']}/cover"
    big = image_bytes("JPEG", size=(2400, 1800))
    form, done = await upload_image(api, alice, path, big, "image/jpeg")
    assert done.status == 200, await done.text()
    got = await done.json()
    status, data = await fetch(got["cover_url"])
    assert status == 200
    with Image.open(io.BytesIO(data)) as cover:
        assert cover.format == "WEBP" and cover.size == (1600, 1200)
    store = server.app[STORE]
    assert await store.head(form["key"]) is None
    key = await pool.fetchval("SELECT cover_image_key FROM outfits")
    # A garment's upload cannot become a cover, nor a cover's a garment image.
    r = await api.post(
        f"/v1/garments/{w['tee']}/image/complete", token=alice.token, json={"key": form["key"]}
    )
    assert r.status == 422
    r = await api.delete(path, token=alice.token)
    assert r.status == 200 and (await r.json())["cover_url"] is None
    assert await store.head(key) is None
