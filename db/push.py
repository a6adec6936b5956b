"""Push devices, the delivery claims that keep a push from going out twice, and what one push
job needs to know about its notification."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import asyncpg

MAX_DEVICES = 10  # per account: registering one more forgets the oldest

DEVICE_COLUMNS = "id, platform, created_at, pushed_at"

# A token names one device: registered by another account it moves there, as a new device
# row, so none of the previous account's delivery claims (keyed by its seqs) follow it.
TAKE_OVER_DEVICE = """
DELETE FROM push_devices WHERE platform = $2 AND token = $3 AND user_id <> $1
"""

UPSERT_DEVICE = f"""
INSERT INTO push_devices AS d (user_id, platform, token, p256dh, auth)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (platform, token) DO UPDATE SET p256dh = excluded.p256dh, auth = excluded.auth
RETURNING {DEVICE_COLUMNS}, (xmax = 0) AS created
"""

TRIM_DEVICES = """
DELETE FROM push_devices WHERE user_id = $1 AND id NOT IN (
    SELECT id FROM push_devices WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2
)
"""


async def add_device(
    pool: asyncpg.Pool,
    user_id: uuid.UUID,
    platform: str,
    token: str,
    p256dh: str | None = None,
    auth: str | None = None,
) -> asyncpg.Record:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(TAKE_OVER_DEVICE, user_id, platform, token)
        row = await conn.fetchrow(UPSERT_DEVICE, user_id, platform, token, p256dh, auth)
        await conn.execute(TRIM_DEVICES, user_id, MAX_DEVICES)
        return row


SELECT_DEVICES = f"""
SELECT {DEVICE_COLUMNS} FROM push_devices WHERE user_id = $1 ORDER BY created_at DESC, id DESC
"""


async def devices(pool: asyncpg.Pool, user_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(await pool.fetch(SELECT_DEVICES, user_id))


DELETE_DEVICE = "DELETE FROM push_devices WHERE id = $1 AND user_id = $2"


async def delete_device(pool: asyncpg.Pool, device_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    return await pool.execute(DELETE_DEVICE, device_id, user_id) == "DELETE 1"


# Everything one push needs, read once: the notification, its actor's name, the badge (seqs
# have no holes, so the unread count is last_seq - read_seq) and the recipient's settings.
SELECT_PUSH = """
SELECT n.type, n.post_id, n.comment_id, a.username AS actor_username,
       c.last_seq - c.read_seq AS badge, n.seq <= c.read_seq AS read, u.is_active,
       s.muted_types, s.quiet_start, s.quiet_end, s.time_zone
FROM notifications n
JOIN users u ON u.id = n.user_id
JOIN notification_counters c ON c.user_id = n.user_id
LEFT JOIN users a ON a.id = n.actor_id
LEFT JOIN notification_settings s ON s.user_id = n.user_id
WHERE n.user_id = $1 AND n.seq = $2
"""


async def push_info(pool: asyncpg.Pool, user_id: uuid.UUID, seq: int) -> asyncpg.Record | None:
    return await pool.fetchrow(SELECT_PUSH, user_id, seq)


# Claim (device, seq) for every device of the user, before sending: a new row, or one a
# provider deferred ('retry'). A row in any other state was sent, refused, or claimed by a
# try that may have sent it before it died: never again.
CLAIM_DELIVERIES = """
WITH claimed AS (
    INSERT INTO push_deliveries AS p (device_id, seq)
    SELECT id, $2 FROM push_devices WHERE user_id = $1
    ON CONFLICT (device_id, seq) DO UPDATE
    SET status = 'sending', attempts = p.attempts + 1, claimed_at = now()
    WHERE p.status = 'retry'
    RETURNING device_id, attempts
)
SELECT d.id, d.platform, d.token, d.p256dh, d.auth, c.attempts
FROM claimed c JOIN push_devices d ON d.id = c.device_id
"""


async def claim(pool: asyncpg.Pool, user_id: uuid.UUID, seq: int) -> list[asyncpg.Record]:
    return list(await pool.fetch(CLAIM_DELIVERIES, user_id, seq))


# Each claimed delivery's end: 'gone' deletes the device (and its claims with it).
RECORD_OUTCOMES = """
WITH o AS (
    SELECT * FROM unnest($2::uuid[], $3::text[]) AS o(device_id, kind)
), gone AS (
    DELETE FROM push_devices WHERE id IN (SELECT device_id FROM o WHERE kind = 'gone')
), pushed AS (
    UPDATE push_devices SET pushed_at = now()
    WHERE id IN (SELECT device_id FROM o WHERE kind = 'sent')
)
UPDATE push_deliveries p
SET status = o.kind, done_at = CASE WHEN o.kind = 'retry' THEN NULL ELSE now() END
FROM o WHERE p.device_id = o.device_id AND p.seq = $1 AND o.kind <> 'gone'
"""


async def record(pool: asyncpg.Pool, seq: int, outcomes: Mapping[uuid.UUID, str]) -> None:
    ids = list(outcomes)
    await pool.execute(RECORD_OUTCOMES, seq, ids, [outcomes[i] for i in ids])


DELETE_OLD_DELIVERIES = """
DELETE FROM push_deliveries WHERE claimed_at < now() - interval '7 days'
"""


async def prune_deliveries(pool: asyncpg.Pool) -> int:
    """Claims older than any retry of their job are no longer needed."""
    status = await pool.execute(DELETE_OLD_DELIVERIES)
    return int(status.split()[-1])
