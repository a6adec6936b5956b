"""Socket.IO events from clients: post rooms and catching up on notifications.

Every handler checks authorization itself: the socket's user comes from its verified token,
and a post room is joined only if that user may see the post.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import socketio
from aiohttp import web

from db import avatars as db_avatars
from db import notifications as db_notifications
from db import posts as db_posts
from drape import avatar_live
from drape.queue import wake
from realtime.ratelimit import EventHandler, EventLimiter, guard
from realtime.ratelimit import error as _error
from realtime.rooms import post_room
from server.context import ARQ, POOL, REDIS, STORE
from server.metrics import SOCKET_EVENTS
from server.routes.avatars import avatar_json
from workers.avatar import AvatarInputError, normalize_customization, validate_measurements

MAX_POST_ROOMS = 200
SYNC_LIMIT = 500


async def _unknown_event(sid: str, data: Any) -> dict[str, Any]:
    """Nothing happens for an event nobody handles; it still counts against the rate limit."""
    SOCKET_EVENTS.labels("unknown", "ignored").inc()
    return _error("unknown_event", "no such event")


def _uuid(data: Any, key: str) -> uuid.UUID | None:
    if not isinstance(data, dict) or not isinstance(data.get(key), str):
        return None
    try:
        return uuid.UUID(data[key])
    except ValueError:
        return None


def register_handlers(
    sio: socketio.AsyncServer, app: web.Application, limiter: EventLimiter
) -> None:
    """Every handler runs behind `guard`: the per-socket rate limit, one `data` argument
    whatever the client sent, and an error ack instead of an unanswered event on failure."""

    def on(event: str) -> Callable[[EventHandler], EventHandler]:
        def register(handler: EventHandler) -> EventHandler:
            sio.on(event, guard(sio, limiter, event)(handler))
            return handler

        return register

    async def user_of(sid: str) -> uuid.UUID:
        session = await sio.get_session(sid)
        return uuid.UUID(session["user_id"])

    unknown = guard(sio, limiter, "unknown")(_unknown_event)

    @sio.on("*")
    async def any_other_event(event: Any, sid: str, *args: Any) -> dict[str, Any]:
        return await unknown(sid, *args)  # type: ignore[no-any-return]

    @on("subscribe")
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
        room = post_room(post_id)
        # Counted in the session: sio.rooms(sid) scans every room of the server, which made
        # connect storms quadratic (bench/fanout.py).
        async with sio.session(sid) as session:
            mine: set[str] = session.setdefault("post_rooms", set())
            if room not in mine and len(mine) >= MAX_POST_ROOMS:
                return _error(
                    "too_many", f"at most {MAX_POST_ROOMS} posts at once; unsubscribe first"
                )
            mine.add(room)
        await sio.enter_room(sid, room)
        SOCKET_EVENTS.labels("subscribe", "ok").inc()
        return {
            "ok": True,
            "post_id": str(post_id),
            "like_count": post["like_count"],
            "comment_count": post["comment_count"],
        }

    @on("unsubscribe")
    async def unsubscribe(sid: str, data: Any = None) -> dict[str, Any]:
        post_id = _uuid(data, "post_id")
        if post_id is None:
            return _error("invalid", "send {post_id: <uuid>}")
        room = post_room(post_id)
        async with sio.session(sid) as session:
            session.get("post_rooms", set()).discard(room)
        await sio.leave_room(sid, room)
        return {"ok": True, "post_id": str(post_id)}

    @on("sync")
    async def sync(sid: str, data: Any = None) -> dict[str, Any]:
        after = data.get("after_seq") if isinstance(data, dict) else None
        if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after < 2**63:
            SOCKET_EVENTS.labels("sync", "invalid").inc()
            return _error("invalid", "send {after_seq: <integer >= 0>}")
        page = await db_notifications.page_after(app[POOL], await user_of(sid), after, SYNC_LIMIT)
        SOCKET_EVENTS.labels("sync", "ok").inc()
        return {"ok": True, **page}

    @on("avatar:session")
    async def avatar_session(sid: str, data: Any = None) -> dict[str, Any]:
        avatar_id = _uuid(data, "avatar_id")
        if avatar_id is None:
            return _error("invalid", "send {avatar_id: <uuid>}")
        user = await user_of(sid)
        row = await db_avatars.get_own(app[POOL], avatar_id, user)
        if row is None:
            SOCKET_EVENTS.labels("avatar:session", "refused").inc()
            return _error("not_found", "no such avatar of yours")
        async with sio.session(sid) as session:
            session.setdefault("avatars", {})[str(avatar_id)] = row["revision"]
        current = await avatar_live.latest(app[REDIS], avatar_id)
        state = await avatar_json(row, app[STORE])
        if current is not None and current[0] > row["revision"]:
            state.update(current[1], revision=current[0])
        SOCKET_EVENTS.labels("avatar:session", "ok").inc()
        return {"ok": True, "avatar_id": str(avatar_id), **state}

    @on("avatar:set")
    async def avatar_set(sid: str, data: Any = None) -> dict[str, Any]:
        avatar_id = _uuid(data, "avatar_id")
        if avatar_id is None:
            return _error("invalid", "send {avatar_id, measurements?, customization?}")
        session = await sio.get_session(sid)
        floor = session.get("avatars", {}).get(str(avatar_id))
        if floor is None:
            return _error("no_session", "open it with avatar:session first")
        changes_m, changes_c = data.get("measurements") or {}, data.get("customization") or {}
        if not isinstance(changes_m, dict) or not isinstance(changes_c, dict):
            return _error("invalid", "measurements and customization are objects")
        redis = app[REDIS]
        current = await avatar_live.latest(redis, avatar_id)
        if current is None:
            row = await db_avatars.get_own(app[POOL], avatar_id, uuid.UUID(session["user_id"]))
            if row is None:
                return _error("not_found", "no such avatar of yours")
            base = {"measurements": row["measurements"], "customization": row["customization"]}
        else:
            base = current[1]
        try:
            custom = normalize_customization({**base["customization"], **changes_c})
            measurements = validate_measurements({**base["measurements"], **changes_m}, custom)
        except AvatarInputError as e:
            SOCKET_EVENTS.labels("avatar:set", "invalid").inc()
            return {
                "ok": False,
                "error": {"code": "invalid", "message": str(e)},
                "errors": e.as_problem_errors(),
            }
        revision = await avatar_live.next_revision(redis, avatar_id, floor)
        await avatar_live.store(
            redis, avatar_id, revision, {"measurements": measurements, "customization": custom}
        )
        arq = app[ARQ]
        await arq.enqueue_job(
            "avatar_live", str(avatar_id), revision, _job_id=f"avatar-live:{avatar_id}:{revision}"
        )
        await arq.enqueue_job(
            "avatar_commit",
            str(avatar_id),
            revision,
            session["user_id"],
            _job_id=f"avatar-commit:{avatar_id}:{revision}",
            _defer_by=avatar_live.COMMIT_AFTER,
        )
        await wake(arq)
        SOCKET_EVENTS.labels("avatar:set", "ok").inc()
        return {"ok": True, "avatar_id": str(avatar_id), "revision": revision}
