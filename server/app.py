"""Builds the aiohttp application; nothing is created at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from redis.asyncio import Redis

from db.pool import create_pool
from drape import textfilter
from drape.queue import create_queue
from drape.settings import Settings, tune_collector
from drape.storage import open_store
from realtime.context import Backends
from realtime.server import setup_realtime
from server.auth import ACTIVE_CACHE
from server.context import ARQ, FIREBASE, HTTP, POOL, REDIS, SETTINGS, STORE
from server.firebase import FirebaseVerifier
from server.middleware import answer_headers, cors_preflight, problems, request_context
from server.routes import setup_routes

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        client_max_size=settings.client_max_size,
        middlewares=[request_context, cors_preflight, problems],
    )
    app.on_response_prepare.append(answer_headers)
    app[SETTINGS] = settings
    textfilter.for_settings(settings)  # a bad BLOCKED_WORDS_FILE stops start-up, not a request
    app[ACTIVE_CACHE] = {}
    app.cleanup_ctx.extend([_postgres, _redis, _object_store, _http_client])
    setup_routes(app)
    setup_realtime(app, settings, _backends)
    if settings.gc_freeze:
        app.on_startup.append(_tune_collector)
    return app


def _backends(app: web.Application) -> Backends:
    return Backends(pool=app[POOL], redis=app[REDIS], queue=app[ARQ], store=app[STORE])


async def _tune_collector(app: web.Application) -> None:
    tune_collector(app[SETTINGS])


async def _postgres(app: web.Application) -> AsyncIterator[None]:
    s = app[SETTINGS]
    app[POOL] = await create_pool(s.database_url, min_size=s.db_pool_min, max_size=s.db_pool_max)
    yield
    await app[POOL].close()


async def _redis(app: web.Application) -> AsyncIterator[None]:
    s = app[SETTINGS]
    app[REDIS] = Redis.from_url(s.redis_url)
    app[ARQ] = await create_queue(s)
    yield
    await app[ARQ].aclose()
    await app[REDIS].aclose()


async def _object_store(app: web.Application) -> AsyncIterator[None]:
    s = app[SETTINGS]
    async with open_store(s.object_store_url, public_url=s.public_url, secret=s.jwt_secret) as st:
        app[STORE] = st
        yield


async def _http_client(app: web.Application) -> AsyncIterator[None]:
    s = app[SETTINGS]
    async with aiohttp.ClientSession() as http:
        app[HTTP] = http
        app[FIREBASE] = FirebaseVerifier(
            project_id=s.firebase_project_id, certs_url=s.firebase_certs_url, http=http
        )
        yield
