"""GET /v1/jobs: my recent jobs, newest first, in cursor pages, filtered by status or kind; never
anyone else's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from db import jobs as db_jobs
from tests.conftest import Api
from tests.wardrobe_helpers import quick_users


async def _ok(r: Any) -> Any:
    assert r.status == 200, await r.text()
    return await r.json()


async def test_my_jobs_newest_first_paged_and_filtered(
    api: Api, pool: asyncpg.Pool, run_jobs: Callable[[], Awaitable[int]]
) -> None:
    me, other = await quick_users(api, pool, "jobber", "stranger")
    r = await api.post("/v1/recommendations", token=me.token, json={})
    assert r.status == 202, await r.text()
    asked = (await r.json())["job"]["id"]
    made = []
    for i in range(4):
        row, _ = await db_jobs.create_job(
            pool, kind="export" if i % 2 else "avatar", user_id=me.id, args={}
        )
        made.append(str(row["id"]))
    await db_jobs.create_job(pool, kind="avatar", user_id=other.id, args={})

    # A worker runs the recommendation request: the list shows where it ended.
    assert await run_jobs() >= 1
    mine = await _ok(await api.get("/v1/jobs", token=me.token))
    assert [j["id"] for j in mine["items"]] == [*made[::-1], asked]
    assert mine["items"][-1]["status"] in ("done", "failed")
    assert mine["items"][-1]["kind"] == "recommend" and mine["next_cursor"] is None

    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await _ok(await api.get("/v1/jobs", token=me.token, params=params))
        seen += [j["id"] for j in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == [*made[::-1], asked]

    # What an app restarted mid-job asks for: the ones still going.
    going = await _ok(await api.get("/v1/jobs?status=queued&status=running", token=me.token))
    assert [j["id"] for j in going["items"]] == made[::-1]
    exports = await _ok(await api.get("/v1/jobs", token=me.token, params={"kind": "export"}))
    assert [j["id"] for j in exports["items"]] == [made[3], made[1]]

    theirs = await _ok(await api.get("/v1/jobs", token=other.token))
    assert len(theirs["items"]) == 1 and theirs["items"][0]["id"] not in made
    assert (await api.get(f"/v1/jobs/{made[0]}", token=other.token)).status == 404


async def test_bad_job_list_queries_are_refused(api: Api, pool: asyncpg.Pool) -> None:
    [me] = await quick_users(api, pool, "asker")
    for query in ("limit=0", "limit=101", "status=sleeping", "cursor=%21%21", "sort=new"):
        r = await api.get(f"/v1/jobs?{query}", token=me.token)
        assert r.status == 422, (query, await r.text())
        assert r.content_type == "application/problem+json"
    assert (await api.get("/v1/jobs")).status == 401
