"""The unread count and the forward-only read marker, synced to every socket of the user."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, Field

from db import notifications as db_notifications
from realtime.context import EMITTER
from server.auth import user_id
from server.context import POOL
from server.openapi import endpoint
from server.params import json_response
from server.routes.users import Input


class ReadState(BaseModel):
    up_to_seq: int = Field(description="Every notification up to this seq is read")
    unread_count: int
    last_seq: int


class MarkRead(Input):
    up_to_seq: Annotated[int, Field(ge=0, lt=2**63)]


@endpoint("How many of my notifications are unread", tags=["notifications"], response=ReadState)
async def unread_count(request: web.Request) -> web.Response:
    last, read = await db_notifications.read_state(request.app[POOL], user_id(request))
    return json_response({"up_to_seq": read, "unread_count": last - read, "last_seq": last})


@endpoint(
    "Mark my notifications read up to a seq (the marker never moves back); my other sockets "
    "get `notification:read`",
    tags=["notifications"],
    body=MarkRead,
    response=ReadState,
)
async def mark_read(request: web.Request, body: MarkRead) -> web.Response:
    me = user_id(request)
    row = await db_notifications.mark_read(request.app[POOL], me, body.up_to_seq)
    read, last = int(row["read_seq"]), int(row["last_seq"])
    state = {"up_to_seq": read, "unread_count": last - read}
    if read > row["before"]:
        await request.app[EMITTER].to_user(me, "notification:read", state)
    return json_response({**state, "last_seq": last})
