"""The python-socketio AsyncServer, attached to the aiohttp app and scaled out through Redis."""

from __future__ import annotations

import logging
from typing import Any

import socketio
from aiohttp import web

from drape.settings import Settings
from drape.tokens import InvalidToken, verify_access_token
from realtime.emit import Emitter
from realtime.fanout import FanoutRedisManager, install
from realtime.handlers import register_handlers
from realtime.rooms import user_room
from server.context import EMITTER, POOL, SIO
from server.metrics import SOCKETS_CONNECTED

log = logging.getLogger(__name__)


def create_sio(settings: Settings) -> socketio.AsyncServer:
    manager = FanoutRedisManager(settings.redis_url, channel=settings.socketio_channel)
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=list(settings.cors_origins) or "*",
        ping_interval=20,
        ping_timeout=20,
        max_http_buffer_size=64 * 1024,
        logger=False,
        engineio_logger=False,
    )
    install(sio)
    return sio


def setup_realtime(app: web.Application, settings: Settings) -> socketio.AsyncServer:
    sio = create_sio(settings)
    app[SIO] = sio
    app[EMITTER] = Emitter(sio)

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str):
            raise socketio.exceptions.ConnectionRefusedError("unauthorized: no token")
        try:
            claims = verify_access_token(settings, token)
        except InvalidToken:
            raise socketio.exceptions.ConnectionRefusedError(
                "unauthorized: invalid token"
            ) from None
        active = await app[POOL].fetchval(
            "SELECT is_active FROM users WHERE id = $1", claims.user_id
        )
        if not active:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized: no such account")
        await sio.save_session(sid, {"user_id": str(claims.user_id)})
        await sio.enter_room(sid, user_room(claims.user_id))
        SOCKETS_CONNECTED.inc()

    @sio.event
    async def disconnect(sid: str, reason: Any = None) -> None:
        SOCKETS_CONNECTED.dec()

    register_handlers(sio, app)
    sio.attach(app)

    async def stop(app: web.Application) -> None:
        # Graceful shutdown: tell this process's sockets to come back (through the load balancer,
        # to another process), then close their transports. An Engine.IO close, unlike a
        # Socket.IO disconnect, makes clients reconnect on their own.
        await sio.emit("server:restart", {"reconnect": True}, namespace="/", ignore_queue=True)
        if sio.eio.sockets:
            await sio.eio.disconnect()
        await sio.shutdown()
        listener = getattr(sio.manager, "thread", None)
        if listener is not None:
            listener.cancel()

    app.on_shutdown.append(stop)
    return sio
