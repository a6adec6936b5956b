"""GET /v1/notifications?after_seq=N: the same rows the Socket.IO `sync` ack returns; and
GET /v1/notifications/grouped: the same notifications as groups, newest first."""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from db import notification_groups as db_groups
from db import notifications as db_notifications
from db.common import encode_cursor
from realtime.schemas import Notification
from server.auth import user_id
from server.context import POOL
from server.openapi import endpoint
from server.params import cursor_values, json_response


class NotificationsQuery(BaseModel):
    after_seq: Annotated[int, Field(ge=0)] = 0
    limit: Annotated[int, Field(ge=1, le=500)] = 100


class NotificationPage(BaseModel):
    items: list[Notification]
    next_cursor: str | None
    last_seq: int


@endpoint(
    "My notifications after a seq, oldest first",
    tags=["social"],
    query=NotificationsQuery,
    response=NotificationPage,
)
async def list_notifications(request: web.Request, query: NotificationsQuery) -> web.Response:
    page = await db_notifications.page_after(
        request.app[POOL], user_id(request), query.after_seq, query.limit
    )
    return json_response(page)


class GroupedQuery(BaseModel):
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, Field(max_length=200)] | None = None


class GroupActor(BaseModel):
    id: str
    username: str
    display_name: str
    avatar_url: str | None


class NotificationGroup(BaseModel):
    group_key: str = Field(description="the `group_key` of the live `notification` events")
    type: Literal["like", "comment", "follow", "follow_request", "follow_accepted"]
    post_id: str | None = None
    count: int = Field(description="distinct accounts in the group")
    actors: list[GroupActor] = Field(description="up to 8, newest first")
    latest_seq: int
    latest_at: str
    read: bool


class NotificationGroupPage(BaseModel):
    items: list[NotificationGroup]
    next_cursor: str | None


@endpoint(
    "My notifications as groups (a type and post within a day), newest first",
    tags=["social"],
    query=GroupedQuery,
    response=NotificationGroupPage,
    errors=(422,),
)
async def grouped_notifications(request: web.Request, query: GroupedQuery) -> web.Response:
    after, pool, me = cursor_values(query.cursor, int), request.app[POOL], user_id(request)
    _, read_up_to = await db_notifications.read_state(pool, me)
    page = await db_groups.groups(
        pool,
        me,
        before_seq=None if after is None else after[0],
        limit=query.limit,
        read_up_to=read_up_to,
    )
    more = page.pop("next_seq")
    return json_response({**page, "next_cursor": None if more is None else encode_cursor(more)})
