"""Bearer-token checks for HTTP routes."""

from __future__ import annotations

import time
import uuid

from aiohttp import web

from drape.tokens import AccessClaims, InvalidToken, verify_access_token
from realtime.context import REVOKED
from server.context import POOL, SETTINGS
from server.errors import Problem

CLAIMS_KEY = web.RequestKey("claims", object)


def _unauthorized(detail: str, *, code: str) -> Problem:
    headers = {"WWW-Authenticate": 'Bearer realm="drape"'}
    return Problem(401, detail, headers=headers, code=code)


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def optional_claims(request: web.Request) -> AccessClaims | None:
    """The caller's claims if a valid token was sent; a bad token is still an error."""
    if CLAIMS_KEY in request:
        return request[CLAIMS_KEY]  # type: ignore[return-value]
    token = bearer_token(request)
    claims = None
    if token is not None:
        try:
            claims = verify_access_token(request.app[SETTINGS], token)
        except InvalidToken:
            raise _unauthorized(
                "The access token is invalid or has expired.", code="access_token_invalid"
            ) from None
    request[CLAIMS_KEY] = claims
    return claims


def require_user(request: web.Request) -> AccessClaims:
    claims = optional_claims(request)
    if claims is None:
        raise _unauthorized(
            "Sign in first: send Authorization: Bearer <access_token>.", code="not_signed_in"
        )
    return claims


def user_id(request: web.Request) -> uuid.UUID:
    return require_user(request).user_id


def viewer_id(request: web.Request) -> uuid.UUID | None:
    claims = optional_claims(request)
    return claims.user_id if claims else None


# How long a process trusts what it last read about an account being active. A disabled or
# deleted account's tokens stop working within this time, not at their expiry (15 min).
ACTIVE_TTL = 30.0
ACTIVE_CACHE = web.AppKey("active_users", dict)


SIGNED_OUT = {
    "signed_out": "This session was signed out.",
    "password_changed": "The password was changed; sign in again with the new one.",
    "session_revoked": "This session was ended from another device.",
    "account_deleted": "This account was deleted.",
    "account_suspended": "This account is suspended.",
    "token_reused": "This session was ended because its refresh token was used twice.",
}


async def require_active_user(request: web.Request) -> AccessClaims:
    """require_user, plus: its session was not ended (this process's mirror of the revocations
    in Redis) and the account still exists and is active (cached per process)."""
    claims = require_user(request)
    reason = request.app[REVOKED].reason(claims)
    if reason is not None:
        code = reason if reason in SIGNED_OUT else "signed_out"
        raise _unauthorized(SIGNED_OUT[code], code=code)
    cache: dict[uuid.UUID, tuple[bool, float]] = request.app[ACTIVE_CACHE]
    now = time.monotonic()
    hit = cache.get(claims.user_id)
    if hit is None or hit[1] < now:
        active = await request.app[POOL].fetchval(
            "SELECT is_active FROM users WHERE id = $1", claims.user_id
        )
        if len(cache) > 100_000:  # bounded: drop everything rather than track recency
            cache.clear()
        hit = cache[claims.user_id] = (bool(active), now + ACTIVE_TTL)
    if not hit[0]:
        raise _unauthorized(
            "This account no longer exists or is disabled.", code="account_inactive"
        )
    return claims
