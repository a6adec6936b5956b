"""Emit helpers used by web processes and workers alike.

The target is either the web process's AsyncServer or a worker's write-only AsyncRedisManager;
both publish through Redis, so the event reaches the client on whichever process holds its socket.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import socketio

from realtime.rooms import post_room, user_room


class EmitTarget(Protocol):
    async def emit(self, event: str, data: Any, *, room: str, namespace: str) -> Any: ...


class Emitter:
    def __init__(self, target: EmitTarget) -> None:
        self._target = target

    async def to_user(self, user_id: uuid.UUID | str, event: str, data: Any) -> None:
        await self._target.emit(event, data, room=user_room(user_id), namespace="/")

    async def to_post(self, post_id: uuid.UUID | str, event: str, data: Any) -> None:
        await self._target.emit(event, data, room=post_room(post_id), namespace="/")

    async def job_update(self, user_id: uuid.UUID | str | None, job: dict[str, Any]) -> None:
        if user_id is not None:
            await self.to_user(user_id, "job:update", job)


def worker_emitter(redis_url: str, channel: str) -> Emitter:
    """For processes without a Socket.IO server: publish only, never listen."""
    manager = socketio.AsyncRedisManager(redis_url, channel=channel, write_only=True)
    return Emitter(manager)
