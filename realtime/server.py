"""The python-socketio AsyncServer, attached to the aiohttp app and scaled out through Redis
(realtime/routed.py: each process hears only the rooms it holds members of)."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

import orjson
import socketio
from aiohttp import web
from engineio import json as engineio_json
from socketio.async_pubsub_manager import AsyncPubSubManager

from drape.access import Mirror
from drape.settings import Settings
from realtime.context import EMITTER, REVOKED, SIO, Backends
from realtime.emit import Emitter
from realtime.events import Events
from realtime.fanout import DirectDelivery, FanoutRedisManager, install
from realtime.metrics import SOCKET_EVENTS
from realtime.presence import PushWhenAway
from realtime.routed import RoutedManager

log = logging.getLogger(__name__)

DISCONNECT_ALL_TIMEOUT = 5.0  # seconds; the web process's own shutdown timeout is 15


_LONG_DIGITS = re.compile(r"[0-9]{19}")


class PacketJson:
    """The json module of python-socketio's and python-engineio's packets: orjson, several
    times faster than the standard library's, which decoding every packet of a connect storm
    spent a tenth of a web process's CPU on. What orjson refuses or reads otherwise (integers
    past 64 bits, NaN, lone surrogates) goes to the library's own json, so the answer is
    exactly the one it gave, its size limit on integers included."""

    @staticmethod
    def loads(s: str | bytes, **kwargs: Any) -> Any:
        # orjson reads an integer past 64 bits as a float: a run of 19 digits goes to the
        # library (a long number, or digits inside a string: slower, never wrong).
        if not _LONG_DIGITS.search(s if isinstance(s, str) else s.decode(errors="replace")):
            try:
                return orjson.loads(s)
            except orjson.JSONDecodeError:
                pass
        return engineio_json.loads(s, **kwargs)

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        try:
            return orjson.dumps(obj).decode()
        except orjson.JSONEncodeError:
            return str(engineio_json.dumps(obj, **kwargs))


class AsyncServer(socketio.AsyncServer):
    """python-socketio's server, refusing client events that are not named by a string or that
    are named like its own lifecycle events: it would dispatch `42["disconnect"]` from a client
    to the disconnect handler, and `42["connect", {}, {"token": ...}]` to the connect one."""

    LIFECYCLE = frozenset({"connect", "disconnect", "connect_error"})

    async def _handle_event(self, eio_sid: str, namespace: str, id: Any, data: Any) -> None:
        if not isinstance(data, list) or not data or not isinstance(data[0], str):
            SOCKET_EVENTS.labels("malformed", "dropped").inc()
            return
        if data[0] in self.LIFECYCLE:
            SOCKET_EVENTS.labels("reserved", "dropped").inc()
            return
        await super()._handle_event(eio_sid, namespace, id, data)

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except ValueError:  # a packet that does not decode: a broken or hostile client
            SOCKET_EVENTS.labels("malformed", "disconnected").inc()
            await self.eio.disconnect(eio_sid)


def bus_url(settings: Settings) -> str:
    return settings.realtime_bus_url or settings.redis_url


def create_sio(settings: Settings) -> socketio.AsyncServer:
    manager: AsyncPubSubManager
    if settings.realtime_routing == "broadcast":
        manager = FanoutRedisManager(bus_url(settings), channel=settings.socketio_channel)
    else:
        manager = RoutedManager(bus_url(settings), settings.socketio_channel)
    sio = AsyncServer(
        async_mode="aiohttp",
        client_manager=manager,
        cors_allowed_origins=settings.allows_origin,  # called only for requests with an Origin
        ping_interval=20,
        ping_timeout=20,
        max_http_buffer_size=64 * 1024,
        json=PacketJson,
        logger=False,
        engineio_logger=False,
    )
    install(sio)
    return sio


def setup_realtime(
    app: web.Application, settings: Settings, backends: Callable[[web.Application], Backends]
) -> socketio.AsyncServer:
    """Attach Socket.IO to `app`; its handlers get `backends(app)` once the app has started."""
    sio = create_sio(settings)
    app[SIO] = sio
    app[EMITTER] = Emitter(sio)
    app[REVOKED] = mirror = Mirror()
    events = Events(settings, mirror)
    sio.register_namespace(events)
    if isinstance(sio.manager, DirectDelivery):
        sio.manager.excludes = events.excludes

    tasks: list[asyncio.Task[None]] = []

    async def start(app: web.Application) -> None:
        b = backends(app)
        events.bind(b)
        app[EMITTER].after_notification = PushWhenAway(settings, b.redis, b.queue)
        tasks.append(asyncio.create_task(events.presence.run()))
        if isinstance(sio.manager, RoutedManager):
            await sio.manager.start()
        tasks.append(asyncio.create_task(events.listen(settings.redis_url)))
        tasks.append(asyncio.create_task(events.sweep()))
        tasks.append(asyncio.create_task(events.viewers.heartbeat()))

    async def stop_tasks(app: web.Application) -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await events.viewers.close()

    app.on_startup.append(start)
    app.on_cleanup.append(stop_tasks)
    sio.attach(app)

    async def stop(app: web.Application) -> None:
        # Graceful shutdown: tell this process's sockets to come back (through the load balancer,
        # to another process), then close their transports. An Engine.IO close, unlike a
        # Socket.IO disconnect, makes clients reconnect on their own.
        await sio.emit("server:restart", {"reconnect": True}, namespace="/", ignore_queue=True)
        if sio.eio.sockets:
            # Bounded: closing waits for each socket's send queue to drain, and a socket whose
            # writer is already gone (its client left at the same moment) never drains.
            try:
                await asyncio.wait_for(sio.eio.disconnect(), DISCONNECT_ALL_TIMEOUT)
            except TimeoutError:
                log.warning("sockets still closing at shutdown; going on without them")
        await sio.shutdown()
        if isinstance(sio.manager, RoutedManager):
            await sio.manager.stop()
        listener = getattr(sio.manager, "thread", None)
        if listener is not None:
            listener.cancel()

    app.on_shutdown.append(stop)

    async def leave(app: web.Application) -> None:
        await events.presence.leave()

    app.on_shutdown.append(leave)
    return sio
