"""An outfit post that followers can draw: each item's name, category, colours and thumbnail, as
seen by whoever may see the post, and nothing else of the author's wardrobe."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.conftest import Api
from tests.wardrobe_helpers import fetch, garment, image_bytes, quick_users, upload_image


async def _ok(r: Any, status: int = 200) -> Any:
    assert r.status == status, await r.text()
    return await r.json()


async def test_outfit_items_carry_what_drawing_them_needs(api: Api, pool: asyncpg.Pool) -> None:
    author, stranger, follower = await quick_users(api, pool, "stylist", "passerby", "fan")
    tee = await garment(api, author, name="Red tee", colors=[{"hex": "#C62828"}])
    jeans = await garment(
        api, author, name="Jeans", category="bottoms", colors=[{"hex": "#1a237e"}]
    )
    secret = await garment(api, author, name="Secret jacket", category="outerwear")
    _, done = await upload_image(api, author, f"/v1/garments/{tee['id']}/image", image_bytes("PNG"))
    assert done.status == 200, await done.text()
    items = [
        {"garment_id": tee["id"], "slot": "top"},
        {"garment_id": jeans["id"], "slot": "bottom"},
    ]
    outfit = await _ok(
        await api.post("/v1/outfits", token=author.token, json={"name": "Friday", "items": items}),
        201,
    )
    post = await _ok(
        await api.post(
            "/v1/posts", token=author.token, json={"caption": "fit", "outfit_id": outfit["id"]}
        ),
        201,
    )

    seen = await _ok(await api.get(f"/v1/posts/{post['id']}", token=stranger.token))
    drawn = seen["outfit"]["items"]
    assert [(i["name"], i["category"], i["slot"], i["position"]) for i in drawn] == [
        ("Red tee", "tops", "top", 0),
        ("Jeans", "bottoms", "bottom", 1),
    ]
    assert drawn[0]["colors"] == [{"hex": "#c62828", "family": "red"}]
    assert drawn[1]["colors"][0]["hex"] == "#1a237e" and drawn[1]["thumbnail_url"] is None
    status, body = await fetch(drawn[0]["thumbnail_url"])
    assert status == 200 and body
    assert secret["id"] not in str(seen)
    assert set(drawn[0]) == {
        "garment_id", "slot", "position", "name", "category", "colors", "thumbnail_url"
    }  # fmt: skip
    # The wardrobe itself stays the author's.
    assert (await api.get(f"/v1/garments/{tee['id']}", token=stranger.token)).status == 404
    assert (await api.get(f"/v1/outfits/{outfit['id']}", token=stranger.token)).status == 404

    # A private author's outfit post is drawn for followers only.
    await pool.execute("UPDATE users SET is_private = true WHERE id = $1", author.id)
    await pool.execute(
        "INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)", follower.id, author.id
    )
    assert (await api.get(f"/v1/posts/{post['id']}", token=stranger.token)).status == 404
    theirs = await _ok(await api.get(f"/v1/posts/{post['id']}", token=follower.token))
    assert [i["name"] for i in theirs["outfit"]["items"]] == ["Red tee", "Jeans"]
    feed = await _ok(await api.get("/v1/feed", token=follower.token))
    assert feed["items"][0]["outfit"]["items"][0]["colors"][0]["family"] == "red"
