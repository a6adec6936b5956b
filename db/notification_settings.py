"""Each account's notification settings (which types are pushed, quiet hours, whether its
presence shows), and which accounts a watcher may see online."""

from __future__ import annotations

import uuid
from datetime import time

import asyncpg

from db.posts import VISIBLE

SETTINGS_COLUMNS = "muted_types, quiet_start, quiet_end, time_zone, hide_presence, updated_at"

SELECT_SETTINGS = f"SELECT {SETTINGS_COLUMNS} FROM notification_settings WHERE user_id = $1"


async def get(pool: asyncpg.Pool, user_id: uuid.UUID) -> asyncpg.Record | None:
    """The stored settings, or None for an account that kept the defaults."""
    return await pool.fetchrow(SELECT_SETTINGS, user_id)


# The row after the change, and hide_presence as it was before it.
PUT_SETTINGS = f"""
WITH before AS (SELECT hide_presence FROM notification_settings WHERE user_id = $1)
INSERT INTO notification_settings AS s
    (user_id, muted_types, quiet_start, quiet_end, time_zone, hide_presence)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (user_id) DO UPDATE SET
    muted_types = excluded.muted_types, quiet_start = excluded.quiet_start,
    quiet_end = excluded.quiet_end, time_zone = excluded.time_zone,
    hide_presence = excluded.hide_presence, updated_at = now()
RETURNING {SETTINGS_COLUMNS}, coalesce((SELECT hide_presence FROM before), false) AS was_hidden
"""


async def put(
    pool: asyncpg.Pool,
    user_id: uuid.UUID,
    *,
    muted_types: list[str],
    quiet_start: time | None,
    quiet_end: time | None,
    time_zone: str,
    hide_presence: bool,
) -> asyncpg.Record:
    return await pool.fetchrow(
        PUT_SETTINGS, user_id, muted_types, quiet_start, quiet_end, time_zone, hide_presence
    )


HIDING_PRESENCE = """
SELECT user_id FROM notification_settings WHERE user_id = ANY($1::uuid[]) AND hide_presence
"""


async def hiding_presence(pool: asyncpg.Pool, users: list[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `users` who hide their presence, in one round trip."""
    return {r[0] for r in await pool.fetch(HIDING_PRESENCE, users)}


# The accounts among $2 whose presence the viewer $1 may watch: those whose posts it may see,
# by the one rule of db/posts.py (VISIBLE, applied to a post of theirs that nothing hides),
# with whether they hide their presence.
WATCHABLE = f"""
SELECT u.id, coalesce(s.hide_presence, false) AS hidden
FROM users u
CROSS JOIN LATERAL (
    SELECT NULL::timestamptz AS removed_at, NULL::timestamptz AS hidden_at, u.id AS author_id
) p
LEFT JOIN notification_settings s ON s.user_id = u.id
WHERE u.id = ANY($2::uuid[]) AND u.is_active AND {VISIBLE}
"""


async def watchable(
    pool: asyncpg.Pool, viewer: uuid.UUID, user_ids: list[uuid.UUID]
) -> dict[uuid.UUID, bool]:
    """{user id: hides its presence} for those of `user_ids` the viewer may see."""
    return {r["id"]: r["hidden"] for r in await pool.fetch(WATCHABLE, viewer, user_ids)}
