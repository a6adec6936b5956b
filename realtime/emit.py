"""Emit helpers used by web processes and workers alike.

The target is either the web process's AsyncServer or a worker's publisher (realtime/routed.py);
both publish through Redis, so the event reaches the client on whichever process holds its socket.

Emission happens after the write has committed and is best-effort (Redis pub/sub is at-most-once
anyway): a failure is logged, never turned into a failed request. Clients recover what they
missed with `sync` and the absolute counters of the next event.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

import socketio

from drape.settings import Settings
from realtime.bus import Bus
from realtime.rooms import post_room, user_room
from realtime.routed import RoutedPublisher

log = logging.getLogger(__name__)

# Room lists are published in chunks so one message stays small.
ROOMS_PER_MESSAGE = 1000


class EmitTarget(Protocol):
    async def emit(self, event: str, data: Any, *, room: Any, namespace: str) -> Any: ...


# Called after each notification is emitted (the web process queues pushes with it).
NotificationHook = Callable[[uuid.UUID | str, dict[str, Any]], Awaitable[None]]


class Emitter:
    def __init__(self, target: EmitTarget) -> None:
        self._target = target
        self.after_notification: NotificationHook | None = None

    async def aclose(self) -> None:
        close = getattr(self._target, "aclose", None)
        if close is not None:
            await close()

    async def _emit(self, event: str, data: Any, room: str | list[str]) -> None:
        try:
            await self._target.emit(event, data, room=room, namespace="/")
        except Exception:
            log.warning("emit failed", extra={"event": event}, exc_info=True)

    async def to_user(self, user_id: uuid.UUID | str, event: str, data: Any) -> None:
        await self._emit(event, data, user_room(user_id))

    async def to_users(self, user_ids: Iterable[uuid.UUID | str], event: str, data: Any) -> None:
        rooms = [user_room(u) for u in user_ids]
        for i in range(0, len(rooms), ROOMS_PER_MESSAGE):
            await self._emit(event, data, rooms[i : i + ROOMS_PER_MESSAGE])

    async def to_post(self, post_id: uuid.UUID | str, event: str, data: Any) -> None:
        await self._emit(event, data, post_room(post_id))

    async def job_update(self, user_id: uuid.UUID | str | None, job: dict[str, Any]) -> None:
        if user_id is not None:
            await self.to_user(user_id, "job:update", job)

    async def notification(self, user_id: uuid.UUID | str, note: dict[str, Any] | None) -> None:
        if note is not None:
            await self.to_user(user_id, "notification", note)
            if self.after_notification is not None:
                try:
                    await self.after_notification(user_id, note)
                except Exception:
                    log.warning("after-notification hook failed", exc_info=True)


def worker_emitter(settings: Settings) -> Emitter:
    """For processes without a Socket.IO server: publish only, never listen, on the channels
    the web processes hear (REALTIME_ROUTING). `aclose` it when done."""
    url = settings.realtime_bus_url or settings.redis_url
    if settings.realtime_routing == "broadcast":
        manager = socketio.AsyncRedisManager(
            url, channel=settings.socketio_channel, write_only=True
        )
        return Emitter(manager)
    return Emitter(RoutedPublisher(Bus(url), settings.socketio_channel))
