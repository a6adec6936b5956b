"""What the routes share for moderation: the word filter on what others read, the admin check,
and what is told to the other processes once a post or comment changed state."""

from __future__ import annotations

import uuid

from aiohttp import web

from db import admin as db_admin
from db.reports import ContentChange
from drape import access, textfilter, timelines
from realtime.context import EMITTER
from server.auth import user_id
from server.context import ARQ, POOL, REDIS, SETTINGS
from server.errors import forbidden, invalid

REFUSED = "contains words that are not allowed"


def screen(request: web.Request, **fields: str | None) -> None:
    """422 naming the first of `fields` whose text the word filter refuses (drape/textfilter.py,
    the shipped list plus BLOCKED_WORDS_FILE)."""
    words = textfilter.for_settings(request.app[SETTINGS])
    for name, text in fields.items():
        if text and words.refuses(text):
            raise invalid(name, REFUSED)


def passing(request: web.Request, text: str) -> str:
    """`text` if the word filter lets it through, else "" (for names taken from elsewhere, such
    as a Google profile, where refusing would punish the user for what they did not type)."""
    return "" if text and textfilter.for_settings(request.app[SETTINGS]).refuses(text) else text


async def require_admin(request: web.Request) -> uuid.UUID:
    """The caller, if its account holds the admin role now (read on every request, so a revoked
    role stops working at once); else 403."""
    me = user_id(request)
    if not await db_admin.is_admin(request.app[POOL], me):
        raise forbidden("Only admins may do this.")
    return me


async def announce(request: web.Request, change: ContentChange | None) -> None:
    """After commit: sockets watching a post that is no longer shown leave it (every process
    checks its sockets again), a removed post leaves the timelines, and a post's watchers learn
    that a comment went."""
    if change is None:
        return
    app = request.app
    if change.target_type == "post":
        if not change.shown:
            await access.recheck(app[REDIS], app[SETTINGS], change.author_id)
        if change.removed:
            await timelines.forget_post(app[ARQ], change.post_id, change.author_id)
    elif not change.shown:
        await app[EMITTER].to_post(
            change.post_id,
            "post:comment_deleted",
            {
                "post_id": str(change.post_id),
                "comment_id": str(change.target_id),
                "comment_count": change.comment_count,
            },
        )
