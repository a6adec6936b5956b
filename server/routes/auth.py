"""Register, sign in (password or Firebase), refresh, sign out."""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Annotated, Any

import asyncpg
from aiohttp import web
from pydantic import BaseModel, Field, StringConstraints

from db import tokens as db_tokens
from db import users as db_users
from drape import access
from drape.tokens import issue_access_token
from realtime.context import REVOKED
from server import moderation, passwords, ratelimit, sessions, throttle
from server.auth import require_user
from server.context import FIREBASE, POOL, REDIS, SETTINGS
from server.errors import Problem, invalid
from server.firebase import FirebaseTokenError
from server.openapi import endpoint
from server.params import json_response
from server.routes.users import Email, Input, Me, Username, own_user


class RegisterIn(Input):
    email: Email
    username: Username
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    display_name: Annotated[str, Field(max_length=60)] = ""


class LoginIn(Input):
    login: Annotated[str, StringConstraints(min_length=1, max_length=254, strip_whitespace=True)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class RefreshIn(Input):
    refresh_token: Annotated[str, Field(min_length=10, max_length=200)]


class LogoutIn(Input):
    refresh_token: Annotated[str, Field(min_length=10, max_length=200)] | None = None


class FirebaseIn(Input):
    id_token: Annotated[str, Field(min_length=10, max_length=8192)]
    # To link Google sign-in to an existing account whose email is not verified yet.
    password: Annotated[str, Field(min_length=1, max_length=1024)] | None = None


class Session(BaseModel):
    user: Me
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


class Tokens(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int


def _tokens(request: web.Request, user_id: uuid.UUID, issued: db_tokens.Issued) -> dict[str, Any]:
    settings = request.app[SETTINGS]
    return {
        "access_token": issue_access_token(settings, user_id, session_id=issued.family_id),
        "refresh_token": issued.token,
        "token_type": "Bearer",
        "expires_in": settings.access_token_ttl,
    }


async def _start_session(request: web.Request, user: asyncpg.Record, status: int) -> web.Response:
    pool = request.app[POOL]
    issued = await db_tokens.issue(
        pool,
        user["id"],
        ttl=request.app[SETTINGS].refresh_token_ttl,
        user_agent=request.headers.get("User-Agent", ""),
        ip=ratelimit.client_address(request),
    )
    await db_users.touch_login(pool, user["id"])
    return json_response({"user": own_user(user), **_tokens(request, user["id"], issued)}, status)


@endpoint(
    "Create an account",
    tags=["auth"],
    auth=False,
    body=RegisterIn,
    response=Session,
    status=201,
    errors=(409,),
    limit=ratelimit.Action.REGISTER,
)
async def register(request: web.Request, body: RegisterIn) -> web.Response:
    moderation.screen(request, username=body.username, display_name=body.display_name)
    reason = passwords.policy_violation(body.password, username=body.username, email=body.email)
    if reason:
        raise invalid("password", reason)
    pw_hash = await passwords.hash_password(body.password)
    user = await db_users.create_user(
        request.app[POOL],
        email=body.email,
        username=body.username,
        password_hash=pw_hash,
        display_name=body.display_name or body.username,
    )
    return await _start_session(request, user, 201)


WRONG_LOGIN = "The login or the password is wrong."


@endpoint(
    "Sign in with email or username and password",
    tags=["auth"],
    auth=False,
    body=LoginIn,
    response=Session,
    errors=(401, 429),
)
async def login(request: web.Request, body: LoginIn) -> web.Response:
    redis, pool = request.app[REDIS], request.app[POOL]
    address = ratelimit.client_address(request)
    await throttle.check(redis, throttle.ADDRESS, address)
    user = await db_users.get_by_login(pool, body.login)
    # Counted per account, whichever name it was signed in by; per login string only for
    # names no account has (the same work either way, so the answer time tells nothing).
    account = str(user["id"]) if user is not None else body.login.lower()
    await throttle.check(redis, throttle.ACCOUNT, account)
    stored = user["password_hash"] if user is not None else None
    matches = await passwords.verify_password(stored or passwords.DUMMY_HASH, body.password)
    if user is None or stored is None or not matches or not user["is_active"]:
        await throttle.record_failure(redis, throttle.ADDRESS, address)
        await throttle.record_failure(redis, throttle.ACCOUNT, account)
        raise Problem(401, WRONG_LOGIN, code="wrong_login")
    await throttle.reset(redis, throttle.ACCOUNT, account)
    if passwords.needs_rehash(stored):
        await db_users.set_password_hash(
            pool, user["id"], await passwords.hash_password(body.password)
        )
    return await _start_session(request, user, 200)


@endpoint(
    "Exchange a refresh token for new tokens",
    tags=["auth"],
    auth=False,
    body=RefreshIn,
    response=Tokens,
    errors=(401,),
)
async def refresh(request: web.Request, body: RefreshIn) -> web.Response:
    turn = await db_tokens.rotate(
        request.app[POOL],
        body.refresh_token,
        ttl=request.app[SETTINGS].refresh_token_ttl,
        user_agent=request.headers.get("User-Agent", ""),
        ip=ratelimit.client_address(request),
    )
    if turn.outcome is db_tokens.Outcome.REUSED and turn.family_id is not None:
        app = request.app
        await access.revoke(
            app[REDIS], app[SETTINGS], sessions=[turn.family_id], reason="token_reused",
            mirror=app[REVOKED],
        )  # fmt: skip
        raise Problem(
            401,
            "This refresh token was already used; every session it belongs to has been signed out.",
            code="token_reused",
        )
    if turn.outcome is db_tokens.Outcome.REVOKED:
        raise Problem(401, "This session has ended (signed out); sign in again.", code="signed_out")
    if turn.issued is None or turn.user_id is None:
        raise Problem(
            401, "The refresh token is unknown or has expired.", code="refresh_token_invalid"
        )
    return json_response(_tokens(request, turn.user_id, turn.issued))


@endpoint(
    "Sign out: revoke this session's refresh tokens (or those of the optional"
    " {refresh_token} given in the body)",
    tags=["auth"],
    body=LogoutIn,
    optional_body=True,
    status=204,
)
async def logout(request: web.Request, body: LogoutIn | None) -> web.Response:
    claims = require_user(request)
    pool = request.app[POOL]
    family = claims.session_id
    if body is not None and body.refresh_token:
        family = await db_tokens.family_of(pool, body.refresh_token, claims.user_id)
    if family is not None:
        await sessions.end_session(request.app, claims.user_id, family, "signed_out")
    return web.Response(status=204)


@endpoint(
    "Sign in with a Firebase ID token",
    tags=["auth"],
    auth=False,
    body=FirebaseIn,
    response=Session,
    extra_responses={201: Session},  # the account was created
    errors=(401, 403, 409),
)
async def firebase(request: web.Request, body: FirebaseIn) -> web.Response:
    try:
        claims = await request.app[FIREBASE].verify(body.id_token)
    except FirebaseTokenError as e:
        raise Problem(
            401, f"The Firebase ID token was refused: {e}.", code="firebase_token_refused"
        ) from None
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    verified = claims.get("email_verified") is True
    proven = await _prove_password(request, email, body.password) if verified else None
    try:
        user, created = await db_users.link_or_create_firebase_user(
            request.app[POOL],
            uid=claims["sub"],
            email=email,
            email_verified=verified,
            display_name=moderation.passing(request, str(claims.get("name") or "")[:60]),
            username=_username_from(request, claims),
            proven=proven,
        )
    except db_users.LinkNeedsProof:
        raise Problem(
            409,
            "An account already uses this email but has not verified it. Sign in to it with its"
            " password, or send {id_token, password} here to link Google sign-in to it.",
            title="Account needs proof",
            code="account_needs_proof",
        ) from None
    if not user["is_active"]:
        raise Problem(403, "This account is disabled.", code="account_disabled")
    return await _start_session(request, user, 201 if created else 200)


async def _prove_password(
    request: web.Request, email: str | None, password: str | None
) -> uuid.UUID | None:
    """The id of the account with `email` if `password` is its password; 401 if it is not."""
    if not email or password is None:
        return None
    redis = request.app[REDIS]
    account = await db_users.get_by_email(request.app[POOL], email)
    subject = str(account["id"]) if account is not None else email.lower()
    await throttle.check(redis, throttle.ACCOUNT, subject)
    stored = account["password_hash"] if account is not None else None
    if (
        account is None
        or not await passwords.verify_password(stored or passwords.DUMMY_HASH, password)
        or stored is None
    ):
        await throttle.record_failure(redis, throttle.ACCOUNT, subject)
        raise Problem(401, WRONG_LOGIN, code="wrong_login")
    return account["id"]  # type: ignore[no-any-return]


def _username_from(request: web.Request, claims: dict[str, Any]) -> str:
    """A free-looking username from the email or name (unless the word filter refuses it); a
    random suffix avoids collisions."""
    base = str(claims.get("email") or claims.get("name") or "user").split("@")[0]
    base = moderation.passing(request, re.sub(r"[^A-Za-z0-9_.]", "", base)[:20]) or "user"
    return f"{base}_{secrets.token_hex(3)}"
