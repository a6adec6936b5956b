"""GET /v1/notifications?after_seq=N: the same rows the Socket.IO `sync` ack returns."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, Field

from db import notifications as db_notifications
from realtime.schemas import Notification
from server.auth import user_id
from server.context import POOL
from server.openapi import endpoint
from server.params import json_response


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
