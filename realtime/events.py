"""The default Socket.IO namespace: connect auth, then one method per client event.

Every handler checks authorization itself: the socket's user comes from its verified token, a
post room is joined only if that user may see the post, an avatar session only for one's own
avatar. Each reads like a route handler: validate, call `db/` or `drape/`, answer.
"""

from __future__ import annotations

import uuid
from typing import Any

import socketio

from db import avatars as db_avatars
from db import notifications as db_notifications
from db import posts as db_posts
from drape import avatar_live
from drape.avatar_inputs import AvatarInputError
from drape.settings import Settings
from drape.tokens import InvalidToken, verify_access_token
from realtime.context import Backends
from realtime.metrics import SOCKET_EVENTS, SOCKETS_CONNECTED
from realtime.ratelimit import EventHandler, EventLimiter, error, guarded
from realtime.rooms import post_room, user_room

MAX_POST_ROOMS = 200
SYNC_LIMIT = 500


def _uuid(data: Any, key: str) -> uuid.UUID | None:
    if not isinstance(data, dict) or not isinstance(data.get(key), str):
        return None
    try:
        return uuid.UUID(data[key])
    except ValueError:
        return None


class Events(socketio.AsyncNamespace):
    """Client events are named in CLIENT_EVENTS; `avatar:set` is handled by `on_avatar_set`.
    Each runs inside `guarded` (rate limit, one `data` argument, an error ack on failure); an
    event with no handler is answered `unknown_event` and still counts against the limit."""

    CLIENT_EVENTS = ("subscribe", "unsubscribe", "sync", "avatar:session", "avatar:set")

    def __init__(self, settings: Settings, limiter: EventLimiter | None = None) -> None:
        super().__init__("/")
        self.settings = settings
        self.limiter = limiter or EventLimiter()
        self._backends: Backends | None = None
        self._handlers: dict[str, EventHandler] = {
            name: getattr(self, "on_" + name.replace(":", "_")) for name in self.CLIENT_EVENTS
        }

    @classmethod
    def handled(cls) -> tuple[str, ...]:
        """Every event this namespace answers; "*" stands for any other name."""
        return ("connect", "disconnect", *cls.CLIENT_EVENTS, "*")

    def bind(self, backends: Backends) -> None:
        self._backends = backends

    @property
    def backends(self) -> Backends:
        if self._backends is None:
            raise RuntimeError("socket events before the web process opened its backends")
        return self._backends

    async def trigger_event(self, event: str, *args: Any) -> Any:
        if event == "connect":
            return await self.on_connect(*args)
        if event == "disconnect":
            return await self.on_disconnect(*args)
        sid, rest = args[0], args[1:]
        handler = self._handlers.get(event)
        label = event if handler is not None else "unknown"
        return await guarded(self.server, self.limiter, label, handler or self._unknown, sid, rest)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str):
            raise socketio.exceptions.ConnectionRefusedError("unauthorized: no token")
        try:
            claims = verify_access_token(self.settings, token)
        except InvalidToken:
            raise socketio.exceptions.ConnectionRefusedError(
                "unauthorized: invalid token"
            ) from None
        active = await self.backends.pool.fetchval(
            "SELECT is_active FROM users WHERE id = $1", claims.user_id
        )
        if not active:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized: no such account")
        await self.save_session(sid, {"user_id": str(claims.user_id)})
        await self.enter_room(sid, user_room(claims.user_id))
        SOCKETS_CONNECTED.inc()

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.limiter.forget(sid)
        SOCKETS_CONNECTED.dec()

    async def _unknown(self, sid: str, data: Any) -> dict[str, Any]:
        SOCKET_EVENTS.labels("unknown", "ignored").inc()
        return error("unknown_event", "no such event")

    async def _user(self, sid: str) -> uuid.UUID:
        session = await self.get_session(sid)
        return uuid.UUID(session["user_id"])

    async def on_subscribe(self, sid: str, data: Any) -> dict[str, Any]:
        post_id = _uuid(data, "post_id")
        if post_id is None:
            SOCKET_EVENTS.labels("subscribe", "invalid").inc()
            return error("invalid", "send {post_id: <uuid>}")
        post = await db_posts.get_visible_post(self.backends.pool, post_id, await self._user(sid))
        if post is None:
            SOCKET_EVENTS.labels("subscribe", "refused").inc()
            return error("not_found", "no such post, or you may not see it")
        if not await self._count_room(sid, post_room(post_id)):
            return error("too_many", f"at most {MAX_POST_ROOMS} posts at once; unsubscribe first")
        await self.enter_room(sid, post_room(post_id))
        SOCKET_EVENTS.labels("subscribe", "ok").inc()
        counts = {k: post[k] for k in ("like_count", "comment_count")}
        return {"ok": True, "post_id": str(post_id), **counts}

    async def _count_room(self, sid: str, room: str) -> bool:
        """Post rooms are counted in the session: sio.rooms(sid) scans every room of the server,
        which made connect storms quadratic (bench/fanout.py)."""
        async with self.session(sid) as session:
            mine: set[str] = session.setdefault("post_rooms", set())
            if room not in mine and len(mine) >= MAX_POST_ROOMS:
                return False
            mine.add(room)
        return True

    async def on_unsubscribe(self, sid: str, data: Any) -> dict[str, Any]:
        post_id = _uuid(data, "post_id")
        if post_id is None:
            return error("invalid", "send {post_id: <uuid>}")
        async with self.session(sid) as session:
            session.get("post_rooms", set()).discard(post_room(post_id))
        await self.leave_room(sid, post_room(post_id))
        return {"ok": True, "post_id": str(post_id)}

    async def on_sync(self, sid: str, data: Any) -> dict[str, Any]:
        after = data.get("after_seq") if isinstance(data, dict) else None
        if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after < 2**63:
            SOCKET_EVENTS.labels("sync", "invalid").inc()
            return error("invalid", "send {after_seq: <integer >= 0>}")
        user = await self._user(sid)
        page = await db_notifications.page_after(self.backends.pool, user, after, SYNC_LIMIT)
        SOCKET_EVENTS.labels("sync", "ok").inc()
        return {"ok": True, **page}

    async def on_avatar_session(self, sid: str, data: Any) -> dict[str, Any]:
        avatar_id = _uuid(data, "avatar_id")
        if avatar_id is None:
            return error("invalid", "send {avatar_id: <uuid>}")
        b = self.backends
        row = await db_avatars.get_own(b.pool, avatar_id, await self._user(sid))
        if row is None:
            SOCKET_EVENTS.labels("avatar:session", "refused").inc()
            return error("not_found", "no such avatar of yours")
        async with self.session(sid) as session:
            session.setdefault("avatars", {})[str(avatar_id)] = row["revision"]
        state = await db_avatars.avatar_json(row, b.store)
        current = await avatar_live.latest(b.redis, avatar_id)
        if current is not None and current[0] > row["revision"]:
            state.update(current[1], revision=current[0])
        SOCKET_EVENTS.labels("avatar:session", "ok").inc()
        return {"ok": True, "avatar_id": str(avatar_id), **state}

    async def on_avatar_set(self, sid: str, data: Any) -> dict[str, Any]:
        avatar_id = _uuid(data, "avatar_id")
        if avatar_id is None:
            return error("invalid", "send {avatar_id, measurements?, customization?}")
        session = await self.get_session(sid)
        floor = session.get("avatars", {}).get(str(avatar_id))
        if floor is None:
            return error("no_session", "open it with avatar:session first")
        measurements, custom = data.get("measurements") or {}, data.get("customization") or {}
        if not isinstance(measurements, dict) or not isinstance(custom, dict):
            return error("invalid", "measurements and customization are objects")
        owner = uuid.UUID(session["user_id"])
        base = await self._avatar_state(avatar_id, owner)
        if base is None:
            return error("not_found", "no such avatar of yours")
        b = self.backends
        try:
            done = await avatar_live.submit(
                b.redis, b.queue, avatar_id, owner, floor=floor, base=base,
                measurements=measurements, customization=custom,
            )  # fmt: skip
        except AvatarInputError as e:
            SOCKET_EVENTS.labels("avatar:set", "invalid").inc()
            return {**error("invalid", str(e)), "errors": e.as_problem_errors()}
        SOCKET_EVENTS.labels("avatar:set", "ok").inc()
        return {"ok": True, "avatar_id": str(avatar_id), "revision": done.revision}

    async def _avatar_state(self, avatar_id: uuid.UUID, owner: uuid.UUID) -> dict[str, Any] | None:
        """The state a slider move applies to: the live session's latest, else the stored row."""
        current = await avatar_live.latest(self.backends.redis, avatar_id)
        if current is not None:
            return current[1]
        row = await db_avatars.get_own(self.backends.pool, avatar_id, owner)
        if row is None:
            return None
        return {"measurements": row["measurements"], "customization": row["customization"]}
