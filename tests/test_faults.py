"""Faults: a worker killed mid-job, Redis restarted under connected clients, Postgres restarted
under load, and graceful shutdown on SIGTERM. Each is bounded in time."""

from __future__ import annotations

import asyncio
import random
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import socketio

from db import jobs as db_jobs
from drape.queue import create_queue
from drape.settings import Settings
from tests.conftest import Api, EventLog, RunningApp
from tests.harness import OwnPostgres, OwnRedis, Stack

BODY = {"height": 168, "bust": 90, "waist": 72, "hips": 98}


@pytest.fixture
async def stack(settings: Settings, tmp_path: Path) -> AsyncIterator[Stack]:
    s = Stack(settings, logdir=tmp_path)
    yield s
    await s.aclose()


async def _until(check: Callable[[], Awaitable[bool]], timeout: float, step: float = 0.05) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(step)


async def test_worker_killed_mid_avatar_job_completes_once_elsewhere(
    api: Api, pool: asyncpg.Pool, stack: Stack, server: RunningApp
) -> None:
    user = await api.register("phoenix")
    first = await stack.worker(JOB_TIMEOUT="4")
    await asyncio.sleep(1.0)  # let it start polling
    r = await api.post("/v1/avatars", token=user.token, json={"measurements": BODY})
    job_id = uuid.UUID((await r.json())["job"]["id"])

    async def running() -> bool:
        return await pool.fetchval("SELECT status FROM jobs WHERE id = $1", job_id) == "running"

    await _until(running, 20, step=0.002)
    await first.stop(signal.SIGKILL)  # no chance to clean up
    second = await stack.worker(JOB_TIMEOUT="4")

    async def done() -> bool:
        return await pool.fetchval("SELECT status FROM jobs WHERE id = $1", job_id) == "done"

    await _until(done, 45, step=0.2)  # after the dead worker's in-progress mark expires
    assert second.running
    job = await db_jobs.get_job(pool, job_id)
    assert job is not None and job["attempts"] == 2
    avatar = await pool.fetchrow("SELECT id, status, mesh_key FROM avatars")
    assert avatar["status"] == "ready"
    assert await pool.fetchval("SELECT count(*) FROM avatars") == 1
    root = Path(server.settings.object_store_url.removeprefix("file://"))
    stored = sorted(p.name for p in root.rglob("*") if p.is_file() and ".meta" not in p.parts)
    # One revision's files (the mesh, its uncompressed and light copies, the preview), once.
    assert stored == ["r0.glb", "r0.lod.glb", "r0.plain.glb", "r0.png"], "no orphaned objects"


class TestRedisRestart:
    @pytest.fixture
    async def own_redis(self, tmp_path: Path) -> AsyncIterator[OwnRedis]:
        redis = OwnRedis(tmp_path)
        await redis.start()
        yield redis
        await redis.kill()

    @pytest.fixture
    def settings(self, settings: Settings, own_redis: OwnRedis) -> Settings:
        return settings.with_(redis_url=own_redis.url)

    async def test_clients_and_jobs_survive_a_redis_restart(
        self,
        api: Api,
        pool: asyncpg.Pool,
        own_redis: OwnRedis,
        settings: Settings,
        sio_connect: Callable[..., Awaitable[socketio.AsyncClient]],
        run_jobs: Callable[[], Awaitable[int]],
    ) -> None:
        alice, bob = await api.register("alice"), await api.register("bob")
        posts = [
            (await (await api.post("/v1/posts", token=alice.token, json={})).json())["id"]
            for _ in range(4)
        ]
        a = await sio_connect(alice.token)
        notes = EventLog(a, "notification")
        await api.put(f"/v1/posts/{posts[0]}/like", token=bob.token)
        assert [n["seq"] for n in await notes.wait_for(1)] == [1]
        r = await api.post("/v1/style-analysis", token=bob.token)
        job_id = uuid.UUID((await r.json())["job"]["id"])

        await own_redis.kill()  # the queue and every pub/sub subscription are gone
        for post in posts[1:3]:  # committed in Postgres; their live events cannot be sent
            r = await api.put(f"/v1/posts/{post}/like", token=bob.token)
            assert r.status == 200, await r.text()
        r = await api.post("/v1/auth/login", json={"login": "bob", "password": "x" * 10})
        assert r.status == 503, "throttling needs Redis: a clear 503, not a 500"
        await own_redis.start()

        synced = await a.call("sync", {"after_seq": 1}, timeout=5)
        assert [n["seq"] for n in synced["items"]] == [2, 3]

        # Live delivery comes back once the web process has re-subscribed.
        await api.put(f"/v1/posts/{posts[3]}/like", token=bob.token)

        async def live_again() -> bool:
            if any(n["seq"] >= 4 for n in notes.items):
                return True
            await api.delete(f"/v1/posts/{posts[3]}/like", token=bob.token)
            await api.put(f"/v1/posts/{posts[3]}/like", token=bob.token)
            return False

        await _until(live_again, 15, step=1.0)

        # The queued job vanished with Redis; the database still knows it and puts it back.
        assert (await db_jobs.get_job(pool, job_id))["status"] == "queued"
        arq = await create_queue(settings)
        try:
            _, requeued = await db_jobs.requeue_lost(pool, arq, older_than=0)
        finally:
            await arq.aclose()
        assert requeued == 1
        await run_jobs()
        assert (await db_jobs.get_job(pool, job_id))["status"] == "done"


class TestPostgresRestart:
    @pytest.fixture
    async def own_pg(self, tmp_path: Path) -> AsyncIterator[OwnPostgres]:
        pg = OwnPostgres(tmp_path)
        await pg.start()
        yield pg
        await pg.stop()

    async def test_requests_get_503_while_down_and_no_committed_write_is_lost(
        self, settings: Settings, own_pg: OwnPostgres, stack: Stack
    ) -> None:
        stack.settings = settings.with_(database_url=own_pg.dsn)
        web = await stack.web()
        assert web.base is not None
        async with aiohttp.ClientSession() as http:
            api = Api(session=http, base=web.base, settings=stack.settings)
            author = await api.register("author")
            posts = [
                (await (await api.post("/v1/posts", token=author.token, json={})).json())["id"]
                for _ in range(5)
            ]
            conn = await asyncpg.connect(own_pg.dsn)
            fans = await conn.fetch(
                "INSERT INTO users (email, username, password_hash) SELECT 'f' || g || '@x.io',"
                " 'fan' || g, 'unused' FROM generate_series(1, 400) g RETURNING id"
            )
            await conn.close()
            acknowledged: list[tuple[str, str]] = []
            statuses: list[int] = []

            async def liker(ids: list[Any]) -> None:
                for uid in ids:
                    post = random.choice(posts)
                    try:
                        r = await api.put(f"/v1/posts/{post}/like", token=api.token_for(uid))
                    except aiohttp.ClientError:
                        statuses.append(0)
                        continue
                    statuses.append(r.status)
                    if r.status == 200:
                        acknowledged.append((str(uid), post))
                    else:
                        assert r.status == 503, await r.text()
                        assert r.headers["Content-Type"].startswith("application/problem+json")
                        await asyncio.sleep(0.05)

            ids = [f["id"] for f in fans]
            load = asyncio.gather(*(liker(ids[i::8]) for i in range(8)))
            await asyncio.sleep(0.3)
            await own_pg.stop()
            await asyncio.sleep(1.0)
            await own_pg.start()
            await load

            assert 503 in statuses and statuses.count(200) > 50, statuses
            # The pool recovered on its own.
            r = await api.get("/readyz")
            assert r.status == 200
            r = await api.get("/v1/me", token=author.token)
            assert r.status == 200

        conn = await asyncpg.connect(own_pg.dsn)
        try:
            stored = {
                (str(r["user_id"]), str(r["post_id"]))
                for r in await conn.fetch("SELECT user_id, post_id FROM likes")
            }
            counts = await conn.fetch(
                "SELECT p.like_count, (SELECT count(*) FROM likes l WHERE l.post_id = p.id) AS n"
                " FROM posts p"
            )
        finally:
            await conn.close()
        assert set(acknowledged) <= stored, "every acknowledged like was kept"
        assert all(r["like_count"] == r["n"] for r in counts)


async def test_web_sigterm_finishes_requests_and_sends_sockets_elsewhere(
    api: Api, stack: Stack
) -> None:
    web = await stack.web()
    assert web.base is not None
    user = await api.register("leaver")
    client = socketio.AsyncClient(reconnection=False)
    restart = asyncio.Event()
    client.on("server:restart", lambda data: restart.set())
    await client.connect(web.base, auth={"token": user.token}, transports=["websocket"])
    other = Api(session=api.session, base=web.base, settings=api.settings)
    in_flight = [asyncio.create_task(other.get("/v1/feed", token=user.token)) for _ in range(20)]
    await asyncio.sleep(0.05)  # sent, and (on a busy machine too) mostly not yet answered
    code = await asyncio.gather(web.stop(signal.SIGTERM, timeout=15))
    results = await asyncio.gather(*in_flight, return_exceptions=True)
    assert code == [0]
    done = [r for r in results if not isinstance(r, BaseException)]
    assert done and all(r.status == 200 for r in done)
    for r in results:
        if isinstance(r, BaseException):  # arrived after the listener closed: never half-served
            assert isinstance(r, aiohttp.ClientConnectionError)
    await asyncio.wait_for(restart.wait(), 5)
    await asyncio.sleep(0.2)
    assert not client.connected


async def test_worker_sigterm_hands_back_its_job(
    api: Api, pool: asyncpg.Pool, stack: Stack, run_jobs: Callable[[], Awaitable[int]]
) -> None:
    user = await api.register("handback")
    worker = await stack.worker()
    await asyncio.sleep(1.0)
    r = await api.post("/v1/avatars", token=user.token, json={"measurements": BODY})
    job_id = uuid.UUID((await r.json())["job"]["id"])

    async def running() -> bool:
        return await pool.fetchval("SELECT status FROM jobs WHERE id = $1", job_id) == "running"

    await _until(running, 20, step=0.002)
    assert await worker.stop(signal.SIGTERM) == 0
    await run_jobs()
    job = await db_jobs.get_job(pool, job_id)
    assert job is not None and job["status"] == "done"
    assert await pool.fetchval("SELECT status FROM avatars") == "ready"
