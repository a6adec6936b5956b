"""A real `python -m workers` process SIGKILLed while it purges a deleted account; a new worker
finishes the purge through arq's retry, and nothing of the account is left."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest
from arq.constants import in_progress_key_prefix
from arq.jobs import Job, JobStatus

from drape.queue import unpack
from drape.settings import Settings
from server.context import ARQ, STORE
from tests.conftest import Api, RunningApp
from tests.harness import Stack
from tests.test_account_deletion import PASSWORD, _keys, _life_of, _rows_naming

OBJECTS = 1200  # one delete request each on the S3 server: the purge takes a while (on an idle
# machine 400 were all gone before the first look)
POSTS = 2000  # with a like and a comment of the other account's on each


@pytest.fixture
def store_kind() -> str:
    return "s3"


@pytest.fixture
async def stack(settings: Settings, tmp_path: Path) -> AsyncIterator[Stack]:
    s = Stack(settings, logdir=tmp_path)
    yield s
    await s.aclose()


async def _until(check: Callable[[], Awaitable[bool]], timeout: float, step: float = 0.05) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise TimeoutError(check)
        await asyncio.sleep(step)


async def test_a_worker_killed_mid_purge_leaves_a_purge_the_next_worker_finishes(
    api: Api,
    pool: asyncpg.Pool,
    server: RunningApp,
    run_jobs: Callable[[], Awaitable[int]],
    stack: Stack,
) -> None:
    user, other = await api.register("doomed"), await api.register("survivor")
    await _life_of(api, pool, server, user, other)
    await run_jobs()
    me, them = uuid.UUID(user.id), uuid.UUID(other.id)
    await pool.execute(
        "INSERT INTO posts (author_id, caption) SELECT $1, 'bulk ' || g"
        " FROM generate_series(1, $2) g",
        me,
        POSTS,
    )
    await pool.execute(
        "INSERT INTO likes (post_id, user_id) SELECT id, $2 FROM posts WHERE author_id = $1",
        me,
        them,
    )
    await pool.execute(
        "INSERT INTO comments (post_id, author_id, body)"
        " SELECT id, $2, 'wow' FROM posts WHERE author_id = $1",
        me,
        them,
    )
    store = server.app[STORE]
    for start in range(0, OBJECTS, 50):
        await asyncio.gather(
            *(
                store.put(f"posts/{user.id}/bulk/{i}.webp", b"pixels", "image/webp")
                for i in range(start, start + 50)
            )
        )
    total = len(await _keys(server, user.id))
    assert total == OBJECTS + 5

    r = await api.request("DELETE", "/v1/me", token=user.token, json={"password": PASSWORD})
    assert r.status == 202, await r.text()
    job = Job(
        f"purge:{user.id}",
        server.app[ARQ],
        _queue_name=server.settings.arq_queue,
        _deserializer=unpack,
    )
    assert await job.status() == JobStatus.queued

    # A short job timeout: arq hands a killed worker's job to another once its in-progress
    # mark (the longest timeout + 10 s) runs out.
    first = await stack.worker(JOB_TIMEOUT="5", LOG_LEVEL="INFO")

    async def started() -> bool:
        return len(await _keys(server, user.id)) < total

    await _until(started, 120)  # a worker's start-up warms the avatar model: seconds
    await first.stop(signal.SIGKILL)
    await asyncio.sleep(0.2)  # a delete the S3 server had already read is done by now
    # Killed mid-purge: some objects gone, others and every row still there.
    left = await _keys(server, user.id)
    assert 0 < len(left) < total, len(left)
    assert await pool.fetchval("SELECT count(*) FROM posts WHERE author_id = $1", me) == POSTS + 1
    assert await server.app[ARQ].exists(in_progress_key_prefix + job.job_id)
    assert await job.status() == JobStatus.in_progress  # as the killed worker left it

    await stack.worker(LOG_LEVEL="INFO")
    result = await job.result(timeout=120, poll_delay=0.2)
    assert result == {"objects": len(left)}
    info = await job.result_info()
    assert info is not None and info.job_try == 2 and info.success  # the retry of the killed run

    assert await _rows_naming(pool, user.id) == {}
    assert await _keys(server, user.id) == []
    assert await _keys(server, other.id) == [f"posts/{other.id}/keep/1.webp"]
    assert await pool.fetchval("SELECT count(*) FROM likes WHERE user_id = $1", them) == 0
    assert await pool.fetchval("SELECT count(*) FROM comments WHERE author_id = $1", them) == 0
