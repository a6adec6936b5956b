"""Links mailed to an address: verify it, or confirm a change of the account's email to it.
The address is the account's verified email only once a link mailed to it comes back."""

from __future__ import annotations

import asyncpg
from aiohttp import web

from db import email_tokens
from drape import mail
from server.context import ARQ, POOL, SETTINGS

VERIFY_TTL = 48 * 3600
CHANGE_TTL = 24 * 3600


async def send_verification(request: web.Request, user: asyncpg.Record) -> None:
    settings = request.app[SETTINGS]
    token = await email_tokens.issue(
        request.app[POOL], user["id"], "verify", user["email"], ttl=VERIFY_TTL
    )
    message = mail.render(
        "verify_email",
        user["locale"],
        to=user["email"],
        name=user["display_name"] or user["username"],
        link=mail.link(settings, mail.VERIFY_EMAIL_PATH, token=token),
    )
    await mail.queue_mail(request.app[ARQ], message)


async def start_change(request: web.Request, user: asyncpg.Record, email: str) -> asyncpg.Record:
    """Make `email` the account's pending address and mail the confirmation link to it."""
    settings = request.app[SETTINGS]
    async with request.app[POOL].acquire() as conn, conn.transaction():
        row = await email_tokens.set_pending_email(conn, user["id"], email)
        token = await email_tokens.issue(conn, user["id"], "change", email, ttl=CHANGE_TTL)
    message = mail.render(
        "email_change",
        user["locale"],
        to=email,
        name=user["display_name"] or user["username"],
        email=email,
        link=mail.link(settings, mail.EMAIL_CHANGE_PATH, token=token),
    )
    await mail.queue_mail(request.app[ARQ], message)
    return row
