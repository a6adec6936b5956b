"""Blocks and mutes (../shared/CONTRACT.md "Safety"; the rule itself is db/blocks.py).

A block takes effect everywhere at once: the follows between the two go, their timelines lose
each other's posts, and every process takes their sockets out of each other's post rooms and
stops delivering each one's live actions to the other (drape/access.py `set_apart`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
from aiohttp import web
from pydantic import BaseModel

from db import blocks as db_blocks
from db import users as db_users
from drape import access, timelines
from server.auth import user_id
from server.context import ARQ, POOL, REDIS, SETTINGS
from server.errors import invalid, not_found
from server.openapi import endpoint
from server.params import cursor_values, json_response, next_cursor, path_username
from server.routes.follows import UserPage, summary
from server.routes.posts import PageQuery


class BlockState(BaseModel):
    username: str
    blocked: bool


class MuteState(BaseModel):
    username: str
    muted: bool


async def _other(request: web.Request, *, seen: bool) -> asyncpg.Record:
    """The account in the path. A block can be placed on an account that blocked me (it is
    absent to me, yet I may know its name); a mute only on one I can see."""
    pool, me, name = request.app[POOL], user_id(request), path_username(request)
    if seen:
        target = await db_users.get_seen_by_username(pool, name, me)
    else:
        target = await db_users.get_by_username(pool, name)
        target = target if target is not None and target["is_active"] else None
    if target is None:
        raise not_found("user")
    if target["id"] == me:
        raise invalid("username", "you cannot do this to yourself")
    return target


@endpoint(
    "Block a user: to each other you are as if absent, and follows both ways end",
    tags=["safety"],
    response=BlockState,
    errors=(404, 422),
)
async def block(request: web.Request) -> web.Response:
    app, me = request.app, user_id(request)
    target = await _other(request, seen=False)
    await db_blocks.block(app[POOL], me, target["id"])
    await timelines.on_block(app[REDIS], me, target["id"])
    await access.set_apart(app[REDIS], app[SETTINGS], me, target["id"], apart=True)
    return json_response({"username": target["username"], "blocked": True})


@endpoint("Lift my block of a user", tags=["safety"], response=BlockState, errors=(404, 422))
async def unblock(request: web.Request) -> web.Response:
    app, me = request.app, user_id(request)
    target = await _other(request, seen=False)
    if await db_blocks.unblock(app[POOL], me, target["id"]) and not await db_blocks.is_apart(
        app[POOL], me, target["id"]
    ):
        await access.set_apart(app[REDIS], app[SETTINGS], me, target["id"], apart=False)
    return json_response({"username": target["username"], "blocked": False})


@endpoint(
    "Mute a user: their posts leave my feed and explore, their actions stop notifying me",
    tags=["safety"],
    response=MuteState,
    errors=(404, 422),
)
async def mute(request: web.Request) -> web.Response:
    app, me = request.app, user_id(request)
    target = await _other(request, seen=True)
    if await db_blocks.mute(app[POOL], me, target["id"]):
        await timelines.on_mute(app[REDIS], me, target["id"])
    return json_response({"username": target["username"], "muted": True})


@endpoint("Unmute a user", tags=["safety"], response=MuteState, errors=(404, 422))
async def unmute(request: web.Request) -> web.Response:
    app, me = request.app, user_id(request)
    target = await _other(request, seen=False)
    if await db_blocks.unmute(app[POOL], me, target["id"]):
        await timelines.on_unhide(app[ARQ], me, target["id"])
    return json_response({"username": target["username"], "muted": False})


async def _page(request: web.Request, query: PageQuery, fetch: db_blocks.PageFetch) -> web.Response:
    before = cursor_values(query.cursor, datetime, uuid.UUID)
    rows = await fetch(request.app[POOL], user_id(request), before, query.limit)
    return json_response(
        {"items": [summary(r) for r in rows], "next_cursor": next_cursor(rows, query.limit)}
    )


@endpoint("Accounts I blocked", tags=["safety"], query=PageQuery, response=UserPage)
async def list_blocks(request: web.Request, query: PageQuery) -> web.Response:
    return await _page(request, query, db_blocks.blocked_page)


@endpoint("Accounts I muted", tags=["safety"], query=PageQuery, response=UserPage)
async def list_mutes(request: web.Request, query: PageQuery) -> web.Response:
    return await _page(request, query, db_blocks.muted_page)
