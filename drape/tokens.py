"""Access tokens: short-lived HS256 JWTs that carry a user id and nothing secret.

Shared by the HTTP routes and Socket.IO connect, so both check tokens the same way.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

from drape.settings import Settings

ALGORITHM = "HS256"


class InvalidToken(Exception):
    pass


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID | None
    expires_at: int


def issue_access_token(
    settings: Settings, user_id: uuid.UUID, *, session_id: uuid.UUID | None = None
) -> str:
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + settings.access_token_ttl,
        "typ": "access",
        "jti": uuid.uuid4().hex,
    }
    if session_id is not None:
        claims["sid"] = str(session_id)
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


def verify_access_token(settings: Settings, token: str) -> AccessClaims:
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            leeway=5,
        )
        if claims.get("typ") != "access":
            raise InvalidToken("not an access token")
        sid = claims.get("sid")
        return AccessClaims(
            user_id=uuid.UUID(claims["sub"]),
            session_id=uuid.UUID(sid) if sid else None,
            expires_at=int(claims["exp"]),
        )
    except (jwt.PyJWTError, ValueError, TypeError) as e:
        raise InvalidToken(str(e)) from None
