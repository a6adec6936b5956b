"""What the Socket.IO side holds while the process runs: its app keys, and the backends its event
handlers use (given to it by the web process once they are open)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import socketio
from aiohttp import web
from arq.connections import ArqRedis
from redis.asyncio import Redis

from drape.access import Mirror
from drape.storage import ObjectStore
from realtime.emit import Emitter


@dataclass(frozen=True, slots=True)
class Backends:
    pool: asyncpg.Pool
    redis: Redis
    queue: ArqRedis
    store: ObjectStore


SIO = web.AppKey("sio", socketio.AsyncServer)
EMITTER = web.AppKey("emitter", Emitter)
# The ended sessions as this process knows them (drape.access.Mirror), kept by the control
# channel's listener and checked by every authenticated request.
REVOKED = web.AppKey("revoked", Mirror)
