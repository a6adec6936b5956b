"""Grouped notifications: "A and 14 others liked your post", computed in SQL from the stored
notifications, one group per type, post and window (drape/notification_groups.py)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from db.blocks import apart
from db.common import iso
from db.posts import VISIBLE
from drape import notification_groups
from drape.notification_groups import GROUP_WINDOW

# Groups of the recipient's ($1) notifications (drape/notification_groups.py): one per type, post
# and window ($3 seconds), of the windows from $5 on, newest first, those with latest_seq below
# $2. A group counts distinct active actors and lists the newest 8; a notification about a post
# the recipient may no longer be shown (deleted, removed by a moderator: posts.py VISIBLE) is in
# no group, nor one from an account the recipient is apart from by a block (db/blocks.py).
SELECT_GROUPS = f"""
WITH n AS (
    SELECT n.seq, n.type, n.post_id, n.actor_id, n.created_at,
           div(extract(epoch FROM n.created_at), $3)::bigint AS bucket
    FROM notifications n
    JOIN users a ON a.id = n.actor_id AND a.is_active
    LEFT JOIN (posts p JOIN users u ON u.id = p.author_id) ON p.id = n.post_id
    WHERE n.user_id = $1 AND n.created_at >= $5 AND NOT {apart("n.user_id", "n.actor_id")}
      AND (n.post_id IS NULL OR (p.id IS NOT NULL AND {VISIBLE}))
), per_actor AS (
    SELECT type, post_id, bucket, actor_id, max(seq) AS seq, max(created_at) AS at
    FROM n GROUP BY type, post_id, bucket, actor_id
), groups AS (
    SELECT type, post_id, bucket, count(*) AS count, max(seq) AS latest_seq,
           max(at) AS latest_at, (array_agg(actor_id ORDER BY seq DESC))[1:8] AS actor_ids
    FROM per_actor GROUP BY type, post_id, bucket
)
SELECT g.type, g.post_id, g.bucket, g.count, g.latest_seq, g.latest_at,
       (SELECT json_agg(json_build_object(
                   'id', u.id, 'username', u.username, 'display_name', u.display_name,
                   'avatar_url', u.avatar_url) ORDER BY x.ord)
        FROM unnest(g.actor_ids) WITH ORDINALITY AS x(id, ord) JOIN users u ON u.id = x.id
       ) AS actors
FROM groups g
WHERE g.latest_seq < $2
ORDER BY g.latest_seq DESC
LIMIT $4
"""


NEWEST_BELOW = """
SELECT created_at FROM notifications WHERE user_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT 1
"""

# The newest seq below $2 of the notifications made before $3: no group of the windows before $3
# has a later latest_seq.
NEWEST_OLDER = """
SELECT seq FROM notifications WHERE user_id = $1 AND seq < $2 AND created_at < $3
ORDER BY seq DESC LIMIT 1
"""


async def groups(
    conn: asyncpg.Connection | asyncpg.Pool,
    user_id: uuid.UUID,
    *,
    before_seq: int | None,
    limit: int,
    read_up_to: int = 0,
) -> dict[str, Any]:
    """A page of grouped notifications, newest group first. `read` is whether the group's
    newest notification is at or below the user's read marker, `read_up_to`.

    Only the newest windows are aggregated: two at first, twice as many each time the groups
    found could still be outranked by a group of an older window (one whose notifications
    include a later seq than the page's last group), so a page costs what its windows hold, not
    what the whole history does."""
    before = 2**63 - 1 if before_seq is None else before_seq
    newest = await conn.fetchval(NEWEST_BELOW, user_id, before)
    if newest is None:
        return {"items": [], "next_seq": None}
    top, span = notification_groups.bucket_of(newest), 2
    while True:
        since = notification_groups.window_start(top - span + 1)
        rows = await conn.fetch(SELECT_GROUPS, user_id, before, GROUP_WINDOW, limit + 1, since)
        older = await conn.fetchval(NEWEST_OLDER, user_id, before, since)
        if older is None or (len(rows) > limit and older < rows[-1]["latest_seq"]):
            break
        span *= 2
    items = [_group_json(r, read_up_to) for r in rows[:limit]]
    more = len(rows) > limit
    return {"items": items, "next_seq": items[-1]["latest_seq"] if more else None}


def _group_json(row: asyncpg.Record, read_up_to: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "group_key": notification_groups.group_key(row["type"], row["post_id"], row["bucket"]),
        "type": row["type"],
        "count": row["count"],
        "actors": row["actors"],
        "latest_seq": row["latest_seq"],
        "latest_at": iso(row["latest_at"]),
        "read": row["latest_seq"] <= read_up_to,
    }
    if row["post_id"] is not None:
        out["post_id"] = str(row["post_id"])
    return out
