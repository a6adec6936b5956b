"""Search: people, posts and hashtags, and a hashtag's page of posts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, Field, field_validator

from db import search as db_search
from db.common import encode_cursor
from drape import captions
from server.auth import user_id
from server.context import POOL, STORE
from server.errors import not_found
from server.openapi import endpoint
from server.params import cursor_values, json_response, next_cursor
from server.routes.posts import PageQuery, PostPage, posts_json


class SearchQuery(BaseModel):
    q: Annotated[str, Field(min_length=1, max_length=50)]
    limit: Annotated[int, Field(ge=1, le=50)] = 20
    cursor: Annotated[str, Field(max_length=200)] | None = None

    @field_validator("q")
    @classmethod
    def not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v.strip()


class PersonHit(BaseModel):
    id: str
    username: str
    display_name: str
    avatar_url: str | None
    is_verified: bool
    is_private: bool
    follower_count: int
    follow_status: Literal["active", "pending"] | None


class PeoplePage(BaseModel):
    items: list[PersonHit]
    next_cursor: str | None


class Hashtag(BaseModel):
    tag: str
    post_count: int


class HashtagPage(BaseModel):
    items: list[Hashtag]
    next_cursor: str | None


def _offset(query: SearchQuery) -> int:
    """Where a ranked page starts; 422 for a cursor this search did not hand out."""
    values = cursor_values(query.cursor, int)
    return values[0] if values else 0


def _next(offset: int, got: int, limit: int) -> str | None:
    end = offset + got
    return encode_cursor(end) if got == limit and end < db_search.MAX_RESULTS else None


def _window(query: SearchQuery) -> tuple[int, int]:
    offset = min(_offset(query), db_search.MAX_RESULTS)
    return offset, max(0, min(query.limit, db_search.MAX_RESULTS - offset))


@endpoint(
    "Find people by username or display name (prefix or close spelling), best match first",
    tags=["search"],
    query=SearchQuery,
    response=PeoplePage,
)
async def people(request: web.Request, query: SearchQuery) -> web.Response:
    offset, limit = _window(query)
    rows = await db_search.people(request.app[POOL], user_id(request), query.q, offset, limit)
    items = [
        {**{k: r[k] for k in PersonHit.model_fields if k != "id"}, "id": str(r["id"])} for r in rows
    ]
    return json_response({"items": items, "next_cursor": _next(offset, len(rows), query.limit)})


@endpoint(
    "Find posts by the words of their caption, best match first",
    tags=["search"],
    query=SearchQuery,
    response=PostPage,
)
async def posts(request: web.Request, query: SearchQuery) -> web.Response:
    offset, limit = _window(query)
    pool = request.app[POOL]
    rows = await db_search.posts(pool, user_id(request), query.q, offset, limit)
    items = await posts_json(pool, request.app[STORE], rows)
    return json_response({"items": items, "next_cursor": _next(offset, len(rows), query.limit)})


@endpoint(
    "Find hashtags by their start (with or without #), the most used first",
    tags=["search"],
    query=SearchQuery,
    response=HashtagPage,
)
async def hashtags(request: web.Request, query: SearchQuery) -> web.Response:
    tag = captions.normalize_tag(query.q)
    offset, limit = _window(query)
    rows = [] if tag is None else await db_search.hashtags(request.app[POOL], tag, offset, limit)
    items = [{"tag": r["tag"], "post_count": r["post_count"]} for r in rows]
    return json_response({"items": items, "next_cursor": _next(offset, len(rows), query.limit)})


def _path_tag(request: web.Request) -> str:
    tag = captions.normalize_tag(request.match_info["tag"])
    if tag is None:
        raise not_found("hashtag")
    return tag


@endpoint("A hashtag and how many posts carry it", tags=["search"], response=Hashtag)
async def hashtag(request: web.Request) -> web.Response:
    tag = _path_tag(request)
    count = await db_search.hashtag_count(request.app[POOL], tag)
    return json_response({"tag": tag, "post_count": count})


@endpoint(
    "A hashtag's posts that I may see, newest first",
    tags=["search"],
    query=PageQuery,
    response=PostPage,
)
async def hashtag_posts(request: web.Request, query: PageQuery) -> web.Response:
    pool, tag = request.app[POOL], _path_tag(request)
    before = cursor_values(query.cursor, datetime, uuid.UUID)
    rows = await db_search.hashtag_posts(pool, user_id(request), tag, before, query.limit)
    items = await posts_json(pool, request.app[STORE], rows)
    return json_response({"items": items, "next_cursor": next_cursor(rows, query.limit)})
