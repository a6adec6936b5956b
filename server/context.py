"""Typed keys for what the application holds while it runs."""

from __future__ import annotations

import aiohttp
import asyncpg
import socketio
from aiohttp import web
from arq.connections import ArqRedis
from redis.asyncio import Redis

from drape.settings import Settings
from drape.storage import ObjectStore
from realtime.emit import Emitter
from server.firebase import FirebaseVerifier

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)
REDIS = web.AppKey("redis", Redis)
ARQ = web.AppKey("arq", ArqRedis)
STORE = web.AppKey("store", ObjectStore)  # type: ignore[type-abstract]
SIO = web.AppKey("sio", socketio.AsyncServer)
HTTP = web.AppKey("http", aiohttp.ClientSession)
FIREBASE = web.AppKey("firebase", FirebaseVerifier)
EMITTER = web.AppKey("emitter", Emitter)
