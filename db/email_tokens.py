"""Single-use links mailed to an address: verify it, confirm a change of address, reset a
password. Stored as SHA-256 hashes; a token works once, before it expires."""

from __future__ import annotations

import uuid
from datetime import timedelta

import asyncpg

from db import tokens as db_tokens
from db.users import USER_COLUMNS

INSERT = """
INSERT INTO email_tokens (user_id, purpose, email, token_hash, expires_at)
VALUES ($1, $2, $3, $4, now() + $5::interval)
"""
# A new link of a purpose replaces the ones sent before it.
RETIRE = """
UPDATE email_tokens SET used_at = now()
WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL
"""


async def issue(
    conn: asyncpg.Connection | asyncpg.Pool,
    user_id: uuid.UUID,
    purpose: str,
    email: str,
    *,
    ttl: int,
) -> str:
    token, digest = db_tokens.new_token()
    await conn.execute(RETIRE, user_id, purpose)
    await conn.execute(INSERT, user_id, purpose, email, digest, timedelta(seconds=ttl))
    return token


CONSUME = """
UPDATE email_tokens SET used_at = now()
WHERE token_hash = $1 AND purpose = ANY($2::text[]) AND used_at IS NULL AND expires_at > now()
RETURNING user_id, purpose, email
"""


async def consume(
    conn: asyncpg.Connection, token: str, purposes: tuple[str, ...]
) -> asyncpg.Record | None:
    """The token's (user_id, purpose, email), spent; None if unknown, used or expired."""
    return await conn.fetchrow(CONSUME, db_tokens.token_hash(token), list(purposes))


CONFIRM_EMAIL = f"""
UPDATE users
SET email = $2, email_verified_at = now(), is_verified = true,
    pending_email = CASE WHEN lower(pending_email) = lower($2) THEN NULL ELSE pending_email END
WHERE id = $1 AND (lower(email) = lower($2) OR lower(pending_email) = lower($2))
RETURNING {USER_COLUMNS}
"""


async def confirm_email(
    conn: asyncpg.Connection, user_id: uuid.UUID, email: str
) -> asyncpg.Record | None:
    """The address proved to be the user's becomes its verified email: the current one, or the
    pending change (which replaces the old address only now). None if neither is `email` any
    more (a later change superseded the link)."""
    return await conn.fetchrow(CONFIRM_EMAIL, user_id, email)


SET_PENDING = f"""
UPDATE users SET pending_email = $2 WHERE id = $1 RETURNING {USER_COLUMNS}
"""


async def set_pending_email(
    conn: asyncpg.Connection, user_id: uuid.UUID, email: str | None
) -> asyncpg.Record | None:
    return await conn.fetchrow(SET_PENDING, user_id, email)
