"""Room broadcast that writes one encoded frame straight to each WebSocket.

python-socketio delivers a room emit by creating a task per recipient, which puts the packet on
that socket's queue, which wakes that socket's writer task: about three task switches per
delivery, and thousands of short-lived tasks for the garbage collector to scan. For a like
fanned out to every watcher of a post that dominates the cost (see bench/fanout.py).

Here the packet is encoded once and written with `send_str` to every recipient whose WebSocket
is idle; a socket that is busy (packets already queued, or a full write buffer: a slow phone)
gets the packet through its own queue as before, so one slow client never stalls the others and
per-socket order is kept. Cross-process delivery goes through Redis pub/sub: one channel per
room (realtime/routed.py), or python-socketio's one channel (FanoutRedisManager).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import socketio
from aiohttp import web
from engineio import packet as eio_packet
from engineio.async_drivers.aiohttp import WebSocket as EngineWebSocket
from socketio import packet as sio_packet
from socketio.async_pubsub_manager import AsyncPubSubManager

from realtime.metrics import SOCKET_DELIVERIES

DIRECT = SOCKET_DELIVERIES.labels("direct")
QUEUED = SOCKET_DELIVERIES.labels("queued")

# Above this many bytes waiting in a socket's transport buffer, the socket counts as busy.
BUSY_BYTES = 64 * 1024


class RecordingWebSocket(EngineWebSocket):
    """Engine.IO's aiohttp WebSocket wrapper, which also leaves the aiohttp response on its
    Engine.IO socket (as `raw_ws`) so a broadcast can write to it directly."""

    async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
        self._sock = web.WebSocketResponse(max_msg_size=self.server.max_http_buffer_size)
        await self._sock.prepare(environ["aiohttp.request"])
        owner = getattr(self.handler, "__self__", None)  # the Engine.IO socket
        if owner is not None:
            owner.raw_ws = self._sock
        self.environ = environ
        await self.handler(self)
        return self._sock


def install(sio: socketio.AsyncServer) -> None:
    """Use the recording WebSocket wrapper for this server's Engine.IO connections."""
    sio.eio._async = {**sio.eio._async, "websocket": RecordingWebSocket}


def event_actor(args: list[Any]) -> str | None:
    """The account whose action an event reports (`actor.id` of its payload), if any."""
    data = args[0] if args else None
    actor = data.get("actor") if isinstance(data, dict) else None
    actor_id = actor.get("id") if isinstance(actor, dict) else None
    return actor_id if isinstance(actor_id, str) else None


class DirectDelivery(AsyncPubSubManager):
    """A pub/sub manager whose local delivery writes frames directly (see module docstring).

    `excludes(sid, actor)`, when set, leaves out recipients that must not get an event about
    `actor`'s action (accounts apart by a block, realtime/events.py)."""

    excludes: Callable[[str, str], bool] | None = None

    def _has_local(self, namespace: str, room: Any) -> bool:
        return _has_local_members(self.rooms[namespace], room)

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        if message.get("callback") or message.get("binary"):
            await super()._handle_emit(message)
            return
        namespace = message.get("namespace") or "/"
        if namespace not in self.rooms or not self._has_local(namespace, message.get("room")):
            return  # e.g. a like on a post nobody here watches: no packet to build
        data = message["data"]
        args = list(data) if isinstance(data, list) else [data]
        pkt = self.server.packet_class(
            sio_packet.EVENT, namespace=namespace, data=[message["event"], *args]
        )
        eio_pkt = eio_packet.Packet(eio_packet.MESSAGE, pkt.encode())
        frame = eio_pkt.encode()
        direct = queued = 0
        skip = message.get("skip_sid")
        skip_sids = set(skip) if isinstance(skip, list) else {skip}
        actor = event_actor(args) or ""
        excludes = self.excludes if actor else None
        sockets = self.server.eio.sockets
        for sid, eio_sid in self.get_participants(namespace, message.get("room")):
            if sid in skip_sids or (excludes is not None and excludes(sid, actor)):
                continue
            sock = sockets.get(eio_sid)
            if sock is None or sock.closed:
                continue
            ws = getattr(sock, "raw_ws", None)
            if ws is not None and _idle(sock, ws):
                try:
                    await ws.send_str(frame)
                    direct += 1
                    continue
                except ConnectionError:
                    pass
            await sock.send(eio_pkt)
            queued += 1
        DIRECT.inc(direct)
        QUEUED.inc(queued)


class FanoutRedisManager(DirectDelivery, socketio.AsyncRedisManager):
    """python-socketio's Redis manager (one channel every process decodes) with direct local
    delivery: REALTIME_ROUTING=broadcast, the path before realtime/routed.py."""


def _has_local_members(rooms: dict[Any, Any], room: Any) -> bool:
    if room is None:
        return True
    names = [room] if isinstance(room, str) else room
    return any(rooms.get(name) for name in names)


def _idle(sock: Any, ws: Any) -> bool:
    if not sock.upgraded or sock.upgrading or not sock.queue.empty() or ws.closed:
        return False
    transport = ws._writer.transport if ws._writer is not None else None
    return transport is not None and transport.get_write_buffer_size() < BUSY_BYTES
