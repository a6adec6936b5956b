"""Ending sessions: the refresh tokens in Postgres and the access tokens and sockets everywhere
(drape/access.py), always both."""

from __future__ import annotations

import uuid

from aiohttp import web

from db import tokens as db_tokens
from drape import access
from realtime.context import REVOKED
from server.context import POOL, REDIS, SETTINGS


async def end_session(
    app: web.Application, user_id: uuid.UUID, session_id: uuid.UUID, reason: str
) -> bool:
    """End one session of `user_id`; False if it is not one of theirs (nothing is ended)."""
    revoked = await db_tokens.revoke_family(app[POOL], session_id, user_id)
    if not revoked and not await db_tokens.owns_family(app[POOL], session_id, user_id):
        return False
    await access.revoke(
        app[REDIS], app[SETTINGS], sessions=[session_id], reason=reason, mirror=app[REVOKED]
    )
    return True


async def end_other_sessions(
    app: web.Application, user_id: uuid.UUID, keep: uuid.UUID | None, reason: str
) -> None:
    """End every session of the account but `keep` (every one when None)."""
    ended = await db_tokens.revoke_other_families(app[POOL], user_id, keep)
    await access.revoke(
        app[REDIS], app[SETTINGS], sessions=ended, reason=reason, mirror=app[REVOKED]
    )
