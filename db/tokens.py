"""Refresh tokens: stored as SHA-256 hashes, rotated on every use, revoked by family."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum

import asyncpg


def new_token() -> tuple[str, bytes]:
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


INSERT_TOKEN = """
INSERT INTO refresh_tokens (user_id, family_id, parent_id, token_hash, expires_at, user_agent, ip)
VALUES ($1, $2, $3, $4, now() + $5::interval, $6, $7)
RETURNING id, family_id
"""


@dataclass(frozen=True, slots=True)
class Issued:
    token: str
    family_id: uuid.UUID


async def issue(
    conn: asyncpg.Connection | asyncpg.Pool,
    user_id: uuid.UUID,
    *,
    ttl: int,
    family_id: uuid.UUID | None = None,
    parent_id: uuid.UUID | None = None,
    user_agent: str = "",
    ip: str | None = None,
) -> Issued:
    token, digest = new_token()
    row = await conn.fetchrow(
        INSERT_TOKEN,
        user_id,
        family_id or uuid.uuid4(),
        parent_id,
        digest,
        timedelta(seconds=ttl),
        user_agent[:300],
        ip,
    )
    return Issued(token=token, family_id=row["family_id"])


class Outcome(Enum):
    ROTATED = "rotated"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REUSED = "reused"  # an already-rotated token: the family is now revoked
    REVOKED = "revoked"  # a token of a session that ended (logout, password change ...)


@dataclass(frozen=True, slots=True)
class Rotation:
    outcome: Outcome
    user_id: uuid.UUID | None = None
    family_id: uuid.UUID | None = None
    issued: Issued | None = None


SELECT_FOR_ROTATION = """
SELECT t.id, t.user_id, t.family_id, t.used_at, t.revoked_at, t.expires_at < now() AS expired,
       u.is_active
FROM refresh_tokens t JOIN users u ON u.id = t.user_id
WHERE t.token_hash = $1
FOR UPDATE OF t
"""

MARK_USED = "UPDATE refresh_tokens SET used_at = now() WHERE id = $1"

REVOKE_FAMILY = """
UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL
"""


async def rotate(
    pool: asyncpg.Pool, token: str, *, ttl: int, user_agent: str = "", ip: str | None = None
) -> Rotation:
    """Exchange a refresh token for a new one of the same family, once."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(SELECT_FOR_ROTATION, token_hash(token))
        if row is None:
            return Rotation(Outcome.UNKNOWN)
        if row["used_at"] is None and row["revoked_at"] is not None:
            return Rotation(Outcome.REVOKED, row["user_id"], row["family_id"])
        if row["used_at"] is not None:
            # Someone presents a token that was already exchanged: either the client or a thief
            # holds a copy. Revoke every token of the family so both must sign in again.
            await conn.execute(REVOKE_FAMILY, row["family_id"])
            return Rotation(Outcome.REUSED, row["user_id"], row["family_id"])
        if row["expired"] or not row["is_active"]:
            return Rotation(Outcome.EXPIRED, row["user_id"], row["family_id"])
        await conn.execute(MARK_USED, row["id"])
        issued = await issue(
            conn,
            row["user_id"],
            ttl=ttl,
            family_id=row["family_id"],
            parent_id=row["id"],
            user_agent=user_agent,
            ip=ip,
        )
        return Rotation(Outcome.ROTATED, row["user_id"], row["family_id"], issued)


async def revoke_family(pool: asyncpg.Pool, family_id: uuid.UUID, user_id: uuid.UUID) -> int:
    status = await pool.execute(REVOKE_FAMILY + " AND user_id = $2", family_id, user_id)
    return int(status.split()[-1])


FAMILY_OF = "SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND user_id = $2"


async def family_of(pool: asyncpg.Pool, token: str, user_id: uuid.UUID) -> uuid.UUID | None:
    return await pool.fetchval(FAMILY_OF, token_hash(token), user_id)


REVOKE_OTHER_FAMILIES = """
UPDATE refresh_tokens SET revoked_at = now()
WHERE user_id = $1 AND revoked_at IS NULL AND family_id IS DISTINCT FROM $2
RETURNING family_id
"""


async def revoke_other_families(
    conn: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID, keep: uuid.UUID | None
) -> set[uuid.UUID]:
    """Revoke every session of the account but `keep` (all of them when None); returns the
    sessions that were still live, so their access tokens can be refused too."""
    return {r["family_id"] for r in await conn.fetch(REVOKE_OTHER_FAMILIES, user_id, keep)}


LIVE_SESSIONS = """
SELECT family_id AS id, min(created_at) AS created_at, max(created_at) AS last_used_at,
       (array_agg(user_agent ORDER BY created_at DESC))[1] AS user_agent
FROM refresh_tokens
WHERE user_id = $1
GROUP BY family_id
HAVING bool_or(revoked_at IS NULL AND used_at IS NULL AND expires_at > now())
ORDER BY max(created_at) DESC
LIMIT 200
"""


async def live_sessions(pool: asyncpg.Pool, user_id: uuid.UUID) -> list[asyncpg.Record]:
    """The account's sessions that can still refresh: one row per family, newest use first."""
    return await pool.fetch(LIVE_SESSIONS, user_id)


OWNS_FAMILY = "SELECT EXISTS (SELECT 1 FROM refresh_tokens WHERE family_id = $1 AND user_id = $2)"


async def owns_family(pool: asyncpg.Pool, family_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return bool(await pool.fetchval(OWNS_FAMILY, family_id, user_id))
