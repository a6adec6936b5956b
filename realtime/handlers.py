"""Socket.IO events from clients: post rooms and catching up on notifications.

Every handler checks authorization itself: the socket's user comes from its verified token,
and a post room is joined only if that user may see the post.
"""

from __future__ import annotations

import uuid
from typing import Any

import socketio
from aiohttp import web

from db import notifications as db_notifications
from db import posts as db_posts
from realtime.rooms import post_room
from server.context import POOL
from server.metrics import SOCKET_EVENTS

MAX_POST_ROOMS = 200
SYNC_LIMIT = 500


def _error(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


def _uuid(data: Any, key: str) -> uuid.UUID | None:
    if not isinstance(data, dict) or not isinstance(data.get(key), str):
        return None
    try:
        return uuid.UUID(data[key])
    except ValueError:
        return None


def register_handlers(sio: socketio.AsyncServer, app: web.Application) -> None:
    async def user_of(sid: str) -> uuid.UUID:
        session = await sio.get_session(sid)
        return uuid.UUID(session["user_id"])

    @sio.on("subscribe")
    async def subscribe(sid: str, data: Any = None) -> dict[str, Any]:
        post_id = _uuid(data, "post_id")
        if post_id is None:
            SOCKET_EVENTS.labels("subscribe", "invalid").inc()
            return _error("invalid", "send {post_id: <uuid>}")
        viewer = await user_of(sid)
        post = await db_posts.get_visible_post(app[POOL], post_id, viewer)
        if post is None:
            SOCKET_EVENTS.labels("subscribe", "refused").inc()
            return _error("not_found", "no such post, or you may not see it")
        rooms = [r for r in sio.rooms(sid) if r.startswith("post:")]
        if len(rooms) >= MAX_POST_ROOMS:
            return _error("too_many", f"at most {MAX_POST_ROOMS} posts at once; unsubscribe first")
        await sio.enter_room(sid, post_room(post_id))
        SOCKET_EVENTS.labels("subscribe", "ok").inc()
        return {
            "ok": True,
            "post_id": str(post_id),
            "like_count": post["like_count"],
            "comment_count": post["comment_count"],
        }

    @sio.on("unsubscribe")
    async def unsubscribe(sid: str, data: Any = None) -> dict[str, Any]:
        post_id = _uuid(data, "post_id")
        if post_id is None:
            return _error("invalid", "send {post_id: <uuid>}")
        await sio.leave_room(sid, post_room(post_id))
        return {"ok": True, "post_id": str(post_id)}

    @sio.on("sync")
    async def sync(sid: str, data: Any = None) -> dict[str, Any]:
        after = data.get("after_seq") if isinstance(data, dict) else None
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            SOCKET_EVENTS.labels("sync", "invalid").inc()
            return _error("invalid", "send {after_seq: <integer >= 0>}")
        page = await db_notifications.page_after(app[POOL], await user_of(sid), after, SYNC_LIMIT)
        SOCKET_EVENTS.labels("sync", "ok").inc()
        return {"ok": True, **page}
