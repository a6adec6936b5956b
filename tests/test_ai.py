"""Outfit recommendations and style analysis through real burst workers."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from db import jobs as db_jobs
from drape import vocab
from tests.conftest import Api, User
from workers import ai
from workers.recommend.taxonomy import CATEGORIES

SLOT_OF = {sub: slot for subs in CATEGORIES.values() for sub, slot in subs.items()}

# (name, category, subcategory, hex, family, formality, warmth, seasons)
WARDROBE = [
    ("white tee", "tops", "t_shirt", "#f5f5f5", "white", 1, 1, ["spring", "summer"]),
    ("linen shirt", "tops", "shirt", "#dfe8f0", "blue", 3, 1, ["spring", "summer"]),
    ("navy sweater", "tops", "sweater", "#1f2a44", "navy", 3, 4, ["autumn", "winter"]),
    ("wool turtleneck", "tops", "turtleneck", "#2b2b2b", "black", 3, 5, ["winter"]),
    ("chino shorts", "bottoms", "shorts", "#c8b591", "beige", 1, 1, ["summer"]),
    ("light chinos", "bottoms", "chinos", "#d8c9a8", "beige", 3, 2, ["spring", "summer"]),
    ("wool trousers", "bottoms", "trousers", "#3a3a3a", "gray", 4, 4, ["autumn", "winter"]),
    ("dark jeans", "bottoms", "jeans", "#223355", "navy", 2, 3, ["spring", "autumn", "winter"]),
    ("sundress", "dresses", "midi_dress", "#e8b4b8", "pink", 2, 1, ["summer"]),
    ("sandals", "shoes", "sandals", "#8b5a2b", "brown", 1, 1, ["summer"]),
    (
        "white sneakers",
        "shoes",
        "sneakers",
        "#fafafa",
        "white",
        1,
        2,
        ["spring", "summer", "autumn"],
    ),
    ("leather boots", "shoes", "boots", "#3b2314", "brown", 3, 5, ["autumn", "winter"]),
    ("wool coat", "outerwear", "coat", "#4a4a4a", "gray", 4, 5, ["autumn", "winter"]),
    ("parka", "outerwear", "parka", "#556b2f", "olive", 2, 5, ["winter"]),
]


async def _stock(pool: asyncpg.Pool, owner: User) -> dict[str, dict[str, Any]]:
    rows = {}
    for name, cat, sub, hex_, fam, formality, warmth, seasons in WARDROBE:
        gid = await pool.fetchval(
            "INSERT INTO garments (owner_id, name, category, subcategory, colors, formality,"
            " warmth, seasons) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            uuid.UUID(owner.id),
            name,
            cat,
            sub,
            [{"hex": hex_, "family": fam}],
            formality,
            warmth,
            seasons,
        )
        rows[str(gid)] = {"name": name, "subcategory": sub, "seasons": seasons}
    return rows


async def _run_recommend(
    api: Api, user: User, run_jobs: Callable[[], Awaitable[int]], body: dict[str, Any]
) -> dict[str, Any]:
    r = await api.post("/v1/recommendations", token=user.token, json=body)
    assert r.status == 202, await r.text()
    job = (await r.json())["job"]
    assert job["status"] == "queued"
    await run_jobs()
    state = await (await api.get(f"/v1/jobs/{job['id']}", token=user.token)).json()
    assert state["status"] == "done", state
    return state


@pytest.mark.parametrize(
    ("temperature", "season", "outer"),
    [
        (29, "summer", "never"),
        (2, "winter", "always"),
    ],
)
async def test_recommended_outfits_are_wearable(
    api: Api,
    pool: asyncpg.Pool,
    run_jobs: Callable[[], Awaitable[int]],
    temperature: float,
    season: str,
    outer: str,
) -> None:
    user = await api.register("dresser")
    mine = await _stock(pool, user)
    other = await api.register("neighbour")
    theirs = await _stock(pool, other)
    state = await _run_recommend(
        api,
        user,
        run_jobs,
        {"occasion": "casual", "weather": {"temperature_c": temperature}, "count": 5},
    )
    recs = await (await api.get("/v1/recommendations", token=user.token)).json()
    assert recs["batch_id"] == state["result"]["batch_id"]
    assert 1 <= len(recs["items"]) <= 5
    for rec in recs["items"]:
        slots = [i["slot"] for i in rec["items"]]
        assert len(slots) == len(set(slots)), "one item per slot"
        assert ("dress" in slots) != ("top" in slots and "bottom" in slots)
        assert "shoes" in slots
        assert ("outer" in slots) == (outer == "always")
        for item in rec["items"]:
            assert item["garment_id"] in mine and item["garment_id"] not in theirs
            garment = mine[item["garment_id"]]
            assert SLOT_OF[garment["subcategory"]] == item["slot"]
            assert season in garment["seasons"], (garment, temperature)
        # The explanation speaks of the largest terms of the score.
        assert rec["explanation"]
        assert rec["score"] == pytest.approx(sum(rec["terms"].values()), abs=1e-3)
    assert [r["rank"] for r in recs["items"]] == list(range(len(recs["items"])))
    assert len({frozenset(i["garment_id"] for i in r["items"]) for r in recs["items"]}) == len(
        recs["items"]
    ), "no two recommendations are the same outfit"


async def test_cold_start_with_only_a_style_profile(
    api: Api, pool: asyncpg.Pool, run_jobs: Callable[[], Awaitable[int]]
) -> None:
    user = await api.register("newbie")
    await api.put(
        "/v1/me/style-profile",
        token=user.token,
        json={"preferred_styles": ["minimalist"], "preferred_colors": ["navy"]},
    )
    await _stock(pool, user)
    await _run_recommend(api, user, run_jobs, {"weather": {"temperature_c": 15}})
    recs = await (await api.get("/v1/recommendations", token=user.token)).json()
    assert recs["items"]


async def test_a_job_run_twice_leaves_one_result(
    api: Api, pool: asyncpg.Pool, run_jobs: Callable[[], Awaitable[int]], settings: Any
) -> None:
    user = await api.register("twice")
    await _stock(pool, user)
    state = await _run_recommend(api, user, run_jobs, {"weather": {"temperature_c": 18}})
    first = await pool.fetch("SELECT items FROM ai_recommendations ORDER BY rank")
    # As if the worker died after saving but before recording success: arq runs it again.
    await pool.execute("UPDATE jobs SET status = 'running' WHERE id = $1", uuid.UUID(state["id"]))
    from realtime.emit import worker_emitter

    ctx = {
        "pool": pool,
        "job_try": 2,
        "emitter": worker_emitter(settings),
    }
    await ai.recommend(ctx, state["id"])
    again = await pool.fetch("SELECT items FROM ai_recommendations ORDER BY rank")
    assert [r["items"] for r in again] == [r["items"] for r in first]
    row = await db_jobs.get_job(pool, uuid.UUID(state["id"]))
    assert row is not None and row["status"] == "done" and row["attempts"] == 2


async def test_recommendations_do_not_repeat_what_was_just_shown(
    api: Api, pool: asyncpg.Pool, run_jobs: Callable[[], Awaitable[int]]
) -> None:
    user = await api.register("repeat")
    await _stock(pool, user)
    body = {"weather": {"temperature_c": 27}, "count": 2}
    await _run_recommend(api, user, run_jobs, body)
    first = await (await api.get("/v1/recommendations", token=user.token)).json()
    await _run_recommend(api, user, run_jobs, body)
    second = await (await api.get("/v1/recommendations", token=user.token)).json()
    looks = lambda page: {frozenset(i["garment_id"] for i in r["items"]) for r in page["items"]}  # noqa: E731
    assert second["batch_id"] != first["batch_id"]
    assert not looks(first) & looks(second)


async def test_feedback_is_owner_only(
    api: Api, pool: asyncpg.Pool, run_jobs: Callable[[], Awaitable[int]]
) -> None:
    user, other = await api.register("fan"), await api.register("snoop")
    await _stock(pool, user)
    await _run_recommend(api, user, run_jobs, {"weather": {"temperature_c": 20}})
    rec = (await (await api.get("/v1/recommendations", token=user.token)).json())["items"][0]
    path = f"/v1/recommendations/{rec['id']}/feedback"
    assert (await api.post(path, token=other.token, json={"feedback": "liked"})).status == 404
    assert (await api.post(path, token=user.token, json={"feedback": "meh"})).status == 422
    assert (await api.post(path, token=user.token, json={"feedback": "liked"})).status == 204
    assert (await api.get("/v1/recommendations", token=other.token)).status == 200
    assert (await (await api.get("/v1/recommendations", token=other.token)).json())["items"] == []


async def test_bad_recommendation_requests(api: Api, pool: asyncpg.Pool) -> None:
    user = await api.register("bad")
    for body in (
        {"occasion": "funeral-rave"},
        {"count": 0},
        {"count": 1000},
        {"weather": {"temperature_c": 500}},
        {"weather": {}},
        {"mood": "happy"},
    ):
        r = await api.post("/v1/recommendations", token=user.token, json=body)
        assert r.status == 422, (body, await r.text())
    assert await pool.fetchval("SELECT count(*) FROM jobs") == 0


async def test_style_analysis(
    api: Api, pool: asyncpg.Pool, run_jobs: Callable[[], Awaitable[int]]
) -> None:
    user = await api.register("analyst")
    await _stock(pool, user)
    assert (await api.get("/v1/style-analysis/latest", token=user.token)).status == 404
    r = await api.post("/v1/style-analysis", token=user.token)
    assert r.status == 202, await r.text()
    again = await api.post("/v1/style-analysis", token=user.token)
    assert (await again.json())["job"]["id"] == (await r.json())["job"]["id"], "deduplicated"
    await run_jobs()
    r = await api.get("/v1/style-analysis/latest", token=user.token)
    assert r.status == 200, await r.text()
    a = await r.json()
    assert a["garment_count"] == len(WARDROBE)
    assert a["palette"]["colors"] and 0 < a["palette"]["neutral_share"] <= 1
    assert set(a["season_coverage"]) >= {"winter", "summer"} or a["season_coverage"]
    assert a["versatility"]["outfits"]["count"] > 0
    assert a["summary"].startswith(f"{len(WARDROBE)} garments make")
    other = await api.register("nosy")
    assert (await api.get("/v1/style-analysis/latest", token=other.token)).status == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/recommendations"),
        ("GET", "/v1/recommendations"),
        ("POST", "/v1/style-analysis"),
        ("GET", "/v1/style-analysis/latest"),
        ("POST", f"/v1/recommendations/{uuid.uuid4()}/feedback"),
    ],
)
async def test_ai_routes_need_a_user(api: Api, method: str, path: str) -> None:
    r = await api.request(method, path, json={}, token="")
    assert r.status == 401


async def test_explore_and_people_from_collaborative_filtering(
    api: Api, pool: asyncpg.Pool, run_jobs: Callable[[], Awaitable[int]]
) -> None:
    import random

    rng = random.Random(7)
    me = await api.register("explorer")
    rows = await pool.fetch(
        "INSERT INTO users (email, username, password_hash, is_private)"
        " SELECT 'u' || g || '@x.io', 'usr' || g, 'unused', g = 3"
        " FROM generate_series(1, 44) g RETURNING id, username"
    )
    ids = {r["username"].replace("usr", "u"): r["id"] for r in rows}
    side = {f"u{g}": "a" if g <= 22 else "b" for g in range(1, 45)}
    authors = {"a": ["u1", "u2", "u3"], "b": ["u23", "u24", "u25"]}  # u3 is private
    posts: dict[str, list[uuid.UUID]] = {"a": [], "b": []}
    for s, names in authors.items():
        for name in names:
            for _ in range(6):
                posts[s].append(
                    await pool.fetchval(
                        "INSERT INTO posts (author_id) VALUES ($1) RETURNING id", ids[name]
                    )
                )
    likes = []
    for name, s in side.items():
        for post in posts[s]:
            if rng.random() < 0.6:
                likes.append((post, ids[name]))
        for author in authors[s]:
            if name != author and rng.random() < 0.5:
                await pool.execute(
                    "INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)",
                    ids[name],
                    ids[author],
                )
    mine = uuid.UUID(me.id)
    visible_a = [p for p in posts["a"][:12]]  # u1 and u2's posts
    likes += [(p, mine) for p in visible_a[:5]]
    await pool.executemany(
        "INSERT INTO likes (post_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", likes
    )
    await pool.execute(
        "INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)", mine, ids["u1"]
    )

    r = await api.post("/v1/explore", token=me.token)
    assert r.status == 202, await r.text()
    await run_jobs()
    explore = (await (await api.get("/v1/explore", token=me.token)).json())["items"]
    assert explore
    shown = {uuid.UUID(p["id"]) for p in explore}
    assert not shown & set(posts["a"][12:]), "a private account's posts stay hidden"
    assert not shown & set(visible_a[:5]), "already liked posts are not suggested again"
    top = [uuid.UUID(p["id"]) for p in explore[:5]]
    assert sum(p in set(posts["a"]) for p in top) >= 4, "taste like mine comes first"

    people = (await (await api.get("/v1/people/suggested", token=me.token)).json())["items"]
    names = [p["user"]["username"] for p in people]
    assert "usr1" not in names and "explorer" not in names, "not whom I follow, not myself"
    assert names and side[names[0].replace("usr", "u")] == "a"
    assert all("email" not in p["user"] for p in people)
    assert (await (await api.get("/v1/explore", token=me.token)).json())["source"] == "personalized"
    # Someone with no picks yet sees what is popular (never a private account's posts), and
    # the job computing theirs has started.
    other = await api.register("stranger")
    cold = await (await api.get("/v1/explore", token=other.token)).json()
    assert cold["source"] == "popular" and cold["job"]["kind"] == "social"
    popular = {uuid.UUID(p["id"]) for p in cold["items"]}
    assert popular and not popular & set(posts["a"][12:])


class TestStyleRefreshAfterWardrobeChanges:
    @pytest.fixture
    def settings(self, settings: Any) -> Any:
        return settings.with_(style_refresh_delay=1)

    async def test_changes_are_debounced_into_one_analysis(
        self, api: Api, pool: asyncpg.Pool, run_jobs: Callable[[], Awaitable[int]]
    ) -> None:
        import asyncio

        user = await api.register("tidy")
        made = []
        for name in ("tee", "jeans", "boots"):
            r = await api.post(
                "/v1/garments", token=user.token, json={"name": name, "category": "tops"}
            )
            assert r.status == 201, await r.text()
            made.append((await r.json())["id"])
        await api.delete(f"/v1/garments/{made[0]}", token=user.token)
        jobs = await pool.fetch("SELECT kind, status FROM jobs")
        assert [(j["kind"], j["status"]) for j in jobs] == [("style_analysis", "queued")]
        await asyncio.sleep(1.1)
        await run_jobs()
        r = await api.get("/v1/style-analysis/latest", token=user.token)
        assert r.status == 200 and (await r.json())["garment_count"] == 2


class TestAskingDuringADeferredRefresh:
    @pytest.fixture
    def settings(self, settings: Any) -> Any:
        return settings.with_(style_refresh_delay=60)

    async def test_asking_after_a_change_runs_now_not_with_the_deferred_refresh(
        self, api: Api, pool: asyncpg.Pool, server: Any
    ) -> None:
        import time

        from server.context import ARQ

        user = await api.register("eager")
        r = await api.post(
            "/v1/garments", token=user.token, json={"name": "tee", "category": "tops"}
        )
        assert r.status == 201
        refresh = await pool.fetchval("SELECT id FROM jobs WHERE kind = 'style_analysis'")
        r = await api.post("/v1/style-analysis", token=user.token)
        assert r.status == 202
        job = (await r.json())["job"]
        assert job["id"] != str(refresh), "the tap joined the refresh deferred by a minute"
        arq = server.app[ARQ]
        due_ms = await arq.zscore(arq.default_queue_name, job["id"])
        assert due_ms is not None and due_ms <= (time.time() + 1) * 1000


async def test_every_occasion_an_outfit_can_carry_gets_recommendations(
    api: Api, pool: asyncpg.Pool, run_jobs: Callable[[], Awaitable[int]]
) -> None:
    """The API, the schema and the recommender share one occasion list: tag an outfit with each
    occasion, then ask for recommendations for it."""
    user = await api.register("occasional")
    mine = await _stock(pool, user)
    tee = next(g for g, v in mine.items() if v["name"] == "white tee")
    for occasion in vocab.OCCASIONS:
        outfit = {
            "name": occasion,
            "occasion": occasion,
            "items": [{"garment_id": tee, "slot": "top"}],
        }
        r = await api.post("/v1/outfits", token=user.token, json=outfit)
        assert r.status == 201, (occasion, await r.text())
        body = {"occasion": occasion, "weather": {"temperature_c": 24}, "count": 3}
        state = await _run_recommend(api, user, run_jobs, body)
        recs = await (await api.get("/v1/recommendations", token=user.token)).json()
        assert recs["batch_id"] == state["result"]["batch_id"], occasion
        assert recs["items"], occasion
        assert all(rec["occasion"] == occasion for rec in recs["items"])
