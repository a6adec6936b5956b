"""Explore without asking first, and fewer outfits than asked come with a reason (finding 9)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import asyncpg

from tests.conftest import Api
from tests.social_helpers import new_post


async def test_explore_shows_popular_posts_before_any_refresh(
    api: Api, run_jobs: Callable[[], Awaitable[int]]
) -> None:
    alice, bob, carol, dora = [await api.register(n) for n in ("alice", "bob", "carol", "dora")]
    liked = await new_post(api, alice, "liked a lot")
    quiet = await new_post(api, bob, "quiet")
    r = await api.patch("/v1/me", token=dora.token, json={"is_private": True})
    assert r.status == 200, await r.text()
    hidden = await new_post(api, dora, "private")
    for fan in (bob, dora):
        assert (await api.put(f"/v1/posts/{liked}/like", token=fan.token)).status == 200
    # Carol never called POST /v1/explore.
    r = await api.get("/v1/explore", token=carol.token)
    assert r.status == 200, await r.text()
    page = await r.json()
    assert page["source"] == "popular"
    ids = [p["id"] for p in page["items"]]
    assert ids[:2] == [liked, quiet] and hidden not in ids
    assert page["job"] is not None and page["job"]["kind"] == "social"
    assert await run_jobs() >= 1
    state = await (await api.get(f"/v1/jobs/{page['job']['id']}", token=carol.token)).json()
    assert state["status"] == "done", state


async def test_fewer_outfits_than_asked_say_why(
    api: Api, pool: asyncpg.Pool, run_jobs: Callable[[], Awaitable[int]]
) -> None:
    user = await api.register("sparse")
    for name, cat, sub in (("tee", "tops", "t_shirt"), ("jeans", "bottoms", "jeans"),
                           ("sneakers", "shoes", "sneakers")):  # fmt: skip
        await pool.execute(
            "INSERT INTO garments (owner_id, name, category, subcategory, colors, formality,"
            " warmth, seasons) VALUES ($1, $2, $3, $4, $5, 2, 2, $6)",
            uuid.UUID(user.id), name, cat, sub, [{"hex": "#222222", "family": "black"}],
            ["spring", "summer", "autumn", "winter"],
        )  # fmt: skip
    r = await api.post("/v1/recommendations", token=user.token, json={"count": 5})
    assert r.status == 202, await r.text()
    job = (await r.json())["job"]["id"]
    await run_jobs()
    state = await (await api.get(f"/v1/jobs/{job}", token=user.token)).json()
    assert state["status"] == "done", state
    result = state["result"]
    assert result["count"] < 5
    assert result["requested"] == 5
    assert f"only {result['count']} distinct outfit" in result["reason"]
    listed = await (await api.get("/v1/recommendations", token=user.token)).json()
    assert (listed["requested"], listed["reason"]) == (5, result["reason"])
    assert len(listed["items"]) == result["count"]
