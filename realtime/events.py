"""The default Socket.IO namespace: connect auth, then one method per client event.

Every handler checks authorization itself: the socket's user comes from its verified token, a
post room is joined only if that user may see the post, an avatar session only for one's own
avatar. Each reads like a route handler: validate, call `db/` or `drape/`, answer.

Authorization follows the truth while a socket stays open: a socket lives only as long as its
access token (`auth:refresh` extends it with a fresh one) and its session; sessions ended
anywhere and access lost to an author's posts reach every process over the control channel
(drape/access.py), and the sockets concerned are told (`session:ended`, `post:unsubscribed`)
and disconnected or taken out of the rooms.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson
import socketio
from redis.asyncio import Redis

from db import avatars as db_avatars
from db import fit as db_fit
from db import notification_settings as db_notification_settings
from db import notifications as db_notifications
from db import posts as db_posts
from drape import access, avatar_live, fit
from drape.avatar_inputs import AvatarInputError
from drape.queue import wake
from drape.settings import Settings
from drape.tokens import AccessClaims, InvalidToken, verify_access_token
from realtime.accounts import ActiveAccounts
from realtime.batch import Batch
from realtime.context import Backends
from realtime.metrics import SOCKET_EVENTS, SOCKETS_CONNECTED
from realtime.presence import Presence, online, presence_room
from realtime.ratelimit import EventHandler, EventLimiter, error, guarded
from realtime.rooms import post_room, user_room
from realtime.routed import RoutedManager
from realtime.viewers import Viewers

log = logging.getLogger(__name__)

MAX_POST_ROOMS = 200
MAX_WATCHED = 500  # users one socket watches the presence of
SYNC_LIMIT = 500
SWEEP_EVERY = 0.5  # seconds between checks of token expiry
RECHECK_REVOKED_EVERY = 30  # sweeps between checks of every socket's session in Redis


@dataclass(slots=True)
class Conn:
    """What this process knows of one of its sockets."""

    user_id: uuid.UUID
    session_id: uuid.UUID | None
    expires_at: float
    posts: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)  # post room -> its author
    # Accounts apart from this one by a block, either way: their actions in any room this
    # socket is in are not delivered to it (realtime/fanout.py).
    apart: set[str] = field(default_factory=set)
    watching: set[uuid.UUID] = field(default_factory=set)  # users whose presence it watches


def _uuid(data: Any, key: str) -> uuid.UUID | None:
    if not isinstance(data, dict) or not isinstance(data.get(key), str):
        return None
    try:
        return uuid.UUID(data[key])
    except ValueError:
        return None


def _uuid_list(data: Any, key: str, most: int = MAX_WATCHED) -> list[uuid.UUID] | None:
    values = data.get(key) if isinstance(data, dict) else None
    if not isinstance(values, list) or len(values) > most:
        return None
    try:
        return list(dict.fromkeys(uuid.UUID(v) for v in values))
    except (TypeError, ValueError, AttributeError):
        return None


class Events(socketio.AsyncNamespace):
    """Client events are named in CLIENT_EVENTS; `avatar:set` is handled by `on_avatar_set`.
    Each runs inside `guarded` (rate limit, one `data` argument, an error ack on failure); an
    event with no handler is answered `unknown_event` and still counts against the limit."""

    CLIENT_EVENTS = (
        "subscribe", "unsubscribe", "sync", "avatar:session", "avatar:set", "auth:refresh",
        "avatar:fit",
        "presence:watch", "presence:unwatch",
    )  # fmt: skip

    def __init__(
        self, settings: Settings, mirror: access.Mirror, limiter: EventLimiter | None = None
    ) -> None:
        super().__init__("/")
        self.settings = settings
        self.mirror = mirror
        self.limiter = limiter or EventLimiter()
        self._backends: Backends | None = None
        self.conns: dict[str, Conn] = {}
        # (expiry, sid) of every token a socket was opened or refreshed with, soonest first: the
        # sweep looks at the due ones only, not at every socket twice a second.
        self._expiries: list[tuple[float, str]] = []
        self.presence = Presence(settings)
        self.viewers = Viewers(self._send_viewers, settings.viewers_ttl)
        # Connects check the mirror while the control channel keeps it current (Redis before).
        self.mirror_live = False
        self.accounts = ActiveAccounts(lambda: self.backends.pool)
        # A reconnect storm's subscribes, checked many per query (realtime/batch.py).
        self._visible: Batch[tuple[uuid.UUID, uuid.UUID], asyncpg.Record | None] = Batch(
            lambda pairs: db_posts.subscribable(self.backends.pool, pairs)
        )
        self._handlers: dict[str, EventHandler] = {
            name: getattr(self, "on_" + name.replace(":", "_")) for name in self.CLIENT_EVENTS
        }

    @classmethod
    def handled(cls) -> tuple[str, ...]:
        """Every event this namespace answers; "*" stands for any other name."""
        return ("connect", "disconnect", *cls.CLIENT_EVENTS, "*")

    def bind(self, backends: Backends) -> None:
        self._backends = backends
        self.presence.bind(backends.redis, backends.pool, self.emit_each)
        self.viewers.bind(backends.redis)

    async def emit_each(self, items: list[tuple[str, Any, str]]) -> None:
        """Emit each (event, data, room) of this namespace, in one round trip to the bus where
        the manager can (realtime/routed.py), else one by one."""
        manager = self.server.manager
        if isinstance(manager, RoutedManager):
            await manager.emit_each(self.namespace, items)
            return
        for event, data, room in items:
            await self.emit(event, data, room=room)

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
        conn = self.conns.get(sid)
        if conn is not None and conn.expires_at < time.time():
            await self.end(sid, "token_expired")
            return error("token_expired", "the access token expired; reconnect with a fresh one")
        handler = self._handlers.get(event)
        label = event if handler is not None else "unknown"
        return await guarded(self.server, self.limiter, label, handler or self._unknown, sid, rest)

    async def _claims(self, token: Any) -> tuple[AccessClaims | None, set[str], str]:
        """The token's claims if it may open or extend a socket now, with the accounts its user
        is apart from; else (None, _, why)."""
        if not isinstance(token, str):
            return None, set(), "no token"
        try:
            claims = verify_access_token(self.settings, token)
        except InvalidToken:
            return None, set(), "invalid token"
        if self.mirror_live:
            ended = self.mirror.reason(claims)
        else:
            ended = await access.revoked(self.backends.redis, claims)
        if ended is not None:
            return None, set(), "session ended"
        apart = await self.accounts.lookup(claims.user_id)
        return (claims, set(apart), "") if apart is not None else (None, set(), "no such account")

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        claims, apart, why = await self._claims(token)
        if claims is None:
            raise socketio.exceptions.ConnectionRefusedError(f"unauthorized: {why}")
        self.conns[sid] = Conn(claims.user_id, claims.session_id, claims.expires_at, apart=apart)
        heapq.heappush(self._expiries, (claims.expires_at, sid))
        await self.enter_room(sid, user_room(claims.user_id))
        SOCKETS_CONNECTED.inc()
        await self._safely(self.presence.connected, claims.user_id)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self.limiter.forget(sid)
        if (conn := self.conns.pop(sid, None)) is not None:
            SOCKETS_CONNECTED.dec()
            await self._safely(self.presence.disconnected, conn.user_id)
            for post_id in conn.posts:
                await self.viewers.leave(post_id, conn.user_id)

    async def on_auth_refresh(self, sid: str, data: Any) -> dict[str, Any]:
        """A fresh access token of the same account keeps the socket open past the old one's
        expiry (send it a minute or so before)."""
        if not isinstance(data, dict) or not isinstance(data.get("token"), str):
            return error("invalid", "send {token: <a fresh access token>}")
        claims, _, why = await self._claims(data["token"])
        conn = self.conns[sid]
        if claims is None or claims.user_id != conn.user_id:
            return error("unauthorized", why or "a token of another account")
        conn.session_id, conn.expires_at = claims.session_id, claims.expires_at
        heapq.heappush(self._expiries, (claims.expires_at, sid))
        return {"ok": True, "expires_at": claims.expires_at}

    async def end(self, sid: str, reason: str) -> None:
        """Tell the socket why, then disconnect it (the client does not reconnect by itself)."""
        await self.emit("session:ended", {"reason": reason}, to=sid)
        await self.disconnect(sid)

    async def _unknown(self, sid: str, data: Any) -> dict[str, Any]:
        SOCKET_EVENTS.labels("unknown", "ignored").inc()
        return error("unknown_event", "no such event")

    async def _user(self, sid: str) -> uuid.UUID:
        return self.conns[sid].user_id

    async def on_subscribe(self, sid: str, data: Any) -> dict[str, Any]:
        post_id = _uuid(data, "post_id")
        if post_id is None:
            SOCKET_EVENTS.labels("subscribe", "invalid").inc()
            return error("invalid", "send {post_id: <uuid>}")
        post = await self._visible((await self._user(sid), post_id))
        if post is None:
            SOCKET_EVENTS.labels("subscribe", "refused").inc()
            return error("not_found", "no such post, or you may not see it")
        posts = self.conns[sid].posts
        if post_id not in posts and len(posts) >= MAX_POST_ROOMS:
            return error("too_many", f"at most {MAX_POST_ROOMS} posts at once; unsubscribe first")
        # Counted here: sio.rooms(sid) scans every room of the server, which made connect
        # storms quadratic (bench/fanout.py).
        new = post_id not in posts
        posts[post_id] = post["author_id"]
        await self.enter_room(sid, post_room(post_id))
        if new:
            await self.viewers.join(post_id, self.conns[sid].user_id)
        SOCKET_EVENTS.labels("subscribe", "ok").inc()
        counts = {k: post[k] for k in ("like_count", "comment_count")}
        return {"ok": True, "post_id": str(post_id), **counts}

    async def on_unsubscribe(self, sid: str, data: Any) -> dict[str, Any]:
        post_id = _uuid(data, "post_id")
        if post_id is None:
            return error("invalid", "send {post_id: <uuid>}")
        conn = self.conns[sid]
        if conn.posts.pop(post_id, None) is not None:
            await self.viewers.leave(post_id, conn.user_id)
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
        owner = self.conns[sid].user_id
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

    async def on_avatar_fit(self, sid: str, data: Any) -> dict[str, Any]:
        """How a size of a garment fits the live body: the ack names the request, and a worker
        sends `avatar:fitmap` (the size, per-dimension labels and per-vertex ease)."""
        avatar_id = _uuid(data, "avatar_id")
        chart_id, garment_id = _uuid(data, "chart_id"), _uuid(data, "garment_id")
        size = data.get("size") if isinstance(data, dict) else None
        if avatar_id is None or (chart_id is None) == (garment_id is None):
            return error("invalid", "send {avatar_id, chart_id or garment_id, size?}")
        if size is not None and not isinstance(size, str):
            return error("invalid", "size is a label of the chart")
        if str(avatar_id) not in (await self.get_session(sid)).get("avatars", {}):
            return error("no_session", "open it with avatar:session first")
        me, b = self.conns[sid].user_id, self.backends
        row = await db_fit.chart_for(b.pool, me, chart_id, garment_id)
        if row is None:
            SOCKET_EVENTS.labels("avatar:fit", "refused").inc()
            return error("not_found", "no such size chart, or not yours to read")
        offset = await db_fit.user_offset(b.pool, me, db_fit.brand_key(row)) + row["bias"]
        request_id = uuid.uuid4().hex
        request = {"user_id": str(me), "request_id": request_id, "chart_id": str(row["id"]),
                   "chart": row["chart"], "offset": offset, "size": size}  # fmt: skip
        await b.queue.enqueue_job("avatar_fit_live", str(avatar_id), request,
                                  _job_id=f"avatar-fit:{request_id}")  # fmt: skip
        await wake(b.queue)
        SOCKET_EVENTS.labels("avatar:fit", "ok").inc()
        sizes = list(fit.parse_chart(row["chart"]).labels)
        return {"ok": True, "avatar_id": str(avatar_id), "request_id": request_id,
                "chart_id": str(row["id"]), "sizes": sizes}  # fmt: skip

    async def _avatar_state(self, avatar_id: uuid.UUID, owner: uuid.UUID) -> dict[str, Any] | None:
        """The state a slider move applies to: the live session's latest, else the stored row."""
        current = await avatar_live.latest(self.backends.redis, avatar_id)
        if current is not None:
            return current[1]
        row = await db_avatars.get_own(self.backends.pool, avatar_id, owner)
        if row is None:
            return None
        return {"measurements": row["measurements"], "customization": row["customization"]}

    async def on_presence_watch(self, sid: str, data: Any) -> dict[str, Any]:
        """Ack the watched users' statuses, then send `presence` as they change; only for
        users the watcher may see (a private account needs an accepted follow)."""
        ids = _uuid_list(data, "user_ids")
        conn = self.conns[sid]
        if ids is None or len(conn.watching | set(ids)) > MAX_WATCHED:
            return error("invalid", f"send {{user_ids: [<uuid>, ...]}}, {MAX_WATCHED} at most")
        b = self.backends
        hidden = await db_notification_settings.watchable(b.pool, conn.user_id, ids)
        shown = [u for u in ids if u in hidden and not hidden[u]]
        flags = dict(zip(shown, await self.presence_of(shown), strict=True))
        for user_id in hidden:
            conn.watching.add(user_id)
            await self.enter_room(sid, presence_room(user_id))
        statuses = {str(u): "online" if flags.get(u) else "offline" for u in hidden}
        refused = [str(u) for u in ids if u not in hidden]
        return {"ok": True, "statuses": statuses, "refused": refused}

    async def presence_of(self, user_ids: list[uuid.UUID]) -> list[bool]:
        return await online(self.backends.redis, self.settings, user_ids)

    async def on_presence_unwatch(self, sid: str, data: Any) -> dict[str, Any]:
        ids = _uuid_list(data, "user_ids")
        if ids is None:
            return error("invalid", "send {user_ids: [<uuid>, ...]}")
        for user_id in ids:
            self.conns[sid].watching.discard(user_id)
            await self.leave_room(sid, presence_room(user_id))
        return {"ok": True}

    async def _send_viewers(self, post_id: uuid.UUID, count: int) -> None:
        payload = {"post_id": str(post_id), "count": count}
        await self.emit("post:viewers", payload, room=post_room(post_id))

    # Control messages from every process (drape/access.py) ------------------------------------

    async def control(self, message: dict[str, Any]) -> None:
        if message.get("op") == "end":
            ended = access.Ended(
                tuple(message["sessions"]), tuple(message["users"]), str(message["reason"])
            )
            self.mirror.note(ended, self.settings.access_token_ttl + access.MARGIN)
            sessions, users = set(ended.sessions), set(ended.users)
            for sid, conn in list(self.conns.items()):
                if str(conn.session_id) in sessions or str(conn.user_id) in users:
                    await self.end(sid, str(message.get("reason") or "signed_out"))
        elif message.get("op") == "restore":
            self.mirror.forget_user(message["user"])
            self.accounts.forget(message["user"])
        elif message.get("op") == "apart":
            await self.set_apart(*message["users"], apart=bool(message["apart"]))
        elif message.get("op") == "recheck":
            viewers = message.get("viewers")
            await self.recheck(
                uuid.UUID(message["author"]), None if viewers is None else set(viewers)
            )
            await self.recheck_presence(uuid.UUID(message["author"]))

    async def recheck(self, author: uuid.UUID, viewers: set[str] | None) -> None:
        """Take sockets out of `author`'s post rooms where their user may no longer see."""
        for sid, conn in list(self.conns.items()):
            watched = [p for p, a in conn.posts.items() if a == author]
            if not watched or (viewers is not None and str(conn.user_id) not in viewers):
                continue
            rows = await db_posts.visible_posts(self.backends.pool, conn.user_id, watched)
            visible = {r["id"] for r in rows}
            for post_id in watched:
                if post_id not in visible and sid in self.conns:
                    conn.posts.pop(post_id, None)
                    await self.leave_room(sid, post_room(post_id))
                    await self.viewers.leave(post_id, conn.user_id)
                    payload = {"post_id": str(post_id), "reason": "access_lost"}
                    await self.emit("post:unsubscribed", payload, to=sid)

    def excludes(self, sid: str, actor: str) -> bool:
        """An event about `actor`'s action is not for this socket (a block between them)."""
        conn = self.conns.get(sid)
        return conn is not None and actor in conn.apart

    async def set_apart(self, a: str, b: str, *, apart: bool) -> None:
        """A block between `a` and `b` began or ended: update the live-event filter of their
        sockets here; on a block, each leaves the rooms of the other's posts."""
        self.accounts.forget(a)
        self.accounts.forget(b)
        for conn in self.conns.values():
            mine = str(conn.user_id)
            if mine in (a, b):
                other = b if mine == a else a
                if apart:
                    conn.apart.add(other)
                else:
                    conn.apart.discard(other)
        if apart:
            for one, other in ((a, b), (b, a)):
                await self.recheck(uuid.UUID(one), {other})
                await self.recheck_presence(uuid.UUID(one))

    async def recheck_presence(self, user_id: uuid.UUID) -> None:
        """Stop sending `user_id`'s presence to sockets whose user may no longer see them."""
        for sid, conn in list(self.conns.items()):
            if user_id not in conn.watching:
                continue
            pool = self.backends.pool
            if not await db_notification_settings.watchable(pool, conn.user_id, [user_id]):
                conn.watching.discard(user_id)
                await self.leave_room(sid, presence_room(user_id))

    async def listen(self, redis_url: str) -> None:
        """Follow the control channel until cancelled, reconnecting after a lost connection
        (the sweep's periodic check of sessions covers what a gap may have dropped)."""
        channel = access.control_channel(self.settings)
        while True:
            client = Redis.from_url(redis_url)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(channel)
                    await self.mirror.resync(client)  # what a gap may have missed
                    self.mirror_live = True
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            await self._safely(self.control, orjson.loads(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("control channel lost; reconnecting", exc_info=True)
                await asyncio.sleep(0.5)
            finally:
                self.mirror_live = False
                await client.aclose()

    async def sweep(self) -> None:
        """End sockets whose token expired; now and then check every session in Redis."""
        ticks = 0
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            ticks += 1
            now = time.time()
            while self._expiries and self._expiries[0][0] < now:
                _, sid = heapq.heappop(self._expiries)
                conn = self.conns.get(sid)
                # Gone, or refreshed since (its new expiry is further down the heap): skip.
                if conn is not None and conn.expires_at < now:
                    await self._safely(self.end, sid, "token_expired")
            if ticks % RECHECK_REVOKED_EVERY == 0 and self._backends is not None:
                await self._safely(self._end_revoked)

    async def _end_revoked(self) -> None:
        conns = list(self.conns.items())
        claims = [AccessClaims(c.user_id, c.session_id, int(c.expires_at)) for _, c in conns]
        reasons = await access.revoked_many(self.backends.redis, claims)
        for (sid, _), reason in zip(conns, reasons, strict=True):
            if reason is not None:
                await self.end(sid, reason)

    @staticmethod
    async def _safely(fn: Any, *args: Any) -> None:
        try:
            await fn(*args)
        except Exception:
            log.exception("socket control step failed")
