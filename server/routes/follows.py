"""Follows, follow requests of private accounts, followers and following lists."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel

from db import follows as db_follows
from db import users as db_users
from db.common import iso
from drape import access, timelines
from realtime.context import EMITTER
from server import ratelimit
from server.auth import user_id
from server.context import ARQ, POOL, REDIS, SETTINGS
from server.errors import forbidden, invalid, not_found
from server.openapi import endpoint
from server.params import cursor_values, json_response, next_cursor, path_username, path_uuid
from server.routes.posts import PageQuery, _me


class FollowState(BaseModel):
    username: str
    status: Literal["active", "pending"] | None


class UserSummary(BaseModel):
    id: str
    username: str
    display_name: str
    avatar_url: str | None
    is_verified: bool


class UserPage(BaseModel):
    items: list[UserSummary]
    next_cursor: str | None


class FollowRequest(BaseModel):
    id: str
    user: UserSummary
    created_at: str


class FollowRequestPage(BaseModel):
    items: list[FollowRequest]
    next_cursor: str | None


async def _target(request: web.Request) -> asyncpg.Record:
    """The account named in the path as the caller may see it (closed, suspended and blocked
    accounts are alike: not found)."""
    pool, name = request.app[POOL], path_username(request)
    target = await db_users.get_seen_by_username(pool, name, user_id(request))
    if target is None:
        raise not_found("user")
    return target


@endpoint(
    "Follow a user; on a private account this sends a follow request",
    tags=["social"],
    response=FollowState,
    errors=(404, 422),
    limit=ratelimit.Action.FOLLOW,
)
async def follow(request: web.Request) -> web.Response:
    me, target = await _me(request), await _target(request)
    if me["id"] == target["id"]:
        raise invalid("username", "you cannot follow yourself")
    result = await db_follows.follow(request.app[POOL], me, target)
    if result is None:  # blocked meanwhile
        raise not_found("user")
    if result.changed and result.status == "active":
        await timelines.merge_author(request.app[ARQ], target["id"], [me["id"]])
    await request.app[EMITTER].notification(target["id"], result.notification)
    return json_response({"username": target["username"], "status": result.status})


@endpoint(
    "Unfollow a user, or withdraw a follow request",
    tags=["social"],
    response=FollowState,
    errors=(404,),
)
async def unfollow(request: web.Request) -> web.Response:
    target, me = await _target(request), user_id(request)
    await db_follows.unfollow(request.app[POOL], me, target["id"])
    await timelines.drop_author(request.app[REDIS], me, target["id"])
    if target["is_private"]:  # what I watched of theirs may be out of reach now
        app = request.app
        await access.recheck(app[REDIS], app[SETTINGS], target["id"], viewers=[me])
    return json_response({"username": target["username"], "status": None})


def summary(r: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": str(r["id"]),
        "username": r["username"],
        "display_name": r["display_name"],
        "avatar_url": r["avatar_url"],
        "is_verified": r["is_verified"],
    }


async def _people(request: web.Request, query: PageQuery, which: str) -> web.Response:
    pool = request.app[POOL]
    target = await _target(request)
    if not await db_users.can_see_content(pool, user_id(request), target):
        raise forbidden(
            "This account is private; follow it to see who it follows and who follows it."
        )
    before = cursor_values(query.cursor, datetime, uuid.UUID)
    fetch = db_follows.followers if which == "followers" else db_follows.following
    rows = await fetch(pool, target["id"], before, query.limit, user_id(request))
    return json_response(
        {"items": [summary(r) for r in rows], "next_cursor": next_cursor(rows, query.limit)}
    )


@endpoint(
    "Who follows a user", tags=["social"], query=PageQuery, response=UserPage, errors=(403, 404)
)
async def followers(request: web.Request, query: PageQuery) -> web.Response:
    return await _people(request, query, "followers")


@endpoint(
    "Whom a user follows", tags=["social"], query=PageQuery, response=UserPage, errors=(403, 404)
)
async def following(request: web.Request, query: PageQuery) -> web.Response:
    return await _people(request, query, "following")


@endpoint(
    "Follow requests waiting for my answer",
    tags=["social"],
    query=PageQuery,
    response=FollowRequestPage,
)
async def list_requests(request: web.Request, query: PageQuery) -> web.Response:
    before = cursor_values(query.cursor, datetime, uuid.UUID)
    rows = await db_follows.pending_requests(
        request.app[POOL], user_id(request), before, query.limit
    )
    items = [
        {
            "id": str(r["id"]),
            "created_at": iso(r["created_at"]),
            "user": {
                "id": str(r["user_id"]),
                "username": r["username"],
                "display_name": r["display_name"],
                "avatar_url": r["avatar_url"],
                "is_verified": False,
            },
        }
        for r in rows
    ]
    return json_response({"items": items, "next_cursor": next_cursor(rows, query.limit)})


@endpoint("Accept a follow request", tags=["social"], status=204, errors=(404,))
async def accept_request(request: web.Request) -> web.Response:
    me = await _me(request)
    result = await db_follows.accept_request(
        request.app[POOL], path_uuid(request, "id", "follow request"), me
    )
    if result is None:
        raise not_found("follow request")
    follower, note = result
    await timelines.merge_author(request.app[ARQ], me["id"], [follower])
    await request.app[EMITTER].notification(follower, note)
    return web.Response(status=204)


@endpoint("Reject a follow request", tags=["social"], status=204, errors=(404,))
async def reject_request(request: web.Request) -> web.Response:
    if not await db_follows.reject_request(
        request.app[POOL], path_uuid(request, "id", "follow request"), user_id(request)
    ):
        raise not_found("follow request")
    return web.Response(status=204)
