"""Users, their profiles and style profiles."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

USER_COLUMNS = """
id, email, username, firebase_uid, password_hash, display_name, bio, avatar_url, website, locale,
timezone, role, is_verified, is_private, is_active, preferences, follower_count, following_count,
post_count, last_login_at, created_at, updated_at, email_verified_at, pending_email
"""

INSERT_USER = f"""
INSERT INTO users (email, username, password_hash, display_name, firebase_uid, is_verified,
                   email_verified_at)
VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $6 THEN now() END)
RETURNING {USER_COLUMNS}
"""


async def create_user(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    email: str | None,
    username: str,
    password_hash: str | None,
    display_name: str = "",
    firebase_uid: str | None = None,
    email_verified: bool = False,
) -> asyncpg.Record:
    return await conn.fetchrow(
        INSERT_USER, email, username, password_hash, display_name, firebase_uid, email_verified
    )


SELECT_BY_ID = f"SELECT {USER_COLUMNS} FROM users WHERE id = $1"


async def get_user(
    conn: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(SELECT_BY_ID, user_id)


SELECT_BY_LOGIN = f"""
SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower($1) OR lower(username) = lower($1)
ORDER BY (lower(username) = lower($1)) DESC LIMIT 1
"""


async def get_by_login(pool: asyncpg.Pool, login: str) -> asyncpg.Record | None:
    """`login` is an email or a username; both are unique without regard to case."""
    return await pool.fetchrow(SELECT_BY_LOGIN, login)


SELECT_BY_USERNAME = f"SELECT {USER_COLUMNS} FROM users WHERE lower(username) = lower($1)"


async def get_by_username(pool: asyncpg.Pool, username: str) -> asyncpg.Record | None:
    return await pool.fetchrow(SELECT_BY_USERNAME, username)


SELECT_BY_FIREBASE_UID = f"SELECT {USER_COLUMNS} FROM users WHERE firebase_uid = $1"


async def get_by_firebase_uid(
    conn: asyncpg.Connection | asyncpg.Pool, uid: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(SELECT_BY_FIREBASE_UID, uid)


class LinkNeedsProof(Exception):
    """An account holds this email without having verified it."""

    def __init__(self, user_id: uuid.UUID) -> None:
        super().__init__("the account with this email has not verified it")
        self.user_id = user_id


SELECT_BY_EMAIL = f"SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower($1)"


async def get_by_email(pool: asyncpg.Pool, email: str) -> asyncpg.Record | None:
    return await pool.fetchrow(SELECT_BY_EMAIL, email)


SELECT_BY_EMAIL_FOR_UPDATE = f"""
SELECT {USER_COLUMNS} FROM users WHERE lower(email) = lower($1) FOR UPDATE
"""

LINK_FIREBASE = f"""
UPDATE users SET firebase_uid = $2, is_verified = true,
       email_verified_at = coalesce(email_verified_at, now())
WHERE id = $1
RETURNING {USER_COLUMNS}
"""


async def link_or_create_firebase_user(
    pool: asyncpg.Pool,
    *,
    uid: str,
    email: str | None,
    email_verified: bool,
    display_name: str,
    username: str,
    proven: uuid.UUID | None = None,
) -> tuple[asyncpg.Record, bool]:
    """Find the user by Firebase uid; else link the account with the same email, if that
    account verified its email or the caller proved its password (`proven`); else create one.
    Returns (user, created); raises LinkNeedsProof for an account whose email is unverified:
    anyone can register an address they do not own, so it proves nothing."""
    async with pool.acquire() as conn, conn.transaction():
        user = await get_by_firebase_uid(conn, uid)
        if user is not None:
            return user, False
        if email and email_verified:
            existing = await conn.fetchrow(SELECT_BY_EMAIL_FOR_UPDATE, email)
            if existing is not None and existing["firebase_uid"] is None:
                if existing["email_verified_at"] is None and existing["id"] != proven:
                    raise LinkNeedsProof(existing["id"])
                return await conn.fetchrow(LINK_FIREBASE, existing["id"], uid), False
            if existing is not None:
                email = None  # that address belongs to another Firebase identity
        elif email:
            taken = await conn.fetchval("SELECT 1 FROM users WHERE lower(email) = lower($1)", email)
            email = None if taken else email
        user = await create_user(
            conn,
            email=email,
            username=username,
            password_hash=None,
            display_name=display_name,
            firebase_uid=uid,
            email_verified=email_verified and email is not None,
        )
        return user, True


TOUCH_LOGIN = "UPDATE users SET last_login_at = now() WHERE id = $1"


async def touch_login(pool: asyncpg.Pool, user_id: uuid.UUID) -> None:
    await pool.execute(TOUCH_LOGIN, user_id)


SET_PASSWORD_HASH = "UPDATE users SET password_hash = $2 WHERE id = $1"


async def set_password_hash(
    conn: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID, password_hash: str
) -> None:
    await conn.execute(SET_PASSWORD_HASH, user_id, password_hash)


UPDATABLE = (
    "display_name",
    "bio",
    "avatar_url",
    "website",
    "locale",
    "timezone",
    "is_private",
    "preferences",
    "username",
)


async def update_user(
    pool: asyncpg.Pool, user_id: uuid.UUID, changes: dict[str, Any]
) -> asyncpg.Record | None:
    """Only the named columns of UPDATABLE; the column names come from that tuple, never from
    the request."""
    cols = [c for c in UPDATABLE if c in changes]
    if not cols:
        return await get_user(pool, user_id)
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(cols, start=2))
    sql = f"UPDATE users SET {assignments} WHERE id = $1 RETURNING {USER_COLUMNS}"
    return await pool.fetchrow(sql, user_id, *(changes[c] for c in cols))


FOLLOW_STATUS = """
SELECT status FROM follows WHERE follower_id = $1 AND followee_id = $2
"""


async def follow_status(
    conn: asyncpg.Connection | asyncpg.Pool, viewer: uuid.UUID | None, target: uuid.UUID
) -> str | None:
    if viewer is None:
        return None
    return await conn.fetchval(FOLLOW_STATUS, viewer, target)


async def can_see_content(
    conn: asyncpg.Connection | asyncpg.Pool, viewer: uuid.UUID | None, owner: asyncpg.Record
) -> bool:
    """A private account's posts, followers and following are for itself and its followers."""
    if not owner["is_private"] or viewer == owner["id"]:
        return True
    return await follow_status(conn, viewer, owner["id"]) == "active"


# Profiles ---------------------------------------------------------------------------------------

PROFILE_COLUMNS = (
    "user_id, full_name, pronouns, gender, birth_date, country, city, height_cm, weight_kg, "
    "created_at, updated_at"
)
PROFILE_FIELDS = (
    "full_name",
    "pronouns",
    "gender",
    "birth_date",
    "country",
    "city",
    "height_cm",
    "weight_kg",
)

SELECT_PROFILE = f"SELECT {PROFILE_COLUMNS} FROM user_profiles WHERE user_id = $1"


async def get_profile(pool: asyncpg.Pool, user_id: uuid.UUID) -> asyncpg.Record | None:
    return await pool.fetchrow(SELECT_PROFILE, user_id)


UPSERT_PROFILE = f"""
INSERT INTO user_profiles (user_id, {", ".join(PROFILE_FIELDS)})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (user_id) DO UPDATE SET
{", ".join(f"{f} = EXCLUDED.{f}" for f in PROFILE_FIELDS)}
RETURNING {PROFILE_COLUMNS}
"""


async def put_profile(
    pool: asyncpg.Pool, user_id: uuid.UUID, values: dict[str, Any]
) -> asyncpg.Record:
    return await pool.fetchrow(UPSERT_PROFILE, user_id, *(values[f] for f in PROFILE_FIELDS))


STYLE_FIELDS = (
    "preferred_styles",
    "preferred_colors",
    "avoided_colors",
    "fit",
    "sizes",
    "budget_min",
    "budget_max",
    "currency",
    "body_shape",
    "occasions",
)
STYLE_COLUMNS = f"user_id, {', '.join(STYLE_FIELDS)}, created_at, updated_at"

SELECT_STYLE = f"SELECT {STYLE_COLUMNS} FROM style_profiles WHERE user_id = $1"


async def get_style_profile(
    conn: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(SELECT_STYLE, user_id)


UPSERT_STYLE = f"""
INSERT INTO style_profiles (user_id, {", ".join(STYLE_FIELDS)})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (user_id) DO UPDATE SET
{", ".join(f"{f} = EXCLUDED.{f}" for f in STYLE_FIELDS)}
RETURNING {STYLE_COLUMNS}
"""


async def put_style_profile(
    pool: asyncpg.Pool, user_id: uuid.UUID, values: dict[str, Any]
) -> asyncpg.Record:
    return await pool.fetchrow(UPSERT_STYLE, user_id, *(values[f] for f in STYLE_FIELDS))


ACTIVE_AMONG = "SELECT id FROM users WHERE id = ANY($1::uuid[]) AND is_active"


async def active_among(pool: asyncpg.Pool, user_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of `user_ids` are active accounts, in one query."""
    return {r["id"] for r in await pool.fetch(ACTIVE_AMONG, user_ids)}
