"""Typed keys for what the web application holds while it runs. The Socket.IO side's own keys
(SIO, EMITTER) are realtime/context.py's."""

from __future__ import annotations

import aiohttp
import asyncpg
from aiohttp import web
from arq.connections import ArqRedis
from redis.asyncio import Redis

from drape.settings import Settings
from drape.storage import ObjectStore
from server.firebase import FirebaseVerifier

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)
REDIS = web.AppKey("redis", Redis)
ARQ = web.AppKey("arq", ArqRedis)
STORE = web.AppKey("store", ObjectStore)  # type: ignore[type-abstract]
HTTP = web.AppKey("http", aiohttp.ClientSession)
FIREBASE = web.AppKey("firebase", FirebaseVerifier)
