"""Room-routed fan-out: a process hears only the rooms it holds a member of.

python-socketio's Redis manager publishes every emit on one channel that every process decodes,
so a cluster of web processes can carry no more events per second than one process can decode,
whatever the number of machines. Here each room has a channel of its own
(`<SOCKETIO_CHANNEL>#<room>`): an emit is published on its room's channel, and a process
subscribes to a room's channel only while one of its sockets is in the room (the first member to
enter subscribes, the last to leave unsubscribes). A like on a post that nobody on a process
watches costs that process nothing. Workers publish the same way (realtime/emit.py).

- Subscriptions are batched: every enter and leave marks the room's channel, and one task sends
  the marked channels as SUBSCRIBE/UNSUBSCRIBE commands of up to BATCH channels (a connect storm
  of thousands of sockets costs a few dozen round trips, not one per socket). `enter_room`
  returns once Redis has acknowledged the room's subscription, so an event published after a
  `subscribe` ack reaches the socket.
- python-socketio's own messages (a remote disconnect, callbacks, an emit to everyone) still go
  on `<SOCKETIO_CHANNEL>`, which every process keeps. An emit to a socket's sid room is delivered
  locally only (sids live on one process). The control channel (drape/access.py) is separate.
- A listener that cannot go deaf: every PING_EVERY seconds a process publishes a ping to itself
  on each bus connection (one per cluster primary); a connection that is lost, that misses its
  ping for PING_TIMEOUT seconds, or that Redis unsubscribes from a room it still holds, is torn
  down. The process subscribes again (every held room, in batches) and sends each of its sockets
  `sync:needed` {reason: "bus_gap"}: events of that gap may be lost, and the client recovers them
  with `sync {after_seq}`, as after a reconnect.
- Exactly-once per socket and order per room: a room's events travel on one channel over one
  connection, and a process skips what it published itself (it has delivered it locally) by a
  host id prefix, without decoding it. An emit to a list of rooms is published once per room;
  a socket in two of the listed rooms would get it twice, which the app never does (lists are
  of user rooms, a socket is in one).

Messages are python-socketio's own dicts (orjson), prefixed with the publisher's host id.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import uuid
from typing import Any

import orjson
import socketio
from socketio.packet import Packet

from realtime.bus import Bus
from realtime.fanout import DirectDelivery
from realtime.metrics import BUS_CHANNELS, BUS_GAPS, BUS_MESSAGES

log = logging.getLogger(__name__)

BATCH = 500  # channels per SUBSCRIBE / UNSUBSCRIBE
PING_EVERY = 1.0  # seconds between self-addressed pings
PING_TIMEOUT = 3.0  # seconds without our own ping before a connection counts as deaf
RETRY_DELAY = 0.5  # seconds before subscribing again after a lost connection
READY_TIMEOUT = 5.0  # seconds enter_room waits for Redis to acknowledge the room
HOST_BYTES = 32  # uuid4().hex


STOP_WAIT = 5.0  # seconds shutdown waits for the listener
STOP_AGAIN = 0.25  # seconds between cancellations of a listener that has not stopped yet


class Deaf(Exception):
    """A bus connection that stopped hearing: its own ping missed, or a room unsubscribed."""


class Stopped(Exception):
    """The listener was told to stop."""


def room_channel(channel: str, namespace: str, room: Any) -> str:
    if namespace == "/":
        return f"{channel}#{room}"
    return f"{channel}#{namespace}#{room}"


def encode(host: bytes, message: dict[str, Any]) -> bytes:
    return host + orjson.dumps(message, option=orjson.OPT_NON_STR_KEYS)


def emit_message(
    event: str, data: Any, namespace: str, room: Any, skip_sid: Any, host_id: str
) -> dict[str, Any]:
    """The message python-socketio's pub/sub managers publish for an emit without callback."""
    args = list(data) if isinstance(data, tuple) else [data]
    binary = Packet.data_is_binary(args)
    if binary:
        args, attachments = Packet.deconstruct_binary(args)
        args = [args, *[base64.b64encode(a).decode() for a in attachments]]
    return {
        "method": "emit", "event": event, "data": args, "binary": binary,
        "namespace": namespace, "room": room, "skip_sid": skip_sid, "callback": None,
        "host_id": host_id,
    }  # fmt: skip


def routed(channel: str, host: bytes, message: dict[str, Any]) -> list[tuple[str, bytes]]:
    """(channel, payload) to publish `message` on: its room's channel (one per listed room), or
    the shared channel for an emit to everyone and python-socketio's other messages."""
    rooms = message.get("room") if message.get("method") == "emit" else None
    if rooms is None:
        return [(channel, encode(host, message))]
    namespace = message.get("namespace") or "/"
    names = [rooms] if isinstance(rooms, str) else list(rooms)
    return [
        (room_channel(channel, namespace, r), encode(host, {**message, "room": r})) for r in names
    ]


class Router:
    """The channels this process should hear and those Redis has confirmed, reconciled in
    batches by one task over the current subscriber."""

    def __init__(self) -> None:
        self.wanted: set[str] = set()
        self.subscribed: set[str] = set()
        self.unsubscribing: set[str] = set()
        self._dirty: set[str] = set()
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._kick = asyncio.Event()
        self._ps: Any = None

    def want(self, ch: str) -> None:
        self.wanted.add(ch)
        self._dirty.add(ch)
        self._kick.set()

    def drop(self, ch: str) -> None:
        self.wanted.discard(ch)
        self._dirty.add(ch)
        self._kick.set()

    async def ready(self, ch: str) -> None:
        """Until Redis has acknowledged `ch` (or READY_TIMEOUT: the bus is away, and the
        socket will be told `sync:needed` once it is back)."""
        if ch in self.subscribed or ch not in self.wanted:
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(ch, []).append(fut)
        try:
            await asyncio.wait_for(asyncio.shield(fut), READY_TIMEOUT)
        except TimeoutError:
            log.warning("room subscription not acknowledged in time")

    def attach(self, ps: Any) -> None:
        self._ps = ps
        self.subscribed = set()
        self.unsubscribing = set()
        self._dirty = set(self.wanted)
        self._kick.set()

    def detach(self) -> None:
        self._ps = None
        self.subscribed = set()
        self.unsubscribing = set()

    async def run(self) -> None:
        while True:
            await self._kick.wait()
            self._kick.clear()
            await self.flush()

    async def flush(self) -> None:
        ps = self._ps
        while ps is not None and ps is self._ps and self._dirty:
            batch: list[str] = []
            while self._dirty and len(batch) < BATCH:
                batch.append(self._dirty.pop())
            add = [c for c in batch if c in self.wanted and c not in self.subscribed]
            remove = [c for c in batch if c not in self.wanted and c in self.subscribed]
            if add:
                try:
                    await ps.subscribe(*add)
                except TimeoutError:  # acknowledged late (Redis busy): send the batch again
                    log.warning("room subscriptions not acknowledged in time; again")
                    self._dirty.update(add)
                    continue
                self.subscribed.update(add)
                for ch in add:
                    for fut in self._waiters.pop(ch, ()):
                        if not fut.done():
                            fut.set_result(None)
            if remove:
                self.subscribed.difference_update(remove)
                self.unsubscribing.update(remove)
                await ps.unsubscribe(*remove)
            BUS_CHANNELS.set(len(self.subscribed))


class RoutedManager(DirectDelivery):
    """python-socketio's pub/sub manager over per-room channels (see module docstring)."""

    name = "drape-routed"

    def __init__(self, bus_url: str, channel: str) -> None:
        super().__init__(channel=channel)
        self.bus = Bus(bus_url, name=f"drape-bus:{self.host_id}")
        self.router = Router()
        self.host = self.host_id.encode()
        self.ping_prefix = f"{channel}#ping:{self.host_id}"
        self.listening = asyncio.Event()  # set while subscribed, cleared during a gap
        self.gaps = 0
        self._sid_rooms: dict[tuple[str, str], set[Any]] = {}
        self._pongs: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def initialize(self) -> None:
        # python-socketio calls this lazily; the listener is started by `start` instead.
        socketio.AsyncManager.initialize(self)

    async def start(self) -> None:
        """Start listening (the bus opens in the background: sockets that enter rooms before it
        is up wait for their rooms' subscriptions in `enter_room`)."""
        self._task = asyncio.create_task(self._supervise())

    async def stop(self) -> None:
        """Stop listening, within STOP_WAIT: closing a client whose Redis stopped answering can
        wait on its connections for as long as the Redis stays silent, and shutdown must not.

        One cancellation is not enough: the subscriber's library (anyio cancel scopes inside
        coredis) can absorb a cancellation that lands while it waits for a message, and the
        listener then reads on. So the listener is cancelled again until it ends, and it stops
        by itself at its next message (its own pings come every PING_EVERY seconds) or
        reconnection once `_stopping` is set. A listener left running would keep the event
        loop's own shutdown (which cancels each task once) waiting forever."""
        self._stopping = True
        task = self._task
        if task is None:
            return
        deadline = time.monotonic() + STOP_WAIT
        while not task.done() and time.monotonic() < deadline:
            task.cancel()
            await asyncio.wait({task}, timeout=STOP_AGAIN)
        if not task.done():
            log.warning("socket bus listener did not stop within %.0f s", STOP_WAIT)

    # Rooms -> channels ---------------------------------------------------------------------

    def _routed_room(self, sid: str, room: Any) -> bool:
        return room is not None and room != sid

    def basic_enter_room(self, sid: str, namespace: str, room: Any, eio_sid: Any = None) -> None:
        fresh = self._routed_room(sid, room) and room not in self.rooms.get(namespace, {})
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        self._sid_rooms.setdefault((namespace, sid), set()).add(room)
        if fresh:
            self.router.want(room_channel(self.channel, namespace, room))

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)
        held = self._sid_rooms.get((namespace, sid))
        if held is not None:
            held.discard(room)
        if self._routed_room(sid, room) and room not in self.rooms.get(namespace, {}):
            self.router.drop(room_channel(self.channel, namespace, room))

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        # python-socketio scans every room of the namespace here: quadratic in a storm.
        if namespace not in self.rooms:
            return
        for room in self._sid_rooms.pop((namespace, sid), set()) - {None}:
            self.basic_leave_room(sid, namespace, room)
        self.basic_leave_room(sid, namespace, None)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            if sid in pending.get(namespace, ()):
                pending[namespace].remove(sid)
                if not pending[namespace]:
                    del pending[namespace]

    def get_rooms(self, sid: str, namespace: str) -> list[Any]:
        return [r for r in self._sid_rooms.get((namespace, sid), ()) if r is not None]

    async def enter_room(self, sid: str, namespace: str, room: Any, eio_sid: Any = None) -> None:
        await super().enter_room(sid, namespace, room, eio_sid=eio_sid)
        if self._routed_room(sid, room):
            await self.router.ready(room_channel(self.channel, namespace or "/", room))

    # Publishing ----------------------------------------------------------------------------

    async def _publish(self, data: dict[str, Any]) -> None:
        if data.get("method") == "emit":
            namespace = data.get("namespace") or "/"
            rooms = data.get("room")
            if isinstance(rooms, str) and self.is_sid_room(namespace, rooms):
                return  # a socket of this process: delivered already
            if isinstance(rooms, list):
                data = {**data, "room": [r for r in rooms if not self.is_sid_room(namespace, r)]}
        await self.bus.publish_many(routed(self.channel, self.host, data))

    async def emit_each(self, namespace: str, items: list[tuple[str, Any, str]]) -> None:
        """Emit each (event, data, room): delivered here as `emit` would, and published to the
        other processes in one pipeline (a connect storm's presence announcements: one round
        trip, not one per user). Order is kept among the items."""
        messages = [emit_message(e, d, namespace, r, None, self.host_id) for e, d, r in items]
        for message in messages:
            await self._handle_emit(message)
        await self.bus.publish_many(
            [
                pair
                for m in messages
                if not self.is_sid_room(namespace, m["room"])  # delivered here already
                for pair in routed(self.channel, self.host, m)
            ]
        )

    # Listening -----------------------------------------------------------------------------

    async def _supervise(self) -> None:
        while not self._stopping:  # the bus client could not open (e.g. no cluster node answers)
            try:
                await self.bus.run(self._listen_forever)
            except Exception:
                if self._stopping:
                    break
                log.warning("socket bus unreachable; trying again", exc_info=True)
            self.listening.clear()
            await asyncio.sleep(RETRY_DELAY)
        self.listening.clear()

    async def _listen_forever(self) -> None:
        first = True
        while not self._stopping:
            try:
                await self._listen(first)
            except Exception:
                task = asyncio.current_task()
                if (task is not None and task.cancelling()) or self._stopping:
                    raise
                log.warning("socket bus connection lost; subscribing again", exc_info=True)
            self.listening.clear()
            self.router.detach()
            first = False
            self.gaps += 1
            BUS_GAPS.inc()
            await asyncio.sleep(RETRY_DELAY)

    async def _listen(self, first: bool) -> None:
        async with self.bus.subscriber() as ps:
            pings = self.bus.ping_channels(self.ping_prefix)
            now = time.monotonic()
            self._pongs = dict.fromkeys(pings, now)
            await ps.subscribe(self.channel, *pings)
            self.router.attach(ps)
            await self.router.flush()
            self.listening.set()
            if not first:
                await self._tell_sync()
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self.router.run())
                tasks.create_task(self._ping(pings))
                async for message in ps:
                    await self._receive(message)

    async def _ping(self, channels: list[str]) -> None:
        n = 0
        while True:
            n += 1
            payload = str(n).encode()
            await asyncio.wait_for(
                self.bus.publish_many([(c, payload) for c in channels]), PING_TIMEOUT
            )
            await asyncio.sleep(PING_EVERY)
            now = time.monotonic()
            late = [c for c, at in self._pongs.items() if now - at > PING_TIMEOUT]
            if late:
                raise Deaf(f"no self-addressed ping for {PING_TIMEOUT}s on {late}")

    async def _tell_sync(self) -> None:
        await self.server.emit(
            "sync:needed", {"reason": "bus_gap"}, namespace="/", ignore_queue=True
        )

    async def _receive(self, message: Any) -> None:
        if self._stopping:
            raise Stopped
        kind = message["type"]
        channel = message["channel"]
        channel = channel.decode() if isinstance(channel, bytes) else channel
        if kind in ("unsubscribe", "sunsubscribe"):
            if channel in self.router.unsubscribing:
                self.router.unsubscribing.discard(channel)
            elif channel in self.router.wanted or channel in self._pongs:
                raise Deaf(f"Redis unsubscribed {channel}")
            return
        if kind != "message":
            return
        if channel in self._pongs:
            self._pongs[channel] = time.monotonic()
            return
        BUS_MESSAGES.inc()
        data: bytes = message["data"]
        if data[:HOST_BYTES] == self.host:
            return  # published here, delivered here already
        try:
            await self._dispatch(orjson.loads(data[HOST_BYTES:]))
        except Exception:
            log.exception("socket bus message failed")

    async def _dispatch(self, data: dict[str, Any]) -> None:
        method = data.get("method")
        if method == "emit":
            await self._handle_emit(data)
        elif method == "callback":
            await self._handle_callback(data)
        elif method == "disconnect":
            await self._handle_disconnect(data)
        elif method == "enter_room":
            await self._handle_enter_room(data)
        elif method == "leave_room":
            await self._handle_leave_room(data)
        elif method == "close_room":
            await self._handle_close_room(data)


class RoutedPublisher:
    """Publish-only, for processes without sockets (workers): the same channels and messages."""

    def __init__(self, bus: Bus, channel: str) -> None:
        self.bus = bus
        self.channel = channel
        self.host_id = uuid.uuid4().hex
        self.host = self.host_id.encode()

        self._owner: asyncio.Task[None] | None = None

    async def emit(self, event: str, data: Any, *, room: Any, namespace: str) -> None:
        if self._owner is None:  # the task that holds the client open (realtime/bus.py)
            self._owner = asyncio.create_task(self.bus.run())
        message = emit_message(event, data, namespace, room, None, self.host_id)
        await self.bus.publish_many(routed(self.channel, self.host, message))

    async def aclose(self) -> None:
        if self._owner is not None:
            self.bus.stop()
            await self._owner
            self._owner = None
