"""The wear log over real Postgres: logging an outfit or garments on a day, undo, the calendar,
most/least worn and idle garments, cost per wear; only ever my own wardrobe."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import asyncpg

from tests.conftest import Api, User
from tests.wardrobe_helpers import garment, quick_users


async def _ok(r: Any, status: int = 200) -> Any:
    assert r.status == status, await r.text()
    return await r.json() if status != 204 else None


async def _wear(api: Api, user: User, **body: Any) -> dict[str, Any]:
    return await _ok(await api.post("/v1/wears", token=user.token, json=body), 201)


async def _garments(api: Api, user: User) -> dict[str, dict[str, Any]]:
    page = await _ok(await api.get("/v1/garments", token=user.token, params={"limit": 100}))
    return {g["name"]: g for g in page["items"]}


async def test_log_undo_calendar_and_counters(api: Api, pool: asyncpg.Pool) -> None:
    [me] = await quick_users(api, pool, "wearer")
    tee = await garment(api, me, name="Tee", category="tops", price=30)
    jeans = await garment(api, me, name="Jeans", category="bottoms", price=90)
    coat = await garment(api, me, name="Coat", category="outerwear")
    items = [
        {"garment_id": tee["id"], "slot": "top"},
        {"garment_id": jeans["id"], "slot": "bottom"},
    ]
    outfit = await _ok(
        await api.post("/v1/outfits", token=me.token, json={"name": "Daily", "items": items}), 201
    )
    today = date.today()
    monday, tuesday = today - timedelta(days=10), today - timedelta(days=9)

    worn = await _wear(api, me, outfit_id=outfit["id"], worn_on=monday.isoformat())
    assert worn["worn_on"] == monday.isoformat() and worn["outfit_id"] == outfit["id"]
    assert sorted(g["name"] for g in worn["garments"]) == ["Jeans", "Tee"]
    await _wear(api, me, garment_ids=[tee["id"], coat["id"]], worn_on=tuesday.isoformat())
    later = await _wear(api, me, garment_ids=[tee["id"]], worn_on=tuesday.isoformat())

    g = await _garments(api, me)
    assert (g["Tee"]["wear_count"], g["Jeans"]["wear_count"], g["Coat"]["wear_count"]) == (3, 1, 1)
    assert g["Tee"]["last_worn_at"].startswith(tuesday.isoformat())
    assert g["Jeans"]["last_worn_at"].startswith(monday.isoformat())

    since, until = (monday - timedelta(days=1)).isoformat(), today.isoformat()
    cal = await _ok(
        await api.get("/v1/wears/calendar", token=me.token, params={"since": since, "until": until})
    )
    assert [d["date"] for d in cal["days"]] == [monday.isoformat(), tuesday.isoformat()]
    assert [len(d["wears"]) for d in cal["days"]] == [1, 2]

    # Undo puts the counters and the last wear back.
    await _ok(await api.delete(f"/v1/wears/{later['id']}", token=me.token), 204)
    await _ok(await api.delete(f"/v1/wears/{worn['id']}", token=me.token), 204)
    g = await _garments(api, me)
    assert (g["Tee"]["wear_count"], g["Jeans"]["wear_count"]) == (1, 0)
    assert g["Jeans"]["last_worn_at"] is None
    assert g["Tee"]["last_worn_at"].startswith(tuesday.isoformat())
    assert (await api.delete(f"/v1/wears/{worn['id']}", token=me.token)).status == 404
    o = await _ok(await api.get(f"/v1/outfits/{outfit['id']}", token=me.token))
    assert o["wear_count"] == 0

    # "I wore this outfit today" is an entry of today in the log, undoable like any.
    r = await api.post(f"/v1/outfits/{outfit['id']}/worn", token=me.token)
    assert (await _ok(r))["wear_count"] == 1
    page = await _ok(await api.get("/v1/wears", token=me.token))
    assert page["items"][0]["outfit_id"] == outfit["id"]
    assert page["items"][0]["worn_on"] in {today.isoformat(), (today + timedelta(1)).isoformat()}
    assert len(page["items"]) == 2 and page["next_cursor"] is None


async def test_wear_stats_most_least_idle_and_cost_per_wear(api: Api, pool: asyncpg.Pool) -> None:
    [me] = await quick_users(api, pool, "counter")
    tee = await garment(api, me, name="Tee", category="tops", price=30)
    jeans = await garment(api, me, name="Jeans", category="bottoms", price=90)
    await garment(api, me, name="Scarf", category="accessories", price=12)
    old = (date.today() - timedelta(days=120)).isoformat()
    recent = (date.today() - timedelta(days=3)).isoformat()
    for _ in range(3):
        await _wear(api, me, garment_ids=[tee["id"]], worn_on=recent)
    await _wear(api, me, garment_ids=[jeans["id"]], worn_on=old)

    async def stats(**params: Any) -> list[dict[str, Any]]:
        r = await api.get("/v1/wardrobe/wear-stats", token=me.token, params=params)
        return (await _ok(r))["items"]

    most = await stats(sort="most")
    assert [s["name"] for s in most] == ["Tee", "Jeans", "Scarf"]
    assert [s["cost_per_wear"] for s in most] == [10.0, 90.0, None]
    assert [s["name"] for s in await stats(sort="least")] == ["Scarf", "Jeans", "Tee"]
    assert [s["name"] for s in await stats(sort="idle")] == ["Scarf", "Jeans"]
    assert [s["name"] for s in await stats(sort="idle", idle_days=365)] == ["Scarf"]
    first = await _ok(await api.get("/v1/wardrobe/wear-stats", token=me.token, params={"limit": 2}))
    rest = await _ok(
        await api.get(
            "/v1/wardrobe/wear-stats", token=me.token, params={"cursor": first["next_cursor"]}
        )
    )
    assert [s["name"] for s in first["items"] + rest["items"]] == ["Tee", "Jeans", "Scarf"]


async def test_someone_elses_wardrobe_and_bad_input_are_refused(
    api: Api, pool: asyncpg.Pool
) -> None:
    me, other = await quick_users(api, pool, "owner", "prowler")
    tee = await garment(api, me, name="Tee", category="tops")
    theirs = await garment(api, other, name="Theirs", category="tops")
    mine = await _wear(api, me, garment_ids=[tee["id"]])
    tomorrow2 = (date.today() + timedelta(days=2)).isoformat()
    for body in (
        {},
        {"garment_ids": []},
        {"garment_ids": [theirs["id"]]},
        {"garment_ids": [tee["id"], theirs["id"]]},
        {"outfit_id": tee["id"]},
        {"garment_ids": [tee["id"]], "worn_on": tomorrow2},
        {"garment_ids": [tee["id"]], "worn_on": "yesterday"},
        {"garment_ids": ["nope"]},
        {"garment_ids": [tee["id"]], "extra": 1},
    ):
        r = await api.post("/v1/wears", token=me.token, json=body)
        assert r.status == 422, (body, await r.text())
    g = await _garments(api, me)
    assert g["Tee"]["wear_count"] == 1

    assert (await api.delete(f"/v1/wears/{mine['id']}", token=other.token)).status == 404
    assert (await _ok(await api.get("/v1/wears", token=other.token)))["items"] == []
    r = await api.get(
        "/v1/wears/calendar", token=me.token, params={"since": "2026-01-01", "until": "2025-01-01"}
    )
    assert r.status == 422
    r = await api.get(
        "/v1/wears/calendar", token=me.token, params={"since": "2025-01-01", "until": "2026-01-01"}
    )
    assert r.status == 422
    assert (await api.get("/v1/wardrobe/wear-stats?sort=best", token=me.token)).status == 422
    assert (await api.get("/v1/wears?cursor=abc", token=me.token)).status == 422
    assert (await api.post("/v1/wears", json={"garment_ids": [tee["id"]]})).status == 401
    assert (await api.get("/v1/wears/calendar")).status == 401
