"""Background jobs: a row per job, every transition recorded and pushed as `job:update`."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import socketio

from db import jobs as db_jobs
from server.context import ARQ, POOL
from tests.conftest import Api, EventLog, RunningApp


async def _user(pool: asyncpg.Pool, name: str) -> uuid.UUID:
    return await pool.fetchval(
        "INSERT INTO users (email, username, password_hash) VALUES ($1, $2, 'x') RETURNING id",
        f"{name}@example.com",
        name,
    )


async def test_job_runs_on_a_real_worker_and_reports_each_state(
    server: RunningApp,
    api: Api,
    pool: asyncpg.Pool,
    run_jobs: Callable[[], Awaitable[int]],
    sio_connect: Callable[..., Awaitable[socketio.AsyncClient]],
) -> None:
    owner = await _user(pool, "owner1")
    await pool.execute(
        "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)"
        " VALUES ($1, gen_random_uuid(), 'old', now() - interval '3 days'),"
        "        ($1, gen_random_uuid(), 'new', now() + interval '3 days')",
        owner,
    )
    client = await sio_connect(api.token_for(owner))
    updates = EventLog(client, "job:update")

    row = await db_jobs.enqueue(
        server.app[POOL],
        server.app[ARQ],
        function="prune_expired",
        kind="maintenance",
        user_id=owner,
        args={},
    )
    assert row["status"] == "queued"
    assert await run_jobs() == 1

    events = await updates.wait_for(2)
    assert [e["status"] for e in events] == ["running", "done"]
    assert events[-1]["result"] == {"refresh_tokens": 1, "uploads": 0, "push_deliveries": 0}
    assert await pool.fetchval("SELECT count(*) FROM refresh_tokens") == 1

    r = await api.get(f"/v1/jobs/{row['id']}", token=api.token_for(owner))
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["status"] == "done" and body["progress"] == 1 and body["attempts"] == 1
    assert body["result"] == {"refresh_tokens": 1, "uploads": 0, "push_deliveries": 0}


async def test_only_the_owner_sees_a_job(server: RunningApp, api: Api, pool: asyncpg.Pool) -> None:
    owner, other = await _user(pool, "owner2"), await _user(pool, "other2")
    row, _ = await db_jobs.create_job(pool, kind="maintenance", user_id=owner, args={})
    r = await api.get(f"/v1/jobs/{row['id']}", token=api.token_for(other))
    assert r.status == 404
    r = await api.get(f"/v1/jobs/{row['id']}")
    assert r.status == 401
    r = await api.get("/v1/jobs/not-a-uuid", token=api.token_for(owner))
    assert r.status == 404


async def test_dedupe_key_joins_the_live_job(pool: asyncpg.Pool) -> None:
    owner = await _user(pool, "owner3")
    a, created_a = await db_jobs.create_job(
        pool, kind="k", user_id=owner, args={}, dedupe_key="k:1"
    )
    b, created_b = await db_jobs.create_job(
        pool, kind="k", user_id=owner, args={}, dedupe_key="k:1"
    )
    assert created_a and not created_b and a["id"] == b["id"]
    await db_jobs.mark_done(pool, a["id"], {})
    c, created_c = await db_jobs.create_job(
        pool, kind="k", user_id=owner, args={}, dedupe_key="k:1"
    )
    assert created_c and c["id"] != a["id"]


async def test_a_finished_job_delivered_again_does_nothing(
    server: RunningApp, pool: asyncpg.Pool, run_jobs: Callable[[], Awaitable[int]]
) -> None:
    row = await db_jobs.enqueue(
        pool,
        server.app[ARQ],
        function="prune_expired",
        kind="maintenance",
        user_id=None,
        args={},
    )
    await run_jobs()
    # The same job id handed to arq again (e.g. a duplicate delivery) must not run twice.
    await server.app[ARQ].enqueue_job("prune_expired", str(row["id"]))
    await run_jobs()
    after = await db_jobs.get_job(pool, row["id"])
    assert after is not None and after["status"] == "done" and after["attempts"] == 1
