"""The account's own security: its password, its sessions and its email."""

from __future__ import annotations

import time
from typing import Annotated

import asyncpg
from aiohttp import web
from pydantic import BaseModel, Field

from db import accounts as db_accounts
from db import email_tokens
from db import jobs as db_jobs
from db import tokens as db_tokens
from db import users as db_users
from db.common import iso
from drape import access
from drape.queue import wake
from realtime.context import REVOKED
from server import email_flows, passwords, sessions
from server.auth import require_user
from server.context import ARQ, FIREBASE, POOL, REDIS, SETTINGS
from server.errors import Problem, invalid, not_found
from server.firebase import FirebaseTokenError
from server.openapi import endpoint
from server.params import json_response, path_uuid
from server.routes.jobs import Job
from server.routes.users import Email, Input

Password = Annotated[str, Field(min_length=1, max_length=1024)]
# The token of a mailed link (verification, change of address, password reset).
LinkToken = Annotated[str, Field(min_length=10, max_length=200)]

LINK_INVALID = "This link is unknown, already used or expired."


class PasswordChange(Input):
    current_password: Password
    new_password: Password


@endpoint(
    "Change my password; every other session of the account ends",
    tags=["account"],
    body=PasswordChange,
    status=204,
    errors=(403, 422),
)
async def change_password(request: web.Request, body: PasswordChange) -> web.Response:
    claims = require_user(request)
    pool = request.app[POOL]
    user = await db_users.get_user(pool, claims.user_id)
    if user is None:
        raise not_found("user")
    stored = user["password_hash"]
    if stored is None or not await passwords.verify_password(stored, body.current_password):
        raise Problem(403, "The current password is wrong.", code="wrong_password")
    await _set_password(pool, user, body.new_password)
    await sessions.end_other_sessions(
        request.app, user["id"], claims.session_id, "password_changed"
    )
    return web.Response(status=204)


async def _set_password(
    conn: asyncpg.Connection | asyncpg.Pool, user: asyncpg.Record, password: str
) -> None:
    """The account's new password, if the policy allows it (else 422 on new_password)."""
    reason = passwords.policy_violation(
        password, username=user["username"], email=user["email"] or ""
    )
    if reason:
        raise invalid("new_password", reason)
    await db_users.set_password_hash(conn, user["id"], await passwords.hash_password(password))


class SessionOut(BaseModel):
    id: str
    created_at: str
    last_used_at: str
    user_agent: str
    current: bool


class SessionList(BaseModel):
    items: list[SessionOut]


@endpoint("My signed-in sessions, newest use first", tags=["account"], response=SessionList)
async def list_sessions(request: web.Request) -> web.Response:
    claims = require_user(request)
    rows = await db_tokens.live_sessions(request.app[POOL], claims.user_id)
    items = [
        {
            "id": str(r["id"]),
            "created_at": iso(r["created_at"]),
            "last_used_at": iso(r["last_used_at"]),
            "user_agent": r["user_agent"],
            "current": r["id"] == claims.session_id,
        }
        for r in rows
    ]
    return json_response({"items": items})


@endpoint("End one of my sessions", tags=["account"], status=204, errors=(404,))
async def end_session(request: web.Request) -> web.Response:
    claims = require_user(request)
    session_id = path_uuid(request, "id", "session")
    if not await sessions.end_session(request.app, claims.user_id, session_id, "session_revoked"):
        raise not_found("session")
    return web.Response(status=204)


class Sent(BaseModel):
    sent_to: str


@endpoint(
    "Mail me a link that verifies my email",
    tags=["account"],
    response=Sent,
    status=202,
    errors=(409, 422),
)
async def request_verification(request: web.Request) -> web.Response:
    user = await db_users.get_user(request.app[POOL], require_user(request).user_id)
    if user is None:
        raise not_found("user")
    if not user["email"]:
        raise invalid("email", "the account has no email to verify")
    if user["email_verified_at"] is not None:
        raise Problem(409, "This email is verified already.", code="already_done")
    await email_flows.send_verification(request, user)
    return json_response({"sent_to": user["email"]}, 202)


class TokenIn(Input):
    token: LinkToken


@endpoint(
    "Verify an email with the token of a mailed link (a verification, or the confirmation of a"
    " change of address, which takes effect now)",
    tags=["account"],
    auth=False,
    body=TokenIn,
    status=204,
    errors=(400, 409),
)
async def verify_email(request: web.Request, body: TokenIn) -> web.Response:
    async with request.app[POOL].acquire() as conn, conn.transaction():
        spent = await email_tokens.consume(conn, body.token, ("verify", "change"))
        if spent is None:
            raise Problem(400, LINK_INVALID, code="link_invalid")
        try:
            row = await email_tokens.confirm_email(conn, spent["user_id"], spent["email"])
        except asyncpg.UniqueViolationError:
            raise Problem(
                409, "This email belongs to another account now.", code="email_taken"
            ) from None
        if row is None:
            raise Problem(400, "This link was replaced by a newer one.", code="link_invalid")
    return web.Response(status=204)


class ResetIn(Input):
    email: Email


class ResetAccepted(BaseModel):
    detail: str


RESET_SENT = "If an account uses this email, a link to choose a new password was sent to it."


@endpoint(
    "Mail a password-reset link (the same answer whether or not the address is known)",
    tags=["account"],
    auth=False,
    body=ResetIn,
    response=ResetAccepted,
    status=202,
)
async def password_reset(request: web.Request, body: ResetIn) -> web.Response:
    # The lookup happens in the job: known and unknown addresses cost the request the same.
    await request.app[ARQ].enqueue_job("password_reset_mail", body.email.lower())
    await wake(request.app[ARQ])
    return json_response({"detail": RESET_SENT}, 202)


class ResetConfirm(Input):
    token: LinkToken
    new_password: Password


@endpoint(
    "Choose a new password with the token of a reset link; every session of the account ends",
    tags=["account"],
    auth=False,
    body=ResetConfirm,
    status=204,
    errors=(400, 422),
)
async def password_reset_confirm(request: web.Request, body: ResetConfirm) -> web.Response:
    pool = request.app[POOL]
    async with pool.acquire() as conn, conn.transaction():
        spent = await email_tokens.consume(conn, body.token, ("reset",))
        if spent is None:
            raise Problem(400, LINK_INVALID, code="link_invalid")
        user = await db_users.get_user(conn, spent["user_id"])
        if user is None or not user["is_active"]:
            raise Problem(400, LINK_INVALID, code="link_invalid")
        await _set_password(conn, user, body.new_password)
    await sessions.end_other_sessions(request.app, user["id"], None, "password_changed")
    return web.Response(status=204)


class DeleteMe(Input):
    """Proof that the owner is here: the password, or for an account without one a Firebase ID
    token signed in within the last five minutes."""

    password: Password | None = None
    id_token: Annotated[str, Field(min_length=10, max_length=8192)] | None = None


class Deleting(BaseModel):
    status: str


FRESH_SIGN_IN = 300  # seconds


@endpoint(
    "Delete my account: it vanishes at once, and a job removes all its data",
    tags=["account"],
    body=DeleteMe,
    response=Deleting,
    status=202,
    errors=(403,),
)
async def delete_me(request: web.Request, body: DeleteMe) -> web.Response:
    app = request.app
    user = await db_users.get_user(app[POOL], require_user(request).user_id)
    if user is None:
        raise not_found("user")
    await _prove_owner(request, user, body)
    async with app[POOL].acquire() as conn, conn.transaction():
        ended = await db_accounts.close_account(conn, user["id"])
    await access.revoke(
        app[REDIS], app[SETTINGS], sessions=ended or [], users=[user["id"]],
        reason="account_deleted", mirror=app[REVOKED],
    )  # fmt: skip
    await access.recheck(app[REDIS], app[SETTINGS], user["id"])  # its posts' watchers lose them
    await app[ARQ].enqueue_job("purge_account", str(user["id"]), _job_id=f"purge:{user['id']}")
    await wake(app[ARQ])
    return json_response({"status": "deleting"}, 202)


async def _prove_owner(request: web.Request, user: asyncpg.Record, body: DeleteMe) -> None:
    if user["password_hash"] is not None:
        if body.password is None or not await passwords.verify_password(
            user["password_hash"], body.password
        ):
            raise Problem(403, "Send the account's password to delete it.", code="wrong_password")
        return
    if body.id_token is None:
        raise Problem(
            403,
            "Send a fresh Firebase ID token (id_token) to delete this account.",
            code="wrong_password",
        )
    try:
        claims = await request.app[FIREBASE].verify(body.id_token)
    except FirebaseTokenError as e:
        raise Problem(
            403, f"The Firebase ID token was refused: {e}.", code="wrong_password"
        ) from None
    signed_in = claims.get("auth_time")
    fresh = isinstance(signed_in, int) and time.time() - signed_in < FRESH_SIGN_IN
    if claims.get("sub") != user["firebase_uid"] or not fresh:
        raise Problem(
            403, "Sign in with Google again, then send the new ID token.", code="wrong_password"
        )


class ExportAccepted(BaseModel):
    job: Job


EXPORT_EVERY = 24 * 3600


@endpoint(
    "Export all my data: a job whose result holds the download_url of a ZIP (one a day)",
    tags=["account"],
    response=ExportAccepted,
    status=202,
    errors=(429,),
)
async def export_me(request: web.Request) -> web.Response:
    pool, me = request.app[POOL], require_user(request).user_id
    last = await db_accounts.last_export(pool, me)
    if last is not None:
        wait = max(int(EXPORT_EVERY - (time.time() - last.timestamp())), 1)
        raise Problem(
            429, f"One export a day; the next in {wait} s.", headers={"Retry-After": str(wait)}
        )
    job = await db_jobs.enqueue(
        pool, request.app[ARQ], function="export_account", kind="export", user_id=me, args={}
    )
    return json_response({"job": db_jobs.job_json(job)}, 202)
