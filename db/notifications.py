"""Notifications with a per-user, gap-free seq.

The seq comes from the recipient's counter row, bumped in the caller's transaction: if that
transaction rolls back, so does the bump, so seqs have no holes and a client can ask for
"everything after N" and know it has all of it.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from db.blocks import apart, muted
from db.common import iso
from drape import notification_groups

# A repeat (the same actor, type and post for the same recipient) within this many seconds of
# the last notification about it does not notify again: like, unlike, like is one "like".
REPEAT_WINDOW = 600
NO_POST = uuid.UUID(int=0)  # notification_marks.post_id of a notification about no post

# Claim the mark first: ON CONFLICT DO UPDATE ... WHERE decides on the latest committed mark
# under its row lock, so of concurrent repeats exactly one notifies. Only then is the counter
# bumped, so a skipped repeat leaves no hole in the seq.
# Nothing passes between accounts apart by a block, nor from an account the recipient muted.
INSERT_NOTIFICATION = f"""
WITH mark AS (
    INSERT INTO notification_marks AS m (user_id, actor_id, type, post_id, at)
    SELECT $1, $3, $2, coalesce($4::uuid, $6::uuid), now()
    WHERE NOT {apart("$1::uuid", "$3::uuid")} AND NOT {muted("$1::uuid", "$3::uuid")}
    ON CONFLICT (user_id, actor_id, type, post_id) DO UPDATE SET at = excluded.at
    WHERE m.at <= excluded.at - make_interval(secs => $7)
    RETURNING user_id
), counter AS (
    INSERT INTO notification_counters AS c (user_id, last_seq) SELECT user_id, 1 FROM mark
    ON CONFLICT (user_id) DO UPDATE SET last_seq = c.last_seq + 1
    RETURNING last_seq
)
INSERT INTO notifications (user_id, seq, type, actor_id, post_id, comment_id)
SELECT $1, counter.last_seq, $2, $3, $4, $5 FROM counter
RETURNING user_id, seq, id, type, actor_id, post_id, comment_id, created_at
"""


async def notify(
    conn: asyncpg.Connection,
    *,
    user_id: uuid.UUID,
    type_: str,
    actor: asyncpg.Record | dict[str, Any],
    post_id: uuid.UUID | None = None,
    comment_id: uuid.UUID | None = None,
) -> dict[str, Any] | None:
    """Store a notification inside the caller's transaction; returns it as clients see it, or
    None for a repeat within REPEAT_WINDOW."""
    row = await conn.fetchrow(
        INSERT_NOTIFICATION,
        user_id,
        type_,
        actor["id"],
        post_id,
        comment_id,
        NO_POST,
        REPEAT_WINDOW,
    )
    return None if row is None else notification_json(row, actor_username=actor["username"])


def notification_json(
    row: asyncpg.Record | dict[str, Any], *, actor_username: str | None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(row["id"]),
        "seq": row["seq"],
        "type": row["type"],
        "actor": {"id": str(row["actor_id"]), "username": actor_username}
        if row["actor_id"] is not None
        else None,
        "created_at": iso(row["created_at"]),
        "group_key": notification_groups.key_of(row["type"], row["post_id"], row["created_at"]),
    }
    if row["post_id"] is not None:
        out["post_id"] = str(row["post_id"])
    if row["comment_id"] is not None:
        out["comment_id"] = str(row["comment_id"])
    return out


# Stored notifications from an account the recipient is now apart from are left out.
SELECT_AFTER = f"""
SELECT n.seq, n.id, n.type, n.actor_id, n.post_id, n.comment_id, n.created_at,
       a.username AS actor_username
FROM notifications n LEFT JOIN users a ON a.id = n.actor_id
WHERE n.user_id = $1 AND n.seq > $2 AND NOT {apart("n.user_id", "n.actor_id")}
ORDER BY n.seq
LIMIT $3
"""


async def after_seq(
    conn: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID, seq: int, limit: int
) -> list[dict[str, Any]]:
    rows = await conn.fetch(SELECT_AFTER, user_id, seq, limit)
    return [notification_json(r, actor_username=r["actor_username"]) for r in rows]


LAST_SEQ = "SELECT last_seq FROM notification_counters WHERE user_id = $1"


async def last_seq(conn: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID) -> int:
    return int(await conn.fetchval(LAST_SEQ, user_id) or 0)


async def page_after(
    conn: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID, seq: int, limit: int
) -> dict[str, Any]:
    """Shared by REST and the Socket.IO `sync` ack, so both answer with exactly the same rows."""
    items = await after_seq(conn, user_id, seq, limit + 1)
    more = len(items) > limit
    items = items[:limit]
    last = items[-1]["seq"] if items else seq
    return {"items": items, "next_cursor": str(last) if more else None, "last_seq": last}


# The read marker only moves forward, and never past the last seq. `before` is the marker as
# this statement found it, so the caller knows whether it moved.
MARK_READ = """
WITH before AS (SELECT read_seq FROM notification_counters WHERE user_id = $1)
INSERT INTO notification_counters AS c (user_id, last_seq, read_seq) VALUES ($1, 0, 0)
ON CONFLICT (user_id) DO UPDATE SET read_seq = greatest(c.read_seq, least($2, c.last_seq))
RETURNING c.read_seq, c.last_seq, coalesce((SELECT read_seq FROM before), 0) AS before
"""


async def mark_read(pool: asyncpg.Pool, user_id: uuid.UUID, up_to_seq: int) -> asyncpg.Record:
    return await pool.fetchrow(MARK_READ, user_id, up_to_seq)


READ_STATE = "SELECT last_seq, read_seq FROM notification_counters WHERE user_id = $1"


async def read_state(pool: asyncpg.Pool, user_id: uuid.UUID) -> tuple[int, int]:
    """(last seq, read marker): the unread count is their difference, as seqs have no holes."""
    row = await pool.fetchrow(READ_STATE, user_id)
    return (0, 0) if row is None else (int(row["last_seq"]), int(row["read_seq"]))
