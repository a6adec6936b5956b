"""The ceiling of bench/http.py: a minimal aiohttp + asyncpg server on uvloop that runs the same
SQL as the real server's home feed and like, with the bearer token decoded by PyJWT and nothing
else (no user lookup, middleware, validation models, metrics, logs or Socket.IO emits).

    python -m bench.minimal_server      # configured by the environment `python -m server` reads

GET /v1/feed?limit=N      db.posts.SELECT_FEED for the first page (no cursor), with the same
                          parameters and the same JSON as GET /v1/feed of the real server
PUT /v1/posts/{id}/like   db.posts.LIKE, the one statement db.posts.like runs (its own
                          transaction), answered as the real server answers
GET /readyz               200 once the pool is open

The pool has the real server's size (DB_POOL_MIN / DB_POOL_MAX) and, like db/pool.py, sends no
reset query when a connection goes back to it. Posts with an outfit or an image are refused
(500): the real server would run one more query for them, and the bench data has none.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import jwt
import orjson
import uvloop
from aiohttp import web

from db.common import KEYSET_TOP, encode_cursor, iso
from db.notifications import REPEAT_WINDOW
from db.posts import LIKE, SELECT_FEED
from drape.settings import Settings, tune_collector

SETTINGS = web.AppKey("settings", Settings)
POOL = web.AppKey("pool", asyncpg.Pool)


def viewer(request: web.Request) -> uuid.UUID:
    settings = request.app[SETTINGS]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        raise web.HTTPUnauthorized()
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=["HS256"],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
        )
        return uuid.UUID(claims["sub"])
    except (jwt.PyJWTError, KeyError, ValueError):
        raise web.HTTPUnauthorized() from None


def json_response(data: Any) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type="application/json")


async def feed(request: web.Request) -> web.Response:
    me = viewer(request)
    if "cursor" in request.query:
        raise web.HTTPBadRequest(text="first page only")
    limit = int(request.query.get("limit", "20"))
    rows = await request.app[POOL].fetch(SELECT_FEED, me, *KEYSET_TOP, limit)
    items = []
    for r in rows:
        if r["outfit_id"] is not None or r["image_key"] is not None:
            raise web.HTTPInternalServerError(text="posts with outfits or images not handled")
        items.append(
            {
                "id": str(r["id"]),
                "author": {
                    "id": str(r["author_id"]),
                    "username": r["author_username"],
                    "display_name": r["author_display_name"],
                    "avatar_url": r["author_avatar_url"],
                },
                "caption": r["caption"],
                "outfit": None,
                "image_url": None,
                "like_count": r["like_count"],
                "comment_count": r["comment_count"],
                "liked_by_me": r["liked_by_me"],
                "created_at": iso(r["created_at"]),
            }
        )
    cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if len(rows) >= limit else None
    return json_response({"items": items, "next_cursor": cursor})


async def like(request: web.Request) -> web.Response:
    me = viewer(request)
    try:
        post_id = uuid.UUID(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    row = await request.app[POOL].fetchrow(LIKE, me, post_id, REPEAT_WINDOW)
    if row is None:
        raise web.HTTPNotFound()
    return json_response({"post_id": str(post_id), "liked": True, "like_count": row["like_count"]})


async def readyz(request: web.Request) -> web.Response:
    return json_response({"ready": True})


async def _no_reset(conn: asyncpg.Connection) -> None:
    """No reset query on release (as db/pool.py): nothing here sets session state."""


async def _postgres(app: web.Application) -> AsyncIterator[None]:
    s = app[SETTINGS]
    pool = await asyncpg.create_pool(
        s.database_url, min_size=s.db_pool_min, max_size=s.db_pool_max, reset=_no_reset
    )
    assert pool is not None
    app[POOL] = pool
    yield
    await pool.close()


async def _tune_collector(app: web.Application) -> None:
    """As the real server does at start-up (Settings.gc_freeze)."""
    tune_collector(app[SETTINGS])


def create_app(settings: Settings) -> web.Application:
    app = web.Application()
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_postgres)
    app.on_startup.append(_tune_collector)
    app.router.add_get("/v1/feed", feed)
    app.router.add_put("/v1/posts/{id}/like", like)
    app.router.add_get("/readyz", readyz)
    return app


def main() -> None:
    settings = Settings.from_env()
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
