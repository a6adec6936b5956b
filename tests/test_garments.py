"""Garments: CRUD, validation, filters, keyset paging and who may do what."""

from __future__ import annotations

import random
import uuid
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest

from drape.colors import color_family
from tests.conftest import Api
from tests.wardrobe_helpers import garment, quick_users

FULL = {
    "name": "  Navy wool coat ",
    "category": "outerwear",
    "subcategory": "coat",
    "colors": [{"hex": "#1F2A44"}, {"hex": "#c62828", "family": "burgundy"}],
    "pattern": "solid",
    "material": "wool",
    "formality": 4,
    "warmth": 5,
    "seasons": ["winter", "autumn", "winter"],
    "brand": "Acme",
    "size": "M",
    "price": 149.9,
    "currency": "EUR",
    "purchased_on": "2023-11-02",
    "tags": ["  Work ", "WORK", "date  night"],
    "notes": "Dry clean only.",
}


async def test_create_and_read_back(api: Api, pool: asyncpg.Pool) -> None:
    (alice,) = await quick_users(api, pool, "alice")
    g = await garment(api, alice, **FULL)
    assert g["name"] == "Navy wool coat" and g["subcategory"] == "coat"
    # The family is named from the hex when left out; a given family is kept.
    assert g["colors"] == [
        {"hex": "#1f2a44", "family": "navy", "share": None},
        {"hex": "#c62828", "family": "burgundy", "share": None},
    ]
    assert g["color_source"] == "user"
    assert g["seasons"] == ["winter", "autumn"] and g["tags"] == ["work", "date night"]
    assert g["price"] == 149.9 and g["currency"] == "EUR" and g["purchased_on"] == "2023-11-02"
    assert g["wear_count"] == 0 and g["last_worn_at"] is None and g["is_archived"] is False
    assert g["image_url"] is None and g["thumbnail_url"] is None
    r = await api.get(f"/v1/garments/{g['id']}", token=alice.token)
    assert r.status == 200, await r.text()
    assert await r.json() == g


async def test_defaults(api: Api, pool: asyncpg.Pool) -> None:
    (alice,) = await quick_users(api, pool, "alice")
    g = await garment(api, alice, name="Tee")
    assert (g["pattern"], g["formality"], g["warmth"], g["currency"]) == ("solid", 3, 3, "USD")
    assert g["colors"] == [] and g["subcategory"] is None and g["price"] is None


IN_THREE_DAYS = (date.today() + timedelta(days=3)).isoformat()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"category": "capes"}, "category"),
        ({"category": "tops", "subcategory": "jeans"}, "subcategory"),
        ({"subcategory": "hoverboard"}, "subcategory"),
        ({"colors": [{"hex": "#12345"}]}, "colors.0.hex"),
        ({"colors": [{"hex": "red"}]}, "colors.0.hex"),
        ({"colors": [{"hex": "#123456", "family": "mauve"}]}, "colors.0.family"),
        ({"price": -0.01}, "price"),
        ({"price": 1.234}, "price"),
        ({"currency": "euro"}, "currency"),
        ({"formality": 6}, "formality"),
        ({"warmth": 0}, "warmth"),
        ({"seasons": ["monsoon"]}, "seasons.0"),
        ({"pattern": "tartan"}, "pattern"),
        ({"purchased_on": IN_THREE_DAYS}, "purchased_on"),
        ({"tags": ["x" * 33]}, "tags.0"),
        ({"tags": ["no/slashes"]}, "tags.0"),
        ({"tags": [f"t{i}" for i in range(21)]}, "tags"),
        ({"name": "   "}, "name"),
        ({"wear_count": 10}, "wear_count"),
        ({"last_worn_at": "2024-01-01T00:00:00Z"}, "last_worn_at"),
        ({"image_url": "https://evil.example/x.jpg"}, "image_url"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    api: Api, pool: asyncpg.Pool, change: dict[str, Any], field: str
) -> None:
    (alice,) = await quick_users(api, pool, "alice")
    existing = await garment(api, alice, subcategory="t_shirt")
    r = await api.post("/v1/garments", token=alice.token, json={**FULL, **change})
    assert r.status == 422, await r.text()
    assert r.content_type == "application/problem+json"
    assert field in [e["field"] for e in (await r.json())["errors"]]
    r = await api.patch(f"/v1/garments/{existing['id']}", token=alice.token, json=change)
    assert r.status == 422, await r.text()
    assert await pool.fetchval("SELECT count(*) FROM garments") == 1
    after = await (await api.get(f"/v1/garments/{existing['id']}", token=alice.token)).json()
    assert after == existing


async def test_patch_changes_only_what_is_sent(api: Api, pool: asyncpg.Pool) -> None:
    (alice,) = await quick_users(api, pool, "alice")
    g = await garment(api, alice, **FULL)
    r = await api.patch(
        f"/v1/garments/{g['id']}",
        token=alice.token,
        json={"warmth": 4, "brand": None, "name": None, "colors": [{"hex": "#2e8b57"}]},
    )
    assert r.status == 200, await r.text()
    got = await r.json()
    # null clears what may be empty (brand) and leaves what may not (name).
    assert got["warmth"] == 4 and got["brand"] is None and got["name"] == "Navy wool coat"
    assert got["colors"] == [{"hex": "#2e8b57", "family": "green", "share": None}]
    assert got["material"] == "wool" and got["tags"] == ["work", "date night"]
    assert got["updated_at"] >= g["updated_at"]


async def test_patch_keeps_category_and_subcategory_consistent(
    api: Api, pool: asyncpg.Pool
) -> None:
    (alice,) = await quick_users(api, pool, "alice")
    g = await garment(api, alice, category="bottoms", subcategory="jeans")
    path = f"/v1/garments/{g['id']}"
    r = await api.patch(path, token=alice.token, json={"category": "tops"})
    assert r.status == 422 and (await r.json())["errors"][0]["field"] == "subcategory"
    r = await api.patch(path, token=alice.token, json={"subcategory": "blouse"})
    assert r.status == 422
    r = await api.patch(path, token=alice.token, json={"category": "tops", "subcategory": None})
    assert r.status == 200 and (await r.json())["subcategory"] is None
    r = await api.patch(path, token=alice.token, json={"subcategory": "blouse"})
    assert r.status == 200 and (await r.json())["subcategory"] == "blouse"


async def test_delete(api: Api, pool: asyncpg.Pool) -> None:
    alice, bob = await quick_users(api, pool, "alice", "bob")
    g = await garment(api, alice)
    assert (await api.delete(f"/v1/garments/{g['id']}", token=bob.token)).status == 404
    assert (await api.delete(f"/v1/garments/{g['id']}", token=alice.token)).status == 204
    assert (await api.get(f"/v1/garments/{g['id']}", token=alice.token)).status == 404
    assert (await api.delete(f"/v1/garments/{g['id']}", token=alice.token)).status == 404


# Listing -----------------------------------------------------------------------------------------


async def _names(api: Api, token: str, query: str) -> list[str]:
    r = await api.get(f"/v1/garments?limit=100&{query}", token=token)
    assert r.status == 200, await r.text()
    return sorted(g["name"] for g in (await r.json())["items"])


async def test_list_filters(api: Api, pool: asyncpg.Pool) -> None:
    alice, bob = await quick_users(api, pool, "alice", "bob")
    navy = [{"hex": "#1f2a44"}]
    await garment(api, alice, name="Navy tee", colors=navy, seasons=["summer"], tags=["basic"])
    await garment(api, alice, name="Red tee", colors=[{"hex": "#c62828"}], tags=["basic", "gym"])
    await garment(
        api, alice, name="Jeans", category="bottoms", colors=navy, seasons=["autumn", "winter"]
    )
    await garment(api, alice, name="50% wool scarf", category="accessories", brand="Knit_Co")
    await garment(api, alice, name="500 wool socks", category="accessories", brand="KnitCo")
    await garment(api, alice, name="Old tee", is_archived=True, tags=["basic"])
    await garment(api, bob, name="Bob's navy tee", colors=navy, tags=["basic"])
    t = alice.token

    assert await _names(api, t, "") == sorted(
        ["Navy tee", "Red tee", "Jeans", "50% wool scarf", "500 wool socks"]
    )
    assert await _names(api, t, "category=bottoms&category=accessories") == [
        "50% wool scarf",
        "500 wool socks",
        "Jeans",
    ]
    assert await _names(api, t, "color=navy") == ["Jeans", "Navy tee"]
    assert await _names(api, t, "season=winter&season=summer") == ["Jeans", "Navy tee"]
    assert await _names(api, t, "tag=basic") == ["Navy tee", "Red tee"]
    assert await _names(api, t, "tag=BASIC&tag=gym") == ["Red tee"]
    assert await _names(api, t, "q=TEE") == ["Navy tee", "Red tee"]
    # Wildcards typed by the user are plain characters.
    assert await _names(api, t, "q=50%25") == ["50% wool scarf"]
    assert await _names(api, t, "q=knit_") == ["50% wool scarf"]
    assert await _names(api, t, "q=_") == ["50% wool scarf"]
    assert await _names(api, t, "archived=true") == ["Old tee"]
    assert await _names(api, t, "tag=basic&archived=true") == ["Old tee"]
    for bad in ("category=capes", "color=mauve", "season=monsoon", "limit=0", "limit=101", "x=1"):
        r = await api.get(f"/v1/garments?{bad}", token=t)
        assert r.status == 422, (bad, await r.text())


async def test_keyset_paging_is_stable_while_rows_are_added(api: Api, pool: asyncpg.Pool) -> None:
    (alice,) = await quick_users(api, pool, "alice")
    originals = [(await garment(api, alice, name=f"g{i:02}"))["id"] for i in range(23)]
    # Same created_at for a few rows: the id breaks the tie.
    await pool.execute(
        "UPDATE garments SET created_at = (SELECT min(created_at) FROM garments)"
        " WHERE name IN ('g05', 'g06', 'g07', 'g08')"
    )
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = "limit=5" + (f"&cursor={cursor}" if cursor else "")
        r = await api.get(f"/v1/garments?{query}", token=alice.token)
        assert r.status == 200, await r.text()
        body = await r.json()
        seen += [g["id"] for g in body["items"]]
        pages += 1
        await garment(api, alice, name=f"new{pages}")  # added while paging
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 23 and set(seen) == set(originals)
    assert pages == 5
    r = await api.get("/v1/garments?cursor=not-a-cursor", token=alice.token)
    assert r.status == 422 and (await r.json())["errors"][0]["field"] == "cursor"


# Who may do what ---------------------------------------------------------------------------------


async def test_authorization_matrix(api: Api, pool: asyncpg.Pool) -> None:
    """Every garment route: anonymous 401, another user 404 (the garment's existence is not
    revealed), the owner gets through."""
    owner, other = await quick_users(api, pool, "owner", "other")
    g = await garment(api, owner)
    gid = g["id"]
    routes: list[tuple[str, str, dict[str, Any] | None, int]] = [
        ("GET", f"/v1/garments/{gid}", None, 200),
        ("PATCH", f"/v1/garments/{gid}", {"notes": "mine"}, 200),
        ("POST", f"/v1/garments/{gid}/image", {"content_type": "image/png"}, 201),
        ("POST", f"/v1/garments/{gid}/image/complete", {"key": "garments/x/y.png"}, 422),
        ("DELETE", f"/v1/garments/{gid}/image", None, 200),
        ("DELETE", f"/v1/garments/{gid}", None, 204),
    ]
    for method, path, body, ok in routes:
        r = await api.request(method, path, token="", json=body)
        assert r.status == 401, (method, path, r.status)
        r = await api.request(method, path, token=other.token, json=body)
        assert r.status == 404, (method, path, r.status)
        r = await api.request(method, path, token=owner.token, json=body)
        assert r.status == ok, (method, path, await r.text())
    r = await api.request("GET", "/v1/garments", token="")
    assert r.status == 401
    r = await api.request("POST", "/v1/garments", token="", json={"name": "x", "category": "tops"})
    assert r.status == 401
    # Another user's list does not include the owner's garments.
    await garment(api, owner)
    r = await api.get("/v1/garments", token=other.token)
    assert r.status == 200 and (await r.json())["items"] == []
    r = await api.get(f"/v1/garments/{uuid.uuid4()}", token=owner.token)
    assert r.status == 404
    r = await api.get("/v1/garments/not-a-uuid", token=owner.token)
    assert r.status == 404


def test_family_naming_agrees_with_the_recommender() -> None:
    """drape.colors names families without numpy; the recommender's colour maths must agree."""
    from workers.recommend.color import color_family as recommender_family

    rng = random.Random(7)
    hexes = [f"#{rng.randrange(1 << 24):06x}" for _ in range(400)]
    hexes += ["#000000", "#ffffff", "#808080", "#1f2a44", "#c19a6b", "#7a1f2b"]
    assert [color_family(h) for h in hexes] == [recommender_family(h) for h in hexes]
